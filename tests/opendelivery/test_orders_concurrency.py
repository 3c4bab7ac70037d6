"""Order events racing each other, at the services, on real transactions: the same order.created
twenty times at once credits once; creations and cancels of one order interleaved leave the order's
record and the ledger in agreement. (Through HTTP: test_orders_http.py.)"""

from decimal import Decimal

import pytest
from django.core.management import call_command

from customers.models import Customer, LedgerEntry
from opendelivery.models import OdOrder, OrderStatus
from opendelivery.orders import Handled, od_customer_event, od_merchant_configure
from tests.conftest import run_together
from tests.factories import CompanyFactory
from tests.opendelivery.test_orders_services import cancelled, created

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_identical_creations_at_once_credit_once():
    company = CompanyFactory.create()
    od_merchant_configure(company=company, points_per_unit=Decimal(1))

    results = run_together(20, lambda: od_customer_event(company=company, data=created("order-1")))

    assert results == [Handled.ACCEPTED] * 20
    customer = Customer.objects.get(company=company)
    assert customer.points_balance == 50
    assert LedgerEntry.objects.filter(customer=customer).count() == 1
    assert OdOrder.objects.get().status == OrderStatus.CREDITED
    call_command("ledger_check")


def test_creations_and_cancels_of_one_order_at_once_agree_with_the_ledger():
    company = CompanyFactory.create()
    od_merchant_configure(company=company, points_per_unit=Decimal(1))
    bodies = iter([created("order-1"), cancelled("order-1")] * 5)

    results = run_together(10, lambda: od_customer_event(company=company, data=next(bodies)))

    assert results == [Handled.ACCEPTED] * 10
    order = OdOrder.objects.get()
    assert order.status == OrderStatus.CANCELLED
    assert order.points_reversed == order.points_awarded  # nothing was spent meanwhile
    balance = Customer.objects.filter(company=company).values_list("points_balance", flat=True)
    assert list(balance) in ([], [0])
    call_command("ledger_check")
