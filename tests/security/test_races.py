"""Races beyond the coupon: real threads on PostgreSQL."""

from io import StringIO

import pytest
from django.core.management import call_command

from coupons.errors import CouponNotCancellable
from coupons.models import Coupon, CouponStatus, CouponUse
from coupons.services import coupon_cancel
from customers.models import LedgerEntry
from tests.conftest import Api, run_together
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_points_adds_and_redeems_keep_the_ledger_exact():
    customer = CustomerFactory.create(points=500)
    reward = RewardFactory.create(company=customer.company, points_required=50)
    key = make_key(customer.company)
    calls = iter(["add", "redeem"] * 10)

    def one():
        api = Api(key)
        if next(calls) == "add":
            return "add", api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 10}).status_code
        return "redeem", api.redeem(customer.pk, reward.pk).status_code

    results = run_together(20, one)

    assert all(status == 200 for _, status in results), results
    customer.refresh_from_db()
    assert customer.points_balance == 500 + 10 * 10 - 50 * 10
    assert Coupon.objects.filter(customer=customer).count() == 10
    assert LedgerEntry.objects.filter(customer=customer, kind="redeem").count() == 10
    call_command("ledger_check", stdout=StringIO())


@pytest.mark.parametrize("attempt", range(5))
def test_a_concurrent_cancel_and_validate_of_one_coupon_have_one_winner(attempt):
    customer = CustomerFactory.create(points=1000)
    reward = RewardFactory.create(company=customer.company, points_required=100)
    key = make_key(customer.company)
    coupon_id = Api(key).redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    actions = iter(["cancel", "validate"])

    def one():
        if next(actions) == "cancel":
            try:
                coupon_cancel(coupon_id=coupon_id)
                return "cancel", "won"
            except CouponNotCancellable:
                return "cancel", "lost"
        status = Api(key).validate(customer.pk, coupon_id).status_code
        return "validate", "won" if status == 200 else "lost"

    outcome = dict(run_together(2, one))
    assert sorted(outcome.values()) == ["lost", "won"], outcome
    coupon = Coupon.objects.get(pk=coupon_id)
    if outcome["cancel"] == "won":
        assert (
            coupon.status == CouponStatus.CANCELLED and not CouponUse.objects.filter(coupon=coupon).exists()
        )
        customer.refresh_from_db()
        assert customer.points_balance == 1000
    else:
        assert coupon.status == CouponStatus.USED and CouponUse.objects.filter(coupon=coupon).count() == 1
    call_command("ledger_check", stdout=StringIO())


def test_a_used_coupon_cannot_be_cancelled_afterwards():
    coupon = CouponFactory.create(customer=CustomerFactory.create(points=10))
    Api(make_key(coupon.company)).validate(coupon.customer_id, coupon.pk)
    with pytest.raises(CouponNotCancellable):
        coupon_cancel(coupon_id=coupon.pk)
