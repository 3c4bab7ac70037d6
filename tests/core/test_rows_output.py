"""The catalog and the coupon lists render rows (``FastOutput.render_rows``), not model instances: each
page must be byte for byte what DRF's generic serializer makes of the instances it was read from, in
both response formats, over data that takes every branch of the fields (nulls, limits, dates either
side of now, every coupon status, text beyond ASCII)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers

from companies.models import Company
from coupons.api import CouponOut
from coupons.models import Coupon, CouponStatus
from coupons.selectors import coupon_list, coupons_taken_count
from coupons.services import coupon_cancel
from customers.models import Customer
from rewards.api import RewardOut
from rewards.models import DiscountType, OriginType, Reward, RewardType
from rewards.selectors import reward_catalog
from tests.conftest import Api
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def generic(serializer: serializers.Serializer, instance: Any) -> Any:
    """What DRF's own Serializer renders for one instance, field by field."""
    return serializers.Serializer.to_representation(serializer, instance)


@pytest.fixture
def varied(company: Company) -> dict[str, Any]:
    """Rewards and coupons over every branch the rendered fields have."""
    now = timezone.now()
    rewards = [
        RewardFactory.create(company=company, name="Café grátis ☕", description='Diz "olá"\n\ttab'),
        RewardFactory.create(company=company, points_required=0, origin_type=OriginType.MARKETING),
        RewardFactory.create(
            company=company,
            reward_type=RewardType.BIRTHDAY,
            monetary_value=Decimal("12.5"),
            discount_type=DiscountType.PERCENTAGE,
            discount_percentage=Decimal("7.25"),
            maximum_discount_value=Decimal("30"),
            max_redemptions_per_customer=3,
            quantity_available=5,
            image_url="https://cdn.example.com/r.png",
            start_date=now - DAY,
            end_date=now + DAY,
            total_usages_allowed=4,
        ),
        RewardFactory.create(company=company, quantity_available=0, points_required=50),
        RewardFactory.create(company=company, is_active=False, points_required=10),
        RewardFactory.create(company=company, start_date=now + DAY, points_required=20),
        RewardFactory.create(company=company, end_date=now - DAY, points_required=30),
        RewardFactory.create(
            company=company,
            discount_type=DiscountType.FIXED_AMOUNT,
            discount_fixed_amount=Decimal("0.01"),
            points_required=5000,
            max_redemptions_per_customer=1,
        ),
    ]
    ana = CustomerFactory.create(company=company, points=1000, full_name="Ana Luísa Ñúñez")
    bo = CustomerFactory.create(company=company, points=10)
    coupons = [
        CouponFactory.create(customer=ana, reward=rewards[0]),
        CouponFactory.create(customer=ana, reward=rewards[2], remaining_usages=2, usage_date=now - DAY),
        CouponFactory.create(
            customer=ana, reward=rewards[2], status=CouponStatus.USED, remaining_usages=0, usage_date=now
        ),
        CouponFactory.create(customer=ana, reward=rewards[1], valid_until=now - DAY),
        CouponFactory.create(customer=ana, reward=rewards[0], status=CouponStatus.EXPIRED),
        CouponFactory.create(customer=bo, reward=rewards[7], points_spent=0),
        CouponFactory.create(customer=bo, reward=rewards[1]),
    ]
    coupon_cancel(coupon_id=coupons[-1].pk)
    return {"rewards": rewards, "ana": ana, "bo": bo, "coupons": coupons}


def expected_pages(
    queryset: QuerySet[Any],
    out: type[serializers.Serializer],
    context: dict[str, Any],
    *,
    descending: bool,
    size: int,
) -> list[dict[str, Any]]:
    """Every page of ``queryset`` rendered from model instances, as the list answers it."""
    from core.pagination import encode_cursor

    instances = list(queryset.order_by("-id" if descending else "id"))
    pages = []
    for start in range(0, max(len(instances), 1), size):
        page = instances[start : start + size]
        has_next = start + size < len(instances)
        serializer = out(context=context)
        pages.append(
            {
                "data": [generic(serializer, instance) for instance in page],
                "meta": {
                    "cursor": encode_cursor(page[-1].id) if has_next else None,
                    "has_next": has_next,
                    "count": None,
                },
            }
        )
    return pages


def assert_pages_identical(api: Api, path: str, params: dict[str, Any], pages: list[dict[str, Any]]) -> None:
    from core.rendering import Envelope, EnvelopeJSONRenderer

    cursor = None
    for n, page in enumerate(pages):
        response = api.get(path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        want = EnvelopeJSONRenderer().render(Envelope(page))
        assert response.content == want, f"{path} {params} page {n + 1}"
        cursor = page["meta"]["cursor"]
    assert cursor is None


@pytest.mark.parametrize("response_format", ["envelope", "root"])
@pytest.mark.parametrize("size", [2, 20])
def test_the_catalog_pages_are_what_the_instances_render(company, varied, response_format, size):
    api = Api(make_key(company, response_format=response_format))
    ana: Customer = varied["ana"]
    context = {"now": timezone.now(), "company": company}
    for params, customer, redeemable in [
        ({}, None, False),
        ({"customer_id": ana.pk}, ana, False),
        ({"customer_id": ana.pk, "redeemable": "true"}, ana, True),
        ({"customer_id": varied["bo"].pk, "redeemable": "true"}, varied["bo"], True),
    ]:
        rewards: QuerySet[Reward] = reward_catalog(
            company=company,
            now=context["now"],
            coupons_taken_count=coupons_taken_count(customer) if customer else None,
            redeemable_by=customer if redeemable else None,
        )
        pages = expected_pages(rewards, RewardOut, context, descending=False, size=size)
        assert_pages_identical(api, "/api/v2/rewards/", {**params, "page_size": size}, pages)


@pytest.mark.parametrize("response_format", ["envelope", "root"])
@pytest.mark.parametrize("size", [2, 20])
def test_the_coupon_pages_are_what_the_instances_render(company, varied, response_format, size):
    api = Api(make_key(company, response_format=response_format))
    ana: Customer = varied["ana"]
    coupons: list[Coupon] = varied["coupons"]
    now = timezone.now()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/api/v2/coupons/issued/", {}),
        ("/api/v2/coupons/issued/", {"status": "expired"}),
        ("/api/v2/coupons/issued/", {"status": "cancelled"}),
        ("/api/v2/coupons/issued/", {"reward_id": varied["rewards"][2].pk}),
        ("/api/v2/coupons/issued/", {"origin_type": "marketing"}),
        ("/api/v2/coupons/issued/", {"code": coupons[1].code.lower()}),
        ("/api/v2/rewards/coupons/", {"customer_id": ana.pk}),
        ("/api/v2/rewards/coupons/", {"customer_id": ana.pk, "status": "active"}),
    ]
    for path, params in cases:
        listed = coupon_list(company=company, now=now, **params)
        pages = expected_pages(listed, CouponOut, {"now": now}, descending=True, size=size)
        assert pages[0]["data"], (path, params)
        assert_pages_identical(api, path, {**params, "page_size": size}, pages)


def test_every_rendered_column_is_read_and_nothing_else(company, varied):
    """The rows carry exactly what the fields and their methods read."""
    assert RewardOut.row_columns()[:2] == ("id", "name")
    assert "coupons_taken_count" in RewardOut.row_columns()
    assert set(CouponOut.row_columns()) == {
        "id", "code", "status", "remaining_usages", "total_usages_allowed", "valid_until", "reward__name",
        "reward_id", "customer_id", "customer__full_name", "points_spent", "origin_type", "created_at",
        "usage_date",
    }  # fmt: skip
