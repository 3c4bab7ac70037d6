from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from core.money import Z_MICRO
from coupons.models import CODE_RE, Coupon
from customers.models import Currency, EntryKind, LedgerEntry
from customers.selectors import ledger_mismatches
from rewards.models import Reward
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


def test_redeem_creates_coupon_debits_points_and_writes_ledger(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=200, validity_days=30)
    before = timezone.now()

    response = api.redeem(customer.pk, reward.pk)

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert response.json()["meta"] == {}
    assert data["customer_id"] == customer.pk
    assert CODE_RE.match(data["coupon_code"])
    assert data["points_used"] == 200
    assert data["z_tokens_used"] == "0.000000"
    assert data["new_balance"] == 800
    assert data["new_z_balance"] is None
    assert data["valid_until"].endswith("Z") and data["created_at"].endswith("Z")
    coupon = Coupon.objects.get(code=data["coupon_code"])
    assert coupon.remaining_usages == coupon.total_usages_allowed == 1
    assert before + timedelta(days=30) <= coupon.valid_until <= timezone.now() + timedelta(days=30)
    entry = LedgerEntry.objects.get(coupon=coupon)
    assert (entry.currency, entry.kind, entry.amount) == (Currency.POINTS, EntryKind.REDEEM, -200)
    assert (entry.balance_before, entry.balance_after) == (1000, 800)
    reward.refresh_from_db()
    assert reward.quantity_redeemed == 1
    assert ledger_mismatches() == []


def test_multi_use_reward_gives_multi_use_coupon(api, customer):
    reward = RewardFactory.create(company=customer.company, total_usages_allowed=3)
    data = api.redeem(customer.pk, reward.pk).json()["data"]
    assert (data["remaining_usages"], data["total_usages_allowed"]) == (3, 3)


def test_z_tokens_cover_the_gap_with_markup_worked_example(api, company):
    customer = CustomerFactory.create(company=company, points=450, z=Decimal("1150"))
    reward = RewardFactory.create(company=company, points_required=500)

    data = api.redeem(customer.pk, reward.pk, use_z_tokens=True).json()["data"]

    assert data["points_used"] == 450
    assert data["z_tokens_used"] == "60.000000"
    assert data["new_balance"] == 0
    assert data["new_z_balance"] == "1090.000000"
    kinds = sorted(
        LedgerEntry.objects.filter(customer=customer, kind=EntryKind.REDEEM).values_list("currency", "amount")
    )
    assert kinds == [(Currency.POINTS, -450), (Currency.Z, -60 * Z_MICRO)]
    assert ledger_mismatches() == []


def test_use_z_tokens_with_enough_points_spends_no_z(api, company):
    customer = CustomerFactory.create(company=company, points=600, z=Decimal("10"))
    reward = RewardFactory.create(company=company, points_required=500)
    data = api.redeem(customer.pk, reward.pk, use_z_tokens=True).json()["data"]
    assert (data["points_used"], data["z_tokens_used"], data["new_z_balance"]) == (
        500,
        "0.000000",
        "10.000000",
    )


@override_settings(ZUPY_Z_MARKUP=Decimal("0.5"), ZUPY_Z_MAX_COVER=Decimal("0.5"))
def test_z_rules_follow_settings(api, company):
    customer = CustomerFactory.create(company=company, points=300, z=Decimal("1000"))
    reward = RewardFactory.create(company=company, points_required=500)
    data = api.redeem(customer.pk, reward.pk, use_z_tokens=True).json()["data"]
    assert data["z_tokens_used"] == "300.000000"


def test_insufficient_points_is_422_and_changes_nothing(api, company):
    customer = CustomerFactory.create(company=company, points=100)
    reward = RewardFactory.create(company=company, points_required=200)
    assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "insufficient_points")
    customer.refresh_from_db()
    assert customer.points_balance == 100
    assert not Coupon.objects.exists()
    reward.refresh_from_db()
    assert reward.quantity_redeemed == 0


def test_gap_over_twenty_percent_is_z_gap_too_large(api, company):
    customer = CustomerFactory.create(company=company, points=399, z=Decimal("1000"))
    reward = RewardFactory.create(company=company, points_required=500)
    assert_problem(
        api.redeem(customer.pk, reward.pk, use_z_tokens=True), 422, "validation-error", "z_gap_too_large"
    )


def test_not_enough_z_is_insufficient_z_balance(api, company):
    customer = CustomerFactory.create(company=company, points=450, z=Decimal("59.999999"))
    reward = RewardFactory.create(company=company, points_required=500)
    response = api.redeem(customer.pk, reward.pk, use_z_tokens=True)
    assert_problem(response, 422, "validation-error", "insufficient_z_balance")


def test_per_customer_limit_is_already_redeemed(api, customer):
    reward = RewardFactory.create(
        company=customer.company, points_required=100, max_redemptions_per_customer=2
    )
    assert api.redeem(customer.pk, reward.pk).status_code == 200
    assert api.redeem(customer.pk, reward.pk).status_code == 200
    assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "already_redeemed")


def test_free_reward_defaults_to_once_per_customer(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=0)
    data = api.redeem(customer.pk, reward.pk).json()["data"]
    assert (data["points_used"], data["new_balance"]) == (0, 1000)
    assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "already_redeemed")


def test_paid_reward_without_limit_can_be_redeemed_again(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    assert [api.redeem(customer.pk, reward.pk).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(
    "fields",
    [
        {"is_active": False},
        {"quantity_available": 0},
        {"start_date": timezone.now() + timedelta(days=1)},
        {"end_date": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["inactive", "out-of-stock", "not-started", "ended"],
)
def test_unavailable_reward_is_reward_unavailable(api, customer, fields):
    reward = RewardFactory.create(company=customer.company, **fields)
    assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "reward_unavailable")


def test_stock_is_taken_and_runs_out(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=10, quantity_available=2)
    assert api.redeem(customer.pk, reward.pk).status_code == 200
    assert api.redeem(customer.pk, reward.pk).status_code == 200
    assert_problem(api.redeem(customer.pk, reward.pk), 422, "validation-error", "reward_unavailable")
    reward.refresh_from_db()
    assert (reward.quantity_available, reward.quantity_redeemed) == (0, 2)


def test_unknown_customer_or_reward_is_404(api, customer):
    reward = RewardFactory.create(company=customer.company)
    assert_problem(api.redeem("2awTHloSJX7kGGprFerOOsvAAAA", reward.pk), 404, "not-found")
    assert_problem(api.redeem(customer.pk, "2awTHloSJX7kGGprFerOOsvAAAA"), 404, "not-found")
    assert_problem(api.redeem("not-a-ksuid", reward.pk), 404, "not-found")


def test_another_companys_customer_or_reward_is_404(api, customer):
    stranger = CustomerFactory.create(points=1000)
    their_reward = RewardFactory.create(company=stranger.company)
    our_reward = RewardFactory.create(company=customer.company)
    assert_problem(api.redeem(stranger.pk, our_reward.pk), 404, "not-found")
    assert_problem(api.redeem(customer.pk, their_reward.pk), 404, "not-found")
    assert Reward.objects.get(pk=their_reward.pk).quantity_redeemed == 0


def test_body_is_optional_and_validated(api, customer):
    reward = RewardFactory.create(company=customer.company, points_required=10)
    url = f"/api/v2/customers/{customer.pk}/rewards/{reward.pk}/redeem/"
    assert api.post(url).status_code == 200
    body = assert_problem(api.post(url, {"use_z_tokens": "maybe"}), 422, "validation-error")
    assert body["errors"][0]["field"] == "use_z_tokens"
    assert_problem(api.post(url, [1, 2]), 422, "validation-error")
    bad_json = api.client.post(url, data="{nope", content_type="application/json")
    assert_problem(bad_json, 400, "validation-error", "malformed_body")
    assert_problem(api.client.post(url, data="x=1", content_type="text/plain"), 415, "unsupported-media-type")


def test_read_only_key_cannot_redeem(customer):
    reward = RewardFactory.create(company=customer.company)
    reader = Api(make_key(customer.company, read_only=True))
    assert_problem(reader.redeem(customer.pk, reward.pk), 403, "permission-denied")
    assert not Coupon.objects.exists()


def test_coupon_code_collision_is_retried(api, customer, monkeypatch):
    reward = RewardFactory.create(company=customer.company, points_required=10)
    first = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_code"]
    codes = iter([first, first, "CZ-ABCDEFGH"])
    monkeypatch.setattr("coupons.services.coupon_code_generate", lambda: next(codes))
    data = api.redeem(customer.pk, reward.pk).json()["data"]
    assert data["coupon_code"] == "CZ-ABCDEFGH"
    assert Coupon.objects.count() == 2
    assert ledger_mismatches() == []


def test_companies_are_independent(customer):
    other_company = CompanyFactory.create()
    assert Api(make_key(other_company)).get("/api/v2/rewards/").json()["data"] == []
