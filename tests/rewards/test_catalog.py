from datetime import timedelta

import pytest
from django.utils import timezone

from coupons.models import CouponStatus
from coupons.selectors import coupons_taken, coupons_taken_count
from coupons.services import coupon_cancel
from rewards.api import RewardListView
from rewards.selectors import reward_catalog
from tests.conftest import assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db

UPSTREAM_REQUIRED = {
    "already_redeemed", "created_at", "description", "discount_fixed_amount", "discount_percentage",
    "discount_type", "end_date", "id", "image_url", "is_active", "is_available", "maximum_discount_value",
    "monetary_value", "name", "points_required", "program_id", "program_name", "quantity_available",
    "quantity_redeemed", "reward_type", "start_date", "updated_at", "validity_days",
}  # fmt: skip


def test_catalog_lists_rewards_with_the_guides_and_upstreams_fields(api, company):
    reward = RewardFactory.create(company=company, name="Free Dessert", points_required=200, validity_days=30)
    response = api.get("/api/v2/rewards/")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"cursor": None, "has_next": False, "count": None}
    (item,) = body["data"]
    assert UPSTREAM_REQUIRED | {"total_usages_allowed"} <= set(item)
    assert item["id"] == reward.pk
    assert (item["name"], item["points_required"], item["validity_days"]) == ("Free Dessert", 200, 30)
    assert item["is_available"] is True
    assert item["already_redeemed"] is False
    assert (item["program_id"], item["program_name"]) == (
        company.loyalty_program.pk,
        company.loyalty_program.name,
    )


def test_already_redeemed_reflects_the_customers_coupons(api, customer):
    redeemed = RewardFactory.create(company=customer.company)
    cancelled = RewardFactory.create(company=customer.company)
    fresh = RewardFactory.create(company=customer.company)
    CouponFactory.create(customer=customer, reward=redeemed)
    coupon_cancel(coupon_id=CouponFactory.create(customer=customer, reward=cancelled).pk)

    data = api.get("/api/v2/rewards/", customer_id=customer.pk).json()["data"]

    flags = {item["id"]: item["already_redeemed"] for item in data}
    assert flags == {redeemed.pk: True, cancelled.pk: False, fresh.pk: False}


def test_is_available_follows_active_dates_and_stock(api, company):
    now = timezone.now()
    rewards = {
        "ok": RewardFactory.create(company=company),
        "inactive": RewardFactory.create(company=company, is_active=False),
        "future": RewardFactory.create(company=company, start_date=now + timedelta(days=1)),
        "past": RewardFactory.create(company=company, end_date=now - timedelta(days=1)),
        "sold-out": RewardFactory.create(company=company, quantity_available=0),
        "in-window": RewardFactory.create(
            company=company, start_date=now - timedelta(days=1), end_date=now + timedelta(1)
        ),
    }
    data = {item["id"]: item["is_available"] for item in api.get("/api/v2/rewards/").json()["data"]}
    assert {name: data[reward.pk] for name, reward in rewards.items()} == {
        "ok": True, "inactive": False, "future": False, "past": False, "sold-out": False, "in-window": True,
    }  # fmt: skip


def test_redeemable_keeps_what_the_customer_can_afford_and_may_still_redeem(api, company):
    customer = CustomerFactory.create(company=company, points=300)
    affordable = RewardFactory.create(company=company, points_required=300)
    too_dear = RewardFactory.create(company=company, points_required=301)
    RewardFactory.create(company=company, points_required=10, is_active=False)
    free_taken = RewardFactory.create(company=company, points_required=0)
    CouponFactory.create(customer=customer, reward=free_taken)
    free_open = RewardFactory.create(company=company, points_required=0)
    capped = RewardFactory.create(company=company, points_required=10, max_redemptions_per_customer=1)
    CouponFactory.create(customer=customer, reward=capped)

    data = api.get("/api/v2/rewards/", customer_id=customer.pk, redeemable="true").json()["data"]

    assert [item["id"] for item in data] == [affordable.pk, free_open.pk]
    all_ids = [item["id"] for item in api.get("/api/v2/rewards/", customer_id=customer.pk).json()["data"]]
    assert too_dear.pk in all_ids


def test_python_requests_spelling_of_true_is_accepted(api, customer):
    RewardFactory.create(company=customer.company, points_required=1)
    response = api.get("/api/v2/rewards/", customer_id=customer.pk, redeemable="True")
    assert len(response.json()["data"]) == 1


def test_redeemable_needs_customer_id(api):
    body = assert_problem(api.get("/api/v2/rewards/", redeemable="true"), 422, "validation-error")
    assert body["errors"] == [{"field": "customer_id", "detail": "Required when redeemable=true."}]


@pytest.mark.parametrize("params", [{"customer_id": "short"}, {"redeemable": "perhaps"}, {"page_size": "0"}])
def test_bad_query_parameters_are_422(api, params):
    assert_problem(api.get("/api/v2/rewards/", **params), 422, "validation-error")


def test_unknown_or_foreign_customer_is_404(api):
    stranger = CustomerFactory.create()
    assert_problem(api.get("/api/v2/rewards/", customer_id=stranger.pk), 404, "not-found")
    assert_problem(api.get("/api/v2/rewards/", customer_id="2awTHloSJX7kGGprFerOOsvAAAA"), 404, "not-found")


def test_catalog_shows_only_the_keys_company(api, company):
    ours = RewardFactory.create(company=company)
    RewardFactory.create()
    assert [item["id"] for item in api.get("/api/v2/rewards/").json()["data"]] == [ours.pk]


def test_reward_detail(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=200)
    CouponFactory.create(customer=customer, reward=reward)
    response = api.get(f"/api/v2/rewards/{reward.pk}/", customer_id=customer.pk)
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {}
    assert body["data"]["id"] == reward.pk
    assert body["data"]["already_redeemed"] is True
    assert api.get(f"/api/v2/rewards/{reward.pk}/").json()["data"]["already_redeemed"] is False


def test_reward_detail_of_another_company_or_unknown_is_404(api):
    assert_problem(api.get(f"/api/v2/rewards/{RewardFactory.create().pk}/"), 404, "not-found")
    assert_problem(api.get("/api/v2/rewards/2awTHloSJX7kGGprFerOOsvAAAA/"), 404, "not-found")
    assert_problem(api.get("/api/v2/rewards/whatever/"), 404, "not-found")


def test_catalog_costs_a_constant_number_of_queries(api, customer, django_assert_max_num_queries):
    for _ in range(30):
        RewardFactory.create(company=customer.company)
    api.get("/api/v2/rewards/")  # warm up
    with django_assert_max_num_queries(3):
        response = api.get("/api/v2/rewards/", customer_id=customer.pk, page_size=30)
    assert len(response.json()["data"]) == 30


def test_the_catalog_counts_coupons_taken_under_the_one_name_the_coupons_app_gives_it(company, customer):
    """``coupons_taken`` (the coupons, cancelled ones excluded) counted per reward row is the catalog's
    ``coupons_taken_count``, handed in by that name from the selector to the view."""
    reward = RewardFactory.create(company=company)
    CouponFactory.create_batch(2, customer=customer, reward=reward)
    CouponFactory.create(customer=customer, reward=reward, status=CouponStatus.CANCELLED)
    rows = reward_catalog(
        company=company, now=timezone.now(), coupons_taken_count=coupons_taken_count(customer)
    )
    counted = [vars(row)["coupons_taken_count"] for row in rows]  # an annotation: the stubs do not know it
    assert counted == [coupons_taken(customer=customer, reward=reward).count()] == [2]
    assert RewardListView.as_view(coupons_taken_count=coupons_taken_count)
