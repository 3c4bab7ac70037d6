import pytest
from django.core.management import call_command

from coupons.models import Coupon
from customers.models import LedgerEntry
from tests.conftest import Api, run_together
from tests.factories import CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db(transaction=True)


def test_ten_concurrent_redeems_by_a_customer_who_can_afford_two_give_two_coupons():
    customer = CustomerFactory.create(points=400)
    reward = RewardFactory.create(company=customer.company, points_required=200)
    key = make_key(customer.company)

    results = run_together(10, lambda: Api(key).redeem(customer.pk, reward.pk))

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 2 + [422] * 8
    assert {r.json()["code"] for r in results if r.status_code == 422} == {"insufficient_points"}
    customer.refresh_from_db()
    assert customer.points_balance == 0
    assert Coupon.objects.filter(customer=customer).count() == 2
    assert LedgerEntry.objects.filter(customer=customer, kind="redeem").count() == 2
    call_command("ledger_check")  # raises CommandError if any balance differs from its ledger


def test_concurrent_redeems_never_oversell_stock():
    reward = RewardFactory.create(points_required=1, quantity_available=3)
    customers = [CustomerFactory.create(company=reward.company, points=10) for _ in range(8)]
    key = make_key(reward.company)
    queue = iter(customers)

    def redeem_for_next_customer() -> int:
        return Api(key).redeem(next(queue).pk, reward.pk).status_code

    statuses = sorted(run_together(8, redeem_for_next_customer))
    assert statuses == [200] * 3 + [422] * 5
    reward.refresh_from_db()
    assert (reward.quantity_available, reward.quantity_redeemed) == (0, 3)
    call_command("ledger_check")
