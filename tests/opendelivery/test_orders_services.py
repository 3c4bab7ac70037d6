"""Accrual from OpenDelivery orders, at the services: the envelope's reading, the points an order
earns at the merchant's rate and rounding, the reversal of a cancel bounded by the balance, and the
configuration command. Through HTTP: test_orders_http.py."""

import json
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from companies.models import Company, LoyaltyProgram
from companies.services import loyalty_program_save
from core.events import published
from customers.models import Customer, LedgerEntry
from customers.selectors import ledger_mismatches
from opendelivery.errors import EventInvalid, EventTypeUnknown
from opendelivery.models import OdMerchant, OdOrder, OrderStatus
from opendelivery.orders import (
    Handled,
    customer_event_read,
    od_customer_event,
    od_merchant_configure,
)
from tests.factories import CompanyFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def created(order_id: str, cents: Any = 5000, **identifier: str) -> dict[str, Any]:
    kind, value = next(iter(identifier.items())) if identifier else ("phone", "+5511999998888")
    return {
        "id": f"evt-{order_id}",
        "eventType": "order.created",
        "occurredAt": "2026-07-19T12:00:00Z",
        "customerIdentifier": {"type": kind, "value": value},
        "orderId": order_id,
        "payload": {"id": order_id, "totalAmount": cents},
    }


def cancelled(order_id: str) -> dict[str, Any]:
    return {
        "id": f"evt-{order_id}-x",
        "eventType": "order.cancelled",
        "occurredAt": "2026-07-19T13:00:00Z",
        "orderId": order_id,
    }


@pytest.fixture
def merchant() -> Company:
    company = CompanyFactory.create()
    od_merchant_configure(company=company, points_per_unit=Decimal(1), rounding="down")
    return company


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        seen.append((event, data))

    published.connect(record, dispatch_uid="test.od_orders")
    yield seen
    published.disconnect(dispatch_uid="test.od_orders")


def customer_of(company: Company, phone: str = "+5511999998888") -> Customer:
    return Customer.objects.get(company=company, phone=phone)


# --- the envelope -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"eventType": None}, "eventType"),
        ({"eventType": 7}, "eventType"),
        ({"occurredAt": None}, "occurredAt"),
        ({"occurredAt": "2026-07-19"}, "occurredAt"),
        ({"occurredAt": "2026-07-19T12:00:00"}, "occurredAt"),  # no offset
        ({"occurredAt": "yesterday"}, "occurredAt"),
        ({"id": 12}, "id"),
        ({"id": "x" * 101}, "id"),
        ({"customerIdentifier": "+5511999998888"}, "customerIdentifier"),
        ({"customerIdentifier": {"type": "phone"}}, "customerIdentifier.value"),
        ({"customerIdentifier": {"type": 1, "value": "x"}}, "customerIdentifier.type"),
        ({"payload": {"id": 5, "totalAmount": 5000}}, "payload.id"),
        ({"customerIdentifier": {"type": "phone", "value": "not a phone"}}, "customerIdentifier.value"),
        ({"customerIdentifier": {"type": "email", "value": "nobody"}}, "customerIdentifier.value"),
        ({"orderId": None, "payload": {"totalAmount": 5000}}, "orderId"),
        ({"orderId": "a\x00b"}, "orderId"),
        ({"orderId": "other"}, "orderId"),  # payload.id names order-1
        ({"payload": []}, "payload"),
        ({"payload": {"id": "order-1"}}, "payload.totalAmount"),
        ({"payload": {"id": "order-1", "totalAmount": "5000"}}, "payload.totalAmount"),
        ({"payload": {"id": "order-1", "totalAmount": True}}, "payload.totalAmount"),
        ({"payload": {"id": "order-1", "totalAmount": 49.5}}, "payload.totalAmount"),
        ({"payload": {"id": "order-1", "totalAmount": -1}}, "payload.totalAmount"),
        ({"payload": {"id": "order-1", "totalAmount": 10**16}}, "payload.totalAmount"),
    ],
)
def test_a_malformed_envelope_is_refused_and_writes_nothing(merchant, change, field):
    body = {**created("order-1"), **change}
    with pytest.raises(EventInvalid) as refusal:
        od_customer_event(company=merchant, data=body)
    assert refusal.value.status == 400
    assert field in refusal.value.detail
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize("body", [[], "order.created", None, 5])
def test_a_body_that_is_not_an_object_is_refused(merchant, body):
    with pytest.raises(EventInvalid):
        customer_event_read(body)


def test_an_unknown_event_type_is_422_and_writes_nothing(merchant):
    with pytest.raises(EventTypeUnknown) as refusal:
        od_customer_event(company=merchant, data={**created("order-1"), "eventType": "order.refunded"})
    assert refusal.value.status == 422
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize(
    "event_type",
    ["order.delivered", "cart.abandoned", "customer.updated", "customer.consent.updated", "review.created"],
)
def test_the_standards_other_events_are_ignored(merchant, event_type):
    assert (
        od_customer_event(company=merchant, data={**created("o"), "eventType": event_type}) is Handled.IGNORED
    )
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


def test_an_integral_float_total_and_the_order_named_by_payload_alone_are_read():
    event = customer_event_read({**created("order-9", 4990.0), "orderId": None})
    assert (event.order_id, event.total_cents) == ("order-9", 4990)


# --- order.created ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "rounding", "cents", "points"),
    [
        ("1", "down", 8990, 89),
        ("1", "half_up", 8950, 90),
        ("1", "half_up", 8949, 89),
        ("1", "up", 8910, 90),
        ("0.5", "down", 5000, 25),
        ("2.5", "up", 101, 3),
    ],
)
def test_the_points_are_the_total_in_currency_at_the_merchants_rate_and_rounding(
    rate, rounding, cents, points
):
    company = CompanyFactory.create()
    od_merchant_configure(company=company, points_per_unit=Decimal(rate), rounding=rounding)
    od_customer_event(company=company, data=created("order-1", cents))
    assert customer_of(company).points_balance == points
    order = OdOrder.objects.get(company=company, order_id="order-1")
    assert (order.status, order.points_awarded, order.total_cents) == (OrderStatus.CREDITED, points, cents)


def test_an_order_enrols_a_new_customer_and_credits_once_with_points_earned(merchant, events):
    for _ in range(3):
        assert od_customer_event(company=merchant, data=created("order-1")) is Handled.ACCEPTED
    customer = customer_of(merchant)
    assert customer.points_balance == 50
    assert LedgerEntry.objects.filter(customer=customer).count() == 1
    earned = [data for name, data in events if name == "points.earned"]
    assert len(earned) == 1
    assert earned[0]["source"] == "opendelivery" and earned[0]["reference_id"] == "order-1"
    assert [name for name, _ in events].count("customer.enrolled") == 1
    assert OdOrder.objects.get().created_event_id == "evt-order-1"


def test_an_order_by_email_finds_the_existing_customer(merchant):
    known = CustomerFactory.create(company=merchant, email="maria@example.com", points=10)
    od_customer_event(company=merchant, data=created("order-1", email="Maria@Example.com"))
    known.refresh_from_db()
    assert known.points_balance == 60
    assert Customer.objects.filter(company=merchant).count() == 1


@pytest.mark.parametrize(
    "identifier", [{"document": "529.982.247-25"}, {"external_id": "c-1"}, {"custom": "loyalty-card 7"}]
)
def test_a_customer_named_by_a_document_or_an_external_id_is_skipped_and_recorded(merchant, identifier):
    known = CustomerFactory.create(company=merchant, cpf="52998224725")
    assert od_customer_event(company=merchant, data=created("order-1", **identifier)) is Handled.ACCEPTED
    order = OdOrder.objects.get()
    assert (order.status, order.customer, order.points_awarded) == (OrderStatus.NOTHING, None, 0)
    assert "only phone and email" in order.reason
    known.refresh_from_db()
    assert known.points_balance == 0
    assert Customer.objects.count() == 1


def test_an_order_without_a_customer_is_recorded(merchant):
    body = created("order-1")
    del body["customerIdentifier"]
    od_customer_event(company=merchant, data=body)
    assert OdOrder.objects.get().status == OrderStatus.NOTHING
    assert not Customer.objects.exists()


@pytest.mark.parametrize("configured", [False, True])
def test_without_a_rate_an_order_is_accepted_and_awards_nothing(configured):
    company = CompanyFactory.create()
    if configured:
        od_merchant_configure(company=company, points_per_unit=None)
    assert od_customer_event(company=company, data=created("order-1")) is Handled.ACCEPTED
    order = OdOrder.objects.get()
    assert (order.status, order.points_awarded) == (OrderStatus.NOTHING, 0)
    assert "no accrual rate" in order.reason
    assert not Customer.objects.exists()  # an order that awards nothing enrols nobody


def test_a_total_that_earns_no_points_or_more_than_one_award_is_recorded(merchant):
    od_customer_event(company=merchant, data=created("small", 99))
    od_customer_event(company=merchant, data=created("huge", 10**8 + 100))  # 1,000,001 points
    reasons = dict(OdOrder.objects.values_list("order_id", "reason"))
    assert "earns no points" in reasons["small"] and "at most 1000000" in reasons["huge"]
    assert not Customer.objects.exists()


def test_a_balance_at_its_cap_records_the_order_awarding_nothing(merchant):
    customer = CustomerFactory.create(company=merchant, phone="+5511999998888", points=10**9)
    od_customer_event(company=merchant, data=created("order-1"))
    order = OdOrder.objects.get()
    assert (order.status, order.points_awarded, order.customer_id) == (OrderStatus.NOTHING, 0, customer.pk)
    customer.refresh_from_db()
    assert customer.points_balance == 10**9
    assert ledger_mismatches() == []


def test_a_suspended_customer_earns_nothing(merchant):
    customer = CustomerFactory.create(company=merchant, phone="+5511999998888", is_active=False)
    od_customer_event(company=merchant, data=created("order-1"))
    order = OdOrder.objects.get()
    assert (order.status, order.customer_id, order.points_awarded) == (OrderStatus.NOTHING, customer.pk, 0)
    assert "suspended" in order.reason
    customer.refresh_from_db()
    assert customer.points_balance == 0


def test_orders_of_one_id_at_two_merchants_are_two_orders():
    first, second = CompanyFactory.create(), CompanyFactory.create()
    for company in (first, second):
        od_merchant_configure(company=company, points_per_unit=Decimal(1))
        od_customer_event(company=company, data=created("order-1"))
    assert customer_of(first).points_balance == customer_of(second).points_balance == 50


# --- order.cancelled ----------------------------------------------------------------------------
def test_a_cancel_takes_back_what_the_order_awarded_once(merchant, events):
    od_customer_event(company=merchant, data=created("order-1"))
    od_customer_event(company=merchant, data=created("order-2", 2000))
    for _ in range(2):
        assert od_customer_event(company=merchant, data=cancelled("order-1")) is Handled.ACCEPTED
    customer = customer_of(merchant)
    assert customer.points_balance == 20
    order = OdOrder.objects.get(order_id="order-1")
    assert (order.status, order.points_awarded, order.points_reversed) == (OrderStatus.CANCELLED, 50, 50)
    assert order.cancelled_event_id == "evt-order-1-x"
    spent = [data for name, data in events if name == "points.spent"]
    assert len(spent) == 1
    assert (spent[0]["points_spent"], spent[0]["source"], spent[0]["reference_id"]) == (
        50,
        "opendelivery",
        "order-1",
    )
    assert ledger_mismatches() == []


def test_a_cancel_after_the_points_were_spent_takes_back_what_the_balance_holds(merchant):
    od_customer_event(company=merchant, data=created("order-1"))
    customer = customer_of(merchant)
    from customers.services import customer_adjust_balance

    customer_adjust_balance(customer_id=customer.pk, points=-30, reason="spent elsewhere")
    od_customer_event(company=merchant, data=cancelled("order-1"))
    customer.refresh_from_db()
    assert customer.points_balance == 0
    order = OdOrder.objects.get()
    assert (order.points_awarded, order.points_reversed) == (50, 20)
    assert "30 points" in order.reason and "stays spent" in order.reason
    od_customer_event(company=merchant, data=cancelled("order-1"))  # again: nothing more
    order.refresh_from_db()
    assert order.points_reversed == 20
    assert ledger_mismatches() == []


def test_a_cancel_takes_back_the_programs_z_bonus_with_the_points(merchant):
    program = LoyaltyProgram.objects.get(company=merchant)
    program.z_bonus_per_point = Decimal("0.01")
    loyalty_program_save(program=program)
    merchant.refresh_from_db()
    od_customer_event(company=merchant, data=created("order-1"))
    customer = customer_of(merchant)
    assert customer.z_balance == 500_000  # 50 points x 0.01 Z$
    assert OdOrder.objects.get().z_awarded == 500_000
    od_customer_event(company=merchant, data=cancelled("order-1"))
    customer.refresh_from_db()
    assert (customer.points_balance, customer.z_balance) == (0, 0)
    assert OdOrder.objects.get().z_reversed == 500_000
    assert ledger_mismatches() == []


def test_a_cancel_of_an_order_never_seen_is_remembered_so_its_late_creation_awards_nothing(merchant):
    assert od_customer_event(company=merchant, data=cancelled("order-1")) is Handled.ACCEPTED
    od_customer_event(company=merchant, data=created("order-1"))
    order = OdOrder.objects.get()
    assert (order.status, order.points_awarded) == (OrderStatus.CANCELLED, 0)
    assert not Customer.objects.exists()


def test_a_cancel_of_an_order_that_awarded_nothing_changes_no_balance(merchant):
    customer = CustomerFactory.create(company=merchant, phone="+5511999998888", points=7)
    od_customer_event(company=merchant, data=created("order-1", 50))  # 0.50: no points
    od_customer_event(company=merchant, data=cancelled("order-1"))
    customer.refresh_from_db()
    assert customer.points_balance == 7
    assert OdOrder.objects.get().status == OrderStatus.CANCELLED


# --- configuration ------------------------------------------------------------------------------
def test_the_command_sets_and_turns_off_the_rate():
    company = CompanyFactory.create()
    out = StringIO()
    call_command(
        "configure_od_merchant",
        "--company",
        company.pk,
        "--points-per-unit",
        "1.5",
        "--rounding",
        "up",
        stdout=out,
    )
    shown = json.loads(out.getvalue())
    merchant = OdMerchant.objects.get(company=company)
    assert shown == {
        "company_id": company.pk,
        "external_code": str(merchant.external_code),
        "created": True,
        "points_per_unit": "1.5000",
        "rounding": "up",
    }
    out = StringIO()
    call_command("configure_od_merchant", "--company", company.pk, "--points-per-unit", "off", stdout=out)
    shown = json.loads(out.getvalue())
    assert (shown["created"], shown["points_per_unit"], shown["rounding"]) == (False, None, "up")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--company", "nope", "--points-per-unit", "1"], "No company"),
        (["--points-per-unit", "abc"], "Not a number"),
        (["--points-per-unit", "-1"], "greater than or equal to 0"),
    ],
)
def test_the_command_refuses_bad_values(args, message):
    company = CompanyFactory.create()
    full = args if "--company" in args else ["--company", company.pk, *args]
    with pytest.raises(CommandError, match=message):
        call_command("configure_od_merchant", *full, stdout=StringIO())
    assert not OdMerchant.objects.filter(company=company).exists()
