from decimal import Decimal

import pytest

from core.money import Z_MICRO
from coupons.errors import CouponNotCancellable
from coupons.models import CouponStatus
from coupons.services import coupon_cancel
from customers.models import Customer, EntryKind, LedgerEntry
from customers.selectors import ledger_mismatches
from rewards.models import Reward
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db


def points_counters(api: Api, customer: Customer) -> tuple[int, int, int]:
    """(balance, earned, spent) as the partner reads them."""
    data = api.get(f"/api/v2/customers/{customer.pk}/points/").json()["data"]
    return data["points_balance"], data["points_earned"], data["points_spent"]


def test_cancel_refunds_points_and_z_and_returns_stock(api, company):
    customer = CustomerFactory.create(company=company, points=450, z=Decimal("1150"))
    reward = RewardFactory.create(company=company, points_required=500, quantity_available=5)
    before = points_counters(api, customer)
    data = api.redeem(customer.pk, reward.pk, use_z_tokens=True).json()["data"]
    assert points_counters(api, customer) == (0, before[1], before[2] + 450)

    coupon = coupon_cancel(coupon_id=data["coupon_id"])

    assert coupon.status == CouponStatus.CANCELLED
    assert points_counters(api, customer) == before, "a refund gives back what was spent, earns nothing"
    customer.refresh_from_db()
    assert (customer.points_balance, customer.z_balance) == (450, 1150 * Z_MICRO)
    refunds = LedgerEntry.objects.filter(coupon=coupon, kind=EntryKind.REFUND)
    assert sorted(refunds.values_list("currency", "amount")) == [("points", 450), ("z", 60 * Z_MICRO)]
    assert Reward.objects.values_list("quantity_available", "quantity_redeemed").get(pk=reward.pk) == (5, 0)
    assert ledger_mismatches() == []
    assert_problem(api.validate(customer.pk, coupon.pk), 409, "conflict", "coupon_cancelled")


def test_used_or_cancelled_coupon_cannot_be_cancelled(api, customer):
    reward = RewardFactory.create(company=customer.company, total_usages_allowed=2)
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    api.validate(customer.pk, coupon_id)
    with pytest.raises(CouponNotCancellable):
        coupon_cancel(coupon_id=coupon_id)
    other = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    coupon_cancel(coupon_id=other)
    with pytest.raises(CouponNotCancellable):
        coupon_cancel(coupon_id=other)
    assert ledger_mismatches() == []
