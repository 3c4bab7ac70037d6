"""POST /v2/loyalty/redemptions (createLoyaltyRedemption) and POST /v2/loyalty/coupons/{couponId}/use
(useLoyaltyCoupon)."""

from rest_framework.request import Request
from rest_framework.response import Response

from core.inputs import AsciiIntegerField, Input, JsonObjectField, JsonStringField, json_object
from opendelivery.auth import od_caller
from opendelivery.reads import od_context
from opendelivery.redemptions import od_coupon, od_coupon_use, od_redemption_request
from opendelivery.serializers import CouponOut
from opendelivery.views import OdView

# The column's bound (OdRedemption.related_order_id, OdCouponUse.related_order_id).
ORDER_ID_MAX = 100


class RedemptionIn(Input):
    """LoyaltyRedemptionRequest. ``quantity`` is read here and refused by the service unless 1."""

    accountId = JsonStringField(max_length=100)
    rewardId = JsonStringField(max_length=100)
    quantity = AsciiIntegerField(required=False, default=1)
    relatedOrderId = JsonStringField(required=False, default="", max_length=ORDER_ID_MAX)
    metadata = JsonObjectField(required=False, default=dict)


class RedemptionView(OdView):
    operations = {"post": "createLoyaltyRedemption"}

    def post(self, request: Request) -> Response:
        body = RedemptionIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        caller = od_caller(request)
        redemption = od_redemption_request(
            client=caller.client,
            company=caller.company,
            account_id=data["accountId"],
            reward_id=data["rewardId"],
            quantity=data["quantity"],
            related_order_id=data["relatedOrderId"],
            metadata=data["metadata"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response({"status": "ACCEPTED", "correlationId": str(redemption.pk)}, status=202)


class CouponUseIn(Input):
    relatedOrderId = JsonStringField(required=False, default="", max_length=ORDER_ID_MAX)


class CouponUseView(OdView):
    operations = {"post": "useLoyaltyCoupon"}

    def post(self, request: Request, coupon_ref: str) -> Response:
        body = CouponUseIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        caller = od_caller(request)
        use = od_coupon_use(
            client=caller.client,
            company=caller.company,
            coupon_ref=coupon_ref,
            related_order_id=body.validated_data["relatedOrderId"],
        )
        coupon = od_coupon(coupon_id=use.coupon_id)
        return Response(CouponOut(coupon, context=od_context(caller)).data)
