"""Balances and lifetime counters are 64-bit and bounded (core.money): crossing a bound is a 422
that writes nothing, never a database overflow (500); the CHECK constraints hold the same bounds.
The product's caps (core.money: POINTS_BALANCE_MAX, POINTS_PER_ADD_MAX) hold wherever points come in:
points/add and the admin's adjustments."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from core.money import POINTS_BALANCE_MAX, POINTS_MAX, POINTS_PER_ADD_MAX, Z_MICRO_MAX
from customers.errors import BalanceLimit, PointsCapReached
from customers.models import Currency, Customer, EntryKind, LedgerEntry
from customers.services import customer_adjust_balance
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
    customer = CustomerFactory.create(company=company, points=POINTS_BALANCE_MAX - 1_500_000)
    assert add(api, customer, 1_000_000).status_code == 200
    before = snapshot(customer)
    for amount in (1_000_000, 1_000_000, 500_001):
        assert_problem(add(api, customer, amount), 422, "validation-error", "balance_limit")
    assert_problem(add(api, customer, 2**63), 422, "validation-error")
    assert snapshot(customer) == before


def test_one_points_add_is_at_most_the_per_add_cap(api, customer):
    assert add(api, customer, POINTS_PER_ADD_MAX).status_code == 200
    before = snapshot(customer)
    problem = assert_problem(add(api, customer, POINTS_PER_ADD_MAX + 1), 422, "validation-error")
    assert problem["errors"][0]["field"] == "amount"
    assert snapshot(customer) == before


def test_an_adjustment_past_the_balance_cap_is_refused_and_writes_nothing(customer):
    room = POINTS_BALANCE_MAX - customer.points_balance
    customer_adjust_balance(customer_id=customer.pk, points=room, reason="up to the cap")
    before = snapshot(customer)
    with pytest.raises(PointsCapReached):
        customer_adjust_balance(customer_id=customer.pk, points=1, reason="one more")
    assert snapshot(customer) == before
    assert before[0] == POINTS_BALANCE_MAX
    customer_adjust_balance(customer_id=customer.pk, points=-1, reason="taking away is always allowed")


def test_the_admin_refuses_an_adjustment_past_the_balance_cap_as_a_form_error(admin_client, customer):
    before = snapshot(customer)
    data = {
        "full_name": customer.full_name, "phone": customer.phone, "email": customer.email, "cpf": "",
        "is_active": "on", "points_adjustment": str(POINTS_BALANCE_MAX - customer.points_balance + 1),
        "adjustment_reason": "goodwill", "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["points_adjustment"] == [PointsCapReached.default_detail]
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
