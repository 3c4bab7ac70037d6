"""Balances and lifetime counters are 64-bit and bounded (core.money): crossing a bound is a 422
that writes nothing, never a database overflow (500); the CHECK constraints hold the same bounds."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from core.money import POINTS_MAX, Z_MICRO_MAX
from customers.errors import BalanceLimit
from customers.models import Currency, Customer, EntryKind, LedgerEntry
from customers.services import MAX_POINTS_BALANCE, customer_adjust_balance
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def add(api: Api, customer: Customer, amount: object) -> Any:
    return api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": amount})


def snapshot(customer: Customer) -> tuple[int, int, int, int, int]:
    row = Customer.objects.get(pk=customer.pk)
    return (row.points_balance, row.points_earned, row.points_spent, row.z_balance, row.ledger.count())


def test_lifetime_counters_go_past_32_bits(api, customer):
    Customer.objects.filter(pk=customer.pk).update(points_earned=2**31 - 10, points_spent=2**31 - 10)
    response = add(api, customer, 100)
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_earned) == (1100, 2**31 + 90)


def test_points_add_that_would_overflow_a_lifetime_counter_is_422_and_writes_nothing(api, customer):
    Customer.objects.filter(pk=customer.pk).update(points_earned=POINTS_MAX - 5)
    before = snapshot(customer)
    for _ in range(5):
        assert_problem(add(api, customer, 1_000_000), 422, "validation-error", "balance_limit")
    assert snapshot(customer) == before


def test_repeated_huge_points_adds_stop_at_the_cap_with_a_422(api, company):
    customer = CustomerFactory.create(company=company, points=MAX_POINTS_BALANCE - 1_500_000)
    assert add(api, customer, 1_000_000).status_code == 200
    before = snapshot(customer)
    for amount in (1_000_000, 1_000_000, 500_001):
        assert_problem(add(api, customer, amount), 422, "validation-error", "balance_limit")
    assert_problem(add(api, customer, 2**63), 422, "validation-error")
    assert snapshot(customer) == before


def test_a_z_adjustment_past_the_bound_is_refused_and_writes_nothing(customer):
    customer_adjust_balance(customer_id=customer.pk, z_amount=Decimal("999999999999.999999"), reason="top")
    before = snapshot(customer)
    with pytest.raises(BalanceLimit):
        customer_adjust_balance(customer_id=customer.pk, z_amount=Decimal("0.000002"), reason="one more")
    assert snapshot(customer) == before
    assert before[3] == Z_MICRO_MAX - 1


@pytest.mark.parametrize(
    "fields",
    [
        {"points_balance": POINTS_MAX + 1},
        {"points_earned": POINTS_MAX + 1},
        {"points_spent": POINTS_MAX + 1},
        {"z_balance": Z_MICRO_MAX + 1},
    ],
)
def test_the_database_refuses_a_customer_past_a_bound(customer, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=customer.pk).update(**fields)


@pytest.mark.parametrize(
    ("currency", "before", "amount"),
    [
        (Currency.POINTS, POINTS_MAX, 1),
        (Currency.Z, Z_MICRO_MAX, 1),
        (Currency.Z, 0, Z_MICRO_MAX + 1),
    ],
)
def test_the_database_refuses_a_ledger_row_past_a_bound(customer, currency, before, amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            company_id=customer.company_id, customer=customer, currency=currency, kind=EntryKind.ADJUST,
            amount=amount, balance_before=before, balance_after=before + amount,
        )  # fmt: skip
