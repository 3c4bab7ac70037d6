"""The partner API's wallet operations: issue a pass (the loyalty card, a coupon), list a customer's
passes, one pass's status, where a customer installed them, and notifications into them
(docs/wallet.md)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import json_object
from core.pagination import PageQuery, paginate
from core.views import IDEMPOTENCY_KEY, ApiView, WriteView
from wallet.platforms import public_base_url
from wallet.selectors import wallet_devices, wallet_pass_list, wallet_pass_status
from wallet.serializers import (
    CouponPassIn,
    CouponPassOut,
    NotificationIn,
    NotificationOut,
    PassListOut,
    PassListQuery,
    PassStatusOut,
    WalletDevicesOut,
    WalletPassIn,
    WalletPassOut,
)
from wallet.services import IssuedPass, wallet_notification_send, wallet_pass_issue

EXISTING = "The pass issued before for this card or coupon and platform (one per pair): answered again."


def _issued(issued: IssuedPass, out: type[WalletPassOut]) -> Response:
    return Response(
        out(issued).data, status=status.HTTP_201_CREATED if issued.created else status.HTTP_200_OK
    )


class LoyaltyPassView(WriteView):
    """POST /api/v2/wallet/passes/loyalty/ — the customer's loyalty card as a wallet pass: 201 new,
    200 the one issued before."""

    @extend_schema(
        operation_id="wallet_passes_loyalty_create",
        request=WalletPassIn,
        responses={201: WalletPassOut, 200: OpenApiResponse(WalletPassOut, description=EXISTING)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request) -> Response:
        body = WalletPassIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        issued = wallet_pass_issue(
            company=partner_of(request).company,
            customer_id=body.validated_data["customer_id"],
            platform_name=body.validated_data["platform"],
            base_url=public_base_url(request),
        )
        return _issued(issued, WalletPassOut)


class CouponPassView(WriteView):
    """POST /api/v2/wallet/passes/coupons/ — one of the customer's active coupons as a wallet pass:
    201 new, 200 the one issued before; a used, expired or cancelled coupon is 409."""

    @extend_schema(
        operation_id="wallet_passes_coupons_create",
        request=CouponPassIn,
        responses={201: CouponPassOut, 200: OpenApiResponse(CouponPassOut, description=EXISTING)},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request) -> Response:
        body = CouponPassIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        issued = wallet_pass_issue(
            company=partner_of(request).company,
            customer_id=body.validated_data["customer_id"],
            coupon_ref=body.validated_data["coupon_id"],
            platform_name=body.validated_data["platform"],
            base_url=public_base_url(request),
        )
        return _issued(issued, CouponPassOut)


class PassListView(ApiView):
    """GET /api/v2/wallet/passes/?customer_id= — the customer's passes, newest first."""

    @extend_schema(
        operation_id="wallet_passes_retrieve",
        parameters=[PassListQuery, PageQuery],
        responses=PassListOut(many=True),
    )
    def get(self, request: Request) -> Response:
        query = PassListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        passes = wallet_pass_list(
            company=partner_of(request).company, customer_id=query.validated_data["customer_id"]
        )
        now = timezone.now()
        return paginate(
            request,
            passes,
            descending=True,
            serialize=lambda rows: PassListOut(rows, many=True, context={"now": now}).data,
            root_shape="results",
        )


class PassStatusView(ApiView):
    """GET /api/v2/wallet/passes/{pass_id}/status/ — active, voided or expired, and where installed."""

    @extend_schema(operation_id="wallet_passes_status_retrieve", responses=PassStatusOut)
    def get(self, request: Request, pass_id: str) -> Response:
        return Response(
            PassStatusOut(wallet_pass_status(company=partner_of(request).company, pass_id=pass_id)).data
        )


class WalletDevicesView(ApiView):
    """GET /api/v2/customers/{id}/wallet-devices/ — the Apple devices and Google passes where the
    customer holds this company's passes."""

    @extend_schema(operation_id="customers_wallet_devices_retrieve", responses=WalletDevicesOut)
    def get(self, request: Request, customer_id: str) -> Response:
        found = wallet_devices(company=partner_of(request).company, customer_id=customer_id)
        return Response(WalletDevicesOut(found).data)


class NotificationView(WriteView):
    """POST /api/v2/wallet/notifications/ — 202 queued: the message goes on every pass the customer
    holds of this company, delivered by the wallet worker (at most WALLET_NOTIFICATIONS_PER_HOUR an
    hour per customer; past that still 202, not delivered)."""

    @extend_schema(
        operation_id="wallet_notifications_create",
        request=NotificationIn,
        responses={202: NotificationOut},
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request) -> Response:
        body = NotificationIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        notification = wallet_notification_send(
            company=partner_of(request).company,
            customer_id=body.validated_data["customer_id"],
            notification_type=body.validated_data["type"],
            message=body.validated_data["message"],
        )
        return Response(NotificationOut(notification).data, status=status.HTTP_202_ACCEPTED)
