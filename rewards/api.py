from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from customers.selectors import customer_get
from rewards.models import Reward
from rewards.selectors import reward_catalog
from rewards.services import reward_redeem
from zupy.api.inputs import JsonBooleanField, KsuidField, StrictBooleanField, json_object
from zupy.api.pagination import PAGE_PARAMS, PageQuery, paginate
from zupy.api.rendering import FastOutput, z_amount
from zupy.api.views import IDEMPOTENCY_KEY, OTP_SESSION, ApiView, WriteView, params_of
from zupy.errors import NotFound
from zupy.ids import is_ksuid


class CustomerQuery(serializers.Serializer):
    customer_id = KsuidField(required=False)


class CatalogQuery(CustomerQuery):
    redeemable = StrictBooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("redeemable") and not attrs.get("customer_id"):
            raise serializers.ValidationError({"customer_id": "Required when redeemable=true."})
        return attrs


class RewardOut(FastOutput):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    reward_type = serializers.CharField()
    points_required = serializers.IntegerField()
    monetary_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    validity_days = serializers.IntegerField()
    total_usages_allowed = serializers.IntegerField()
    max_redemptions_per_customer = serializers.IntegerField(source="redemption_limit", allow_null=True)
    is_available = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    already_redeemed = serializers.SerializerMethodField()
    quantity_available = serializers.IntegerField(allow_null=True)
    quantity_redeemed = serializers.IntegerField()
    discount_type = serializers.CharField()
    discount_percentage = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    discount_fixed_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    maximum_discount_value = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    image_url = serializers.SerializerMethodField()
    program_id = serializers.CharField(source="company_id")
    program_name = serializers.SerializerMethodField()
    start_date = serializers.DateTimeField(allow_null=True)
    end_date = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_is_available(self, reward: Reward) -> bool:
        return reward.is_available(self.context["now"])

    def get_already_redeemed(self, reward: Reward) -> bool:
        return getattr(reward, "redeemed_count", 0) > 0

    def get_image_url(self, reward: Reward) -> str | None:
        return reward.image_url or None

    def get_program_name(self, reward: Reward) -> str:
        return self.context["company"].name


class RewardListView(ApiView):
    """GET /api/v2/rewards/ — the catalog, enriched for ``customer_id``; ``redeemable=true`` filters."""

    query_params = params_of(CatalogQuery) | PAGE_PARAMS

    @extend_schema(
        operation_id="rewards_list", parameters=[CatalogQuery, PageQuery], responses=RewardOut(many=True)
    )
    def get(self, request: Request) -> Response:
        query = CatalogQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        company, now = request.user.company, timezone.now()
        customer_id = query.validated_data.get("customer_id")
        customer = customer_get(company=company, customer_id=customer_id) if customer_id else None
        rewards = reward_catalog(
            company=company, now=now, customer=customer, redeemable=query.validated_data["redeemable"]
        )
        context = {"now": now, "company": company}
        return paginate(
            request,
            rewards,
            descending=False,
            serialize=lambda rows: RewardOut(rows, many=True, context=context).data,
        )


class RewardDetailView(ApiView):
    """GET /api/v2/rewards/{id}/ — one reward (``customer_id`` enriches it as in the list)."""

    query_params = params_of(CustomerQuery)

    @extend_schema(operation_id="rewards_retrieve", parameters=[CustomerQuery], responses=RewardOut)
    def get(self, request: Request, reward_id: str) -> Response:
        query = CustomerQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        company, now = request.user.company, timezone.now()
        customer_id = query.validated_data.get("customer_id")
        customer = customer_get(company=company, customer_id=customer_id) if customer_id else None
        rewards = reward_catalog(company=company, now=now, customer=customer)
        reward = rewards.filter(pk=reward_id).first() if is_ksuid(reward_id) else None
        if reward is None:
            raise NotFound("Reward not found.")
        return Response(RewardOut(reward, context={"now": now, "company": company}).data)


class RedeemIn(serializers.Serializer):
    use_z_tokens = JsonBooleanField(required=False, default=False)


class RedeemOut(FastOutput):
    customer_id = serializers.CharField(source="customer.id")
    coupon_id = serializers.CharField(source="coupon.id")
    coupon_code = serializers.CharField(source="coupon.code")
    points_used = serializers.IntegerField()
    z_tokens_used = serializers.SerializerMethodField()
    new_balance = serializers.IntegerField(source="customer.points_balance")
    new_z_balance = serializers.SerializerMethodField()
    remaining_usages = serializers.IntegerField(source="coupon.remaining_usages")
    total_usages_allowed = serializers.IntegerField(source="coupon.total_usages_allowed")
    valid_until = serializers.DateTimeField(source="coupon.valid_until")
    created_at = serializers.DateTimeField(source="coupon.created_at")

    def get_z_tokens_used(self, redemption: Any) -> str | None:
        return z_amount(redemption.z_tokens_used)

    def get_new_z_balance(self, redemption: Any) -> str | None:
        # The guide: null unless the redemption was allowed to use Z$.
        return z_amount(redemption.customer.z_balance) if redemption.use_z_tokens else None


class RedeemView(WriteView):
    """POST /api/v2/customers/{id}/rewards/{reward_id}/redeem/"""

    @extend_schema(
        operation_id="rewards_redeem",
        request=RedeemIn,
        responses=RedeemOut,
        parameters=[IDEMPOTENCY_KEY, OTP_SESSION],
    )
    def post(self, request: Request, customer_id: str, reward_id: str) -> Response:
        body = RedeemIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        redemption = reward_redeem(
            company=request.user.company,
            customer_id=customer_id,
            reward_id=reward_id,
            use_z_tokens=body.validated_data["use_z_tokens"],
            api_key=request.auth,
            otp_session=request.headers.get("X-OTP-Session"),
        )
        return Response(RedeemOut(redemption).data)
