"""Marketing coupons: a reward claimed without points (``origin_type: marketing``), once per customer,
told apart from points redemptions in the listing, its filter and its stats."""

import pytest
from django.db import IntegrityError, transaction

from customers.models import LedgerEntry
from rewards.models import OriginType, Reward
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

GUIDE_DETAIL = "Prêmio gratuito já resgatado por este cliente"


def marketing_reward(company: object, **fields: object) -> Reward:
    return RewardFactory.create(
        company=company, name="Welcome drink", points_required=0, origin_type=OriginType.MARKETING, **fields
    )


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_a_marketing_reward_is_claimed_without_points_once(company, response_format):
    api = Api(make_key(company, response_format=response_format))
    customer = CustomerFactory.create(company=company, points=50)
    reward = marketing_reward(company)

    response = api.redeem(customer.pk, reward.pk)

    assert response.status_code == 200, response.content
    data = response.json().get("data", response.json())
    assert (data["points_used"], data["new_balance"], data["z_tokens_used"]) == (0, 50, "0.000000")
    assert not LedgerEntry.objects.filter(customer=customer, kind="redeem").exclude(amount=0).exists()
    listed = api.get("/api/v2/coupons/issued/", customer_id=customer.pk).json()["data"]
    assert [(c["coupon_code"], c["origin_type"], c["points_spent"]) for c in listed] == [
        (data["coupon_code"], "marketing", 0)
    ]

    again = api.redeem(customer.pk, reward.pk)

    body = assert_problem(again, 422, "validation-error", "already_redeemed")
    assert body["errors"] == [{"field": "reward_id", "detail": GUIDE_DETAIL}]
    assert len(api.get("/api/v2/coupons/issued/", customer_id=customer.pk).json()["data"]) == 1


def test_a_points_reward_past_its_limit_keeps_the_plain_refusal(api, company):
    customer = CustomerFactory.create(company=company, points=500)
    reward = RewardFactory.create(company=company, points_required=100, max_redemptions_per_customer=1)
    assert api.redeem(customer.pk, reward.pk).status_code == 200
    body = assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "already_redeemed")
    assert body["errors"] == []  # no free reward: not the guide's refusal


def test_a_marketing_reward_cannot_cost_points(company):
    with pytest.raises(IntegrityError), transaction.atomic():
        RewardFactory.create(company=company, points_required=10, origin_type=OriginType.MARKETING)


def test_rewards_say_their_origin_type(api, company):
    marketing_reward(company)
    RewardFactory.create(company=company, name="Pizza", points_required=300)
    rewards = api.get("/api/v2/rewards/").json()["data"]
    assert sorted((r["name"], r["origin_type"]) for r in rewards) == [
        ("Pizza", "loyalty_reward"),
        ("Welcome drink", "marketing"),
    ]


@pytest.fixture
def mixed(company: object) -> dict[str, list[str]]:
    """Two loyalty coupons (one used) and one marketing coupon."""
    customer = CustomerFactory.create(company=company)
    loyalty = RewardFactory.create(company=company, points_required=100)
    free = marketing_reward(company)
    made = {
        "loyalty_reward": [
            CouponFactory.create(customer=customer, reward=loyalty).pk,
            CouponFactory.create(customer=customer, reward=loyalty, status="used", remaining_usages=0).pk,
        ],
        "marketing": [CouponFactory.create(customer=customer, reward=free).pk],
    }
    return made


@pytest.mark.parametrize("response_format", ["envelope", "root"])
@pytest.mark.parametrize("origin", ["marketing", "loyalty_reward", "MARKETING"])
def test_the_listing_filters_by_origin_type(company, mixed, response_format, origin):
    api = Api(make_key(company, response_format=response_format))
    found = api.get("/api/v2/coupons/issued/", origin_type=origin).json()["data"]
    assert sorted(c["id"] for c in found) == sorted(mixed[origin.lower()])
    assert {c["origin_type"] for c in found} == {origin.lower()}


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_stats_count_by_origin_and_follow_the_filter(company, mixed, response_format):
    api = Api(make_key(company, response_format=response_format))
    stats = api.get("/api/v2/coupons/issued/stats/").json()["data"]
    assert stats["by_origin"] == {"loyalty_reward": 2, "marketing": 1}
    assert stats["total_issued"] == 3
    marketing = api.get("/api/v2/coupons/issued/stats/", origin_type="marketing").json()["data"]
    assert (marketing["total_issued"], marketing["by_origin"]) == (1, {"loyalty_reward": 0, "marketing": 1})


@pytest.mark.parametrize("path", ["/api/v2/coupons/issued/", "/api/v2/coupons/issued/stats/"])
def test_an_unknown_origin_type_is_refused_with_the_valid_values(api, mixed, path):
    body = assert_problem(api.get(path, origin_type="promo"), 422, "validation-error")
    ((error,),) = [[e for e in body["errors"] if e["field"] == "origin_type"]]
    assert "loyalty_reward" in error["detail"] and "marketing" in error["detail"]
