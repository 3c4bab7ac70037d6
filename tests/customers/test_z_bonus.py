"""The program's Z$ bonus on points earned: set by ops, credited through the ledger with the points
in one transaction, exact in micro-Z$, shown in points history and in ``points.earned``."""

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.test import Client

from companies.models import Company, LoyaltyProgram
from companies.services import loyalty_program_save
from core.events import published
from customers.models import Currency, Customer, EntryKind, LedgerEntry
from customers.selectors import ledger_mismatches
from customers.services import points_add
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory, make_key

pytestmark = pytest.mark.django_db

FORMATS = ["envelope", "root"]


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        seen.append((event, data))

    published.connect(record, dispatch_uid="test.z_bonus")
    yield seen
    published.disconnect(dispatch_uid="test.z_bonus")


def bonus_set(company: Company, per_point: str) -> None:
    """As the admin sets it: the keys' cached company (with its program) is forgotten."""
    program = LoyaltyProgram.objects.get(company=company)
    program.z_bonus_per_point = Decimal(per_point)
    loyalty_program_save(program=program)
    company.refresh_from_db()


def body_of(response: Any) -> Any:
    assert response.status_code == 200, response.content
    body = response.json()
    return body.get("data", body)


def history_rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    rows: list[dict[str, Any]] = body["data"] if "data" in body else body["results"]
    return rows


@pytest.mark.parametrize("response_format", FORMATS)
def test_points_add_credits_the_programs_z_bonus_exactly(company, events, response_format):
    # 0.000001 * 3 is 0.0000030000000000000001 in binary floating point: integers keep it exact.
    bonus_set(company, "0.000001")
    api = Api(make_key(company, response_format=response_format))
    customer = CustomerFactory.create(company=company, points=0)

    data = body_of(api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 3, "reason": "x"}))
    assert (data["amount"], data["balance_after"]) == (3, 3)
    bonus_set(company, "0.125000")
    body_of(api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 7, "reason": "Order #1"}))

    customer.refresh_from_db()
    assert (customer.points_balance, customer.z_balance) == (10, 3 + 875_000)
    assert ledger_mismatches() == []
    z_entries = LedgerEntry.objects.filter(customer=customer, currency=Currency.Z).order_by("id")
    assert [(e.kind, e.amount, e.balance_before, e.balance_after) for e in z_entries] == [
        (EntryKind.EARN, 3, 0, 3),
        (EntryKind.EARN, 875_000, 3, 875_003),
    ]
    assert body_of(api.get(f"/api/v2/customers/{customer.pk}/z-balance/"))["z_balance"] == "0.875003"
    assert body_of(api.get(f"/api/v2/customers/{customer.pk}/"))["zupy_balance"] == "0.875003"

    earned = [data for event, data in events if event == "points.earned"]
    assert [(e["points_added"], e["z_bonus"]) for e in earned] == [(3, "0.000003"), (7, "0.875000")]


@pytest.mark.parametrize("response_format", FORMATS)
def test_points_history_shows_the_bonus_beside_the_points(company, response_format):
    bonus_set(company, "2.5")
    api = Api(make_key(company, response_format=response_format))
    customer = CustomerFactory.create(company=company, points=0)
    body_of(api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 4, "reason": "Order #9"}))

    rows = history_rows(api.get(f"/api/v2/customers/{customer.pk}/points/history/"))
    assert [
        (
            r["activity_type"],
            r["points_amount"],
            r["balance_before"],
            r["balance_after"],
            r["z_amount"],
            r["description"],
        )
        for r in rows
    ] == [
        ("earn_zupys", 0, None, None, "10.000000", "Order #9"),  # the bonus, posted after the points
        ("change_points", 4, 0, 4, None, "Order #9"),
    ]


@pytest.mark.parametrize("response_format", FORMATS)
def test_without_a_bonus_nothing_but_points_moves(company, events, response_format):
    api = Api(make_key(company, response_format=response_format))
    customer = CustomerFactory.create(company=company, points=0)
    body_of(api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 5}))

    customer.refresh_from_db()
    assert customer.z_balance == 0
    assert not LedgerEntry.objects.filter(customer=customer, currency=Currency.Z).exists()
    assert [
        r["activity_type"] for r in history_rows(api.get(f"/api/v2/customers/{customer.pk}/points/history/"))
    ] == ["change_points"]
    ((_, data),) = [(e, d) for e, d in events if e == "points.earned"]
    assert data["z_bonus"] == "0.000000"


@pytest.mark.parametrize("response_format", FORMATS)
def test_z_balance_without_a_wallet_answers_as_the_document_declares(company, response_format):
    bonus_set(company, "1")
    api = Api(make_key(company, response_format=response_format))
    customer = CustomerFactory.create(company=company, points=0)
    body_of(api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 2}))

    data = body_of(api.get(f"/api/v2/customers/{customer.pk}/z-balance/"))
    # No on-chain wallet is kept here: the balance is our ledger's, and no Solana query ever failed.
    assert data == {"z_balance": "2.000000", "wallet_address": None, "has_wallet": False}


def test_a_refused_points_add_credits_no_bonus(api, company):
    bonus_set(company, "1")
    customer = CustomerFactory.create(company=company, points=0)
    Customer.objects.filter(pk=customer.pk).update(points_balance=10**9, points_earned=10**9)

    response = api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 1})

    assert response.status_code == 422, response.content
    customer.refresh_from_db()
    assert customer.z_balance == 0
    assert not LedgerEntry.objects.filter(customer=customer, currency=Currency.Z).exists()


def test_an_integration_order_earns_the_bonus_too(company):
    bonus_set(company, "0.01")
    customer = CustomerFactory.create(company=company, points=0)
    points_add(
        company=company,
        customer_id=customer.pk,
        amount=30,
        reason="order",
        api_key=None,
        source="integration:repediu",
        reference_id="repediu:1",
    )
    customer.refresh_from_db()
    assert customer.z_balance == 300_000


def test_ops_set_the_bonus_in_the_admin_within_its_bounds(client: Client, company: Company) -> None:
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    program = company.loyalty_program
    url = f"/admin/companies/loyaltyprogram/{program.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert "z_bonus_per_point" in form.fields
    fields = {name: form.initial.get(name, field.initial) for name, field in form.fields.items()}
    fields = {k: ("" if v is None else v) for k, v in fields.items()}
    fields["tier_definitions"] = json.dumps(program.tier_definitions)

    too_big = client.post(url, {**fields, "z_bonus_per_point": "1000.000001"})
    assert too_big.status_code == 200 and "z_bonus_per_point" in too_big.context["adminform"].form.errors
    saved = client.post(url, {**fields, "z_bonus_per_point": "0.5"})
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    program.refresh_from_db()
    assert program.z_bonus_per_point == Decimal("0.5")


def test_the_database_refuses_a_negative_bonus(company):
    with pytest.raises(IntegrityError), transaction.atomic():
        LoyaltyProgram.objects.filter(company=company).update(z_bonus_per_point=Decimal("-0.000001"))


def test_a_bad_points_add_is_still_a_4xx(api, customer):
    assert_problem(
        api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 0}), 422, "validation-error"
    )
