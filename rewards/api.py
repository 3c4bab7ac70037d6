from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Expression
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import Input, KsuidField, StrictBooleanField
from core.pagination import PageQuery, paginate
from core.rendering import FastOutput
from core.views import ApiView
from customers.models import Customer
from customers.selectors import customer_get
from rewards.models import Reward
from rewards.selectors import reward_catalog, reward_get


class CustomerQuery(Input):
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
    origin_type = serializers.CharField()
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
    program_id = serializers.SerializerMethodField()
    program_name = serializers.SerializerMethodField()
    start_date = serializers.DateTimeField(allow_null=True)
    end_date = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    # The methods read a reward, or a row of ``row_columns()`` (the list): only the attributes both have.
    row_reads = (
        "is_active", "start_date", "end_date", "quantity_available", "coupons_taken_count", "image_url",
    )  # fmt: skip

    def get_is_available(self, reward: Reward) -> bool:
        return Reward.available_at(
            self.context["now"],
            is_active=reward.is_active,
            start_date=reward.start_date,
            end_date=reward.end_date,
            quantity_available=reward.quantity_available,
        )

    def get_already_redeemed(self, reward: Reward) -> bool:
        return getattr(reward, "coupons_taken_count", 0) > 0

    def get_image_url(self, reward: Reward) -> str | None:
        return reward.image_url or None

    # The key's company, cached with its one program: no query per reward.
    def get_program_id(self, reward: Reward) -> str:
        return self.context["company"].loyalty_program.id

    def get_program_name(self, reward: Reward) -> str:
        return self.context["company"].loyalty_program.name


class CatalogView(ApiView):
    """The catalog's views, enriched for a ``customer_id`` with what the customer has redeemed.

    ``coupons_taken_count`` (customer -> an expression counting, per reward row, the coupons that
    customer has taken of it) is handed in by the URL conf (``as_view(coupons_taken_count=...)``): the
    count is the coupons app's rule, and rewards/ imports nothing from coupons/."""

    reads_from_replica = True

    coupons_taken_count: Callable[[Customer], Expression] | None = None

    def parse(
        self, request: Request, query_class: type[CustomerQuery]
    ) -> tuple[dict[str, Any], Customer | None]:
        """The valid query and the customer it names (404 for another company's), or None."""
        query = query_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        customer_id = query.validated_data.get("customer_id")
        if not customer_id:
            return query.validated_data, None
        return query.validated_data, customer_get(
            company=partner_of(request).company, customer_id=customer_id
        )

    def coupons_taken_count_of(self, customer: Customer | None) -> Expression | None:
        if customer is None:
            return None
        if self.coupons_taken_count is None:
            raise ImproperlyConfigured(f"{type(self).__name__}.as_view() needs coupons_taken_count.")
        return self.coupons_taken_count(customer)


class RewardListView(CatalogView):
    """GET /api/v2/rewards/ — the catalog, enriched for ``customer_id``; ``redeemable=true`` filters."""

    @extend_schema(
        operation_id="rewards_list", parameters=[CatalogQuery, PageQuery], responses=RewardOut(many=True)
    )
    def get(self, request: Request) -> Response:
        query, customer = self.parse(request, CatalogQuery)
        company, now = partner_of(request).company, timezone.now()
        rewards = reward_catalog(
            company=company,
            now=now,
            coupons_taken_count=self.coupons_taken_count_of(customer),
            redeemable_by=customer if query["redeemable"] else None,
            columns=RewardOut.row_columns(),
        )
        context = {"now": now, "company": company}
        return paginate(
            request,
            rewards,
            descending=False,
            serialize=lambda rows: RewardOut.render_rows(rows, context=context),
        )


class RewardDetailView(CatalogView):
    """GET /api/v2/rewards/{id}/ — one reward (``customer_id`` enriches it as in the list)."""

    @extend_schema(operation_id="rewards_retrieve", parameters=[CustomerQuery], responses=RewardOut)
    def get(self, request: Request, reward_id: str) -> Response:
        _, customer = self.parse(request, CustomerQuery)
        company, now = partner_of(request).company, timezone.now()
        reward = reward_get(
            company=company,
            now=now,
            reward_id=reward_id,
            coupons_taken_count=self.coupons_taken_count_of(customer),
        )
        return Response(RewardOut(reward, context={"now": now, "company": company}).data)
