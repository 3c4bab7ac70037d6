from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import AnyCaseChoiceField, Input, JsonBooleanField, KsuidField, json_object
from core.money import z_format
from core.pagination import PageQuery, paginate
from core.rendering import ConstantField, Envelope, FastOutput
from core.views import IDEMPOTENCY_KEY, OTP_SESSION, ApiView, WriteView
from coupons.models import Coupon, CouponStatus
from coupons.selectors import coupon_list, coupon_stats
from coupons.services import coupon_redeem, coupon_validate
from customers.selectors import customer_get
from rewards.models import OriginType


class CouponQuery(Input):
    customer_id = KsuidField(required=False)
    status = AnyCaseChoiceField(choices=CouponStatus.choices, required=False)
    reward_id = KsuidField(required=False)
    code = serializers.CharField(required=False, max_length=20)
    origin_type = AnyCaseChoiceField(choices=OriginType.choices, required=False)


class CustomerCouponQuery(CouponQuery):
    customer_id = KsuidField(required=True)


class CouponOut(FastOutput):
    id = serializers.CharField()
    coupon_code = serializers.CharField(source="code")
    status = serializers.SerializerMethodField()
    status_display = serializers.SerializerMethodField()
    remaining_usages = serializers.IntegerField()
    total_usages_allowed = serializers.IntegerField()
    valid_until = serializers.DateTimeField()
    reward_name = serializers.CharField(source="reward.name")
    reward_id = serializers.CharField()
    customer_id = serializers.CharField()
    customer_name = serializers.CharField(source="customer.full_name")
    points_spent = serializers.IntegerField()
    origin_type = serializers.CharField()
    redemption_date = serializers.DateTimeField(source="created_at")
    usage_date = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    # The methods read a coupon, or a row of ``row_columns()`` (the lists): only the attributes both have.
    row_reads = ("status",)

    def get_status(self, coupon: Coupon) -> str:
        return Coupon.status_at(self.context["now"], status=coupon.status, valid_until=coupon.valid_until)

    def get_status_display(self, coupon: Coupon) -> str:
        return str(CouponStatus(self.get_status(coupon)).label)


def _filtered(
    request: Request, query_class: type[CouponQuery], columns: tuple[str, ...] | None = None
) -> tuple[Any, Any]:
    query = query_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    filters = dict(query.validated_data)
    company, now = partner_of(request).company, timezone.now()
    if filters.get("customer_id"):
        customer_get(company=company, customer_id=filters["customer_id"])  # 404 for a stranger
    return coupon_list(company=company, now=now, columns=columns, **filters), now


@extend_schema_view(
    get=extend_schema(
        operation_id="coupons_issued_list",
        parameters=[CouponQuery, PageQuery],
        responses=CouponOut(many=True),
    )
)
class CouponListView(ApiView):
    """GET /api/v2/coupons/issued/ (and the guide's /api/v2/rewards/coupons/, customer_id required).

    ``status`` filters by what the partner sees: a coupon past valid_until is expired."""

    reads_from_replica = True

    query_class: type[CouponQuery] = CouponQuery

    def get(self, request: Request) -> Response:
        coupons, now = _filtered(request, self.query_class, CouponOut.row_columns())
        return paginate(
            request,
            coupons,
            descending=True,
            serialize=lambda rows: CouponOut.render_rows(rows, context={"now": now}),
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="rewards_coupons_list",
        parameters=[CustomerCouponQuery, PageQuery],
        responses=CouponOut(many=True),
    )
)
class CustomerCouponListView(CouponListView):
    query_class = CustomerCouponQuery


class CouponStatsOut(serializers.Serializer):
    total_issued = serializers.IntegerField()
    used = serializers.IntegerField()
    usage_rate = serializers.FloatField(help_text="used / total_issued * 100")
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_origin = serializers.DictField(child=serializers.IntegerField())


class CouponStatsView(ApiView):
    """GET /api/v2/coupons/issued/stats/ — counts over the same filters as the listing."""

    reads_from_replica = True

    @extend_schema(operation_id="coupons_issued_stats", parameters=[CouponQuery], responses=CouponStatsOut)
    def get(self, request: Request) -> Response:
        coupons, now = _filtered(request, CouponQuery)
        # {data, meta} in both formats: the upstream document keeps the envelope for this one answer.
        stats = CouponStatsOut(coupon_stats(queryset=coupons, now=now)).data
        return Response(Envelope(data=stats, meta={}))


class ValidateOut(FastOutput):
    customer_id = serializers.CharField(source="customer.id")
    coupon_id = serializers.CharField(source="coupon.id")
    coupon_code = serializers.CharField(source="coupon.code")
    status = ConstantField("validated")
    remaining_usages = serializers.IntegerField(source="coupon.remaining_usages")
    total_usages_allowed = serializers.IntegerField(source="coupon.total_usages_allowed")
    validated_at = serializers.DateTimeField(source="use.used_at")
    new_balance = serializers.IntegerField(source="customer.points_balance")
    new_z_balance = serializers.SerializerMethodField()

    def get_new_z_balance(self, validation: Any) -> str:
        return z_format(validation.customer.z_balance)


class ValidateView(WriteView):
    """POST /api/v2/customers/{id}/coupons/{coupon_id}/validate/ — empty body; id or code, any case."""

    takes_body = False

    @extend_schema(
        operation_id="coupons_validate",
        request=None,
        responses=ValidateOut,
        parameters=[IDEMPOTENCY_KEY, OTP_SESSION],
    )
    def post(self, request: Request, customer_id: str, coupon_ref: str) -> Response:
        validation = coupon_validate(
            company=partner_of(request).company,
            customer_id=customer_id,
            coupon_ref=coupon_ref,
            api_key=partner_of(request).api_key,
            otp_session=request.headers.get("X-OTP-Session"),
        )
        return Response(ValidateOut(validation).data)


class RedeemIn(Input):
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
        return z_format(redemption.z_tokens_used)

    def get_new_z_balance(self, redemption: Any) -> str | None:
        # The guide: null unless the redemption was allowed to use Z$.
        return z_format(redemption.customer.z_balance) if redemption.use_z_tokens else None


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
        redemption = coupon_redeem(
            company=partner_of(request).company,
            customer_id=customer_id,
            reward_id=reward_id,
            use_z_tokens=body.validated_data["use_z_tokens"],
            api_key=partner_of(request).api_key,
            otp_session=request.headers.get("X-OTP-Session"),
        )
        return Response(RedeemOut(redemption).data)
