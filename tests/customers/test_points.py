from typing import Any

import pytest

from customers.models import LedgerEntry
from customers.selectors import ledger_mismatches
from tests.conftest import Api, assert_problem
from tests.factories import CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


def add(api: Api, customer_id: str, body: dict[str, Any]) -> Any:
    return api.post(f"/api/v2/customers/{customer_id}/points/add/", body)


def test_points_add_credits_and_answers_the_operation(api, customer):
    response = add(api, customer.pk, {"amount": 150, "reason": "Purchase #123"})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    entry = LedgerEntry.objects.get(pk=data["activity_id"])
    assert data == {
        "customer_id": customer.pk,
        "operation": "add",
        "amount": 150,
        "balance_before": 1000,
        "balance_after": 1150,
        "activity_id": entry.pk,
        "reason": "Purchase #123",
        "created_at": data["created_at"],
    }
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_earned) == (1150, 1150)
    assert entry.api_key is not None
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0},
        {"amount": -5},
        {"amount": 2**63},
        {"amount": "ten"},
        {"amount": 1.5},
        {},
        {"amount": 1, "reason": "x" * 256},
        {"amount": 1_000_001},
    ],
)
def test_points_add_refuses_bad_amounts_and_writes_nothing(api, customer, body):
    assert_problem(add(api, customer.pk, body), 422, "validation-error")
    assert LedgerEntry.objects.filter(customer=customer).count() == 1  # the factory's opening balance


def test_points_add_caps_the_balance(api, company):
    customer = CustomerFactory.create(company=company, points=999_999_999)
    assert_problem(add(api, customer.pk, {"amount": 2}), 422, "validation-error", "balance_limit")


def test_points_add_needs_a_write_key_and_this_companys_customer(api, customer):
    reader = Api(make_key(customer.company, read_only=True))
    assert_problem(add(reader, customer.pk, {"amount": 1}), 403, "permission-denied")
    assert_problem(add(api, CustomerFactory.create().pk, {"amount": 1}), 404, "not-found")


def test_history_is_newest_first_with_balances_before_and_after(api, customer):
    add(api, customer.pk, {"amount": 50, "reason": "visit"})
    reward = RewardFactory.create(company=customer.company, points_required=300)
    api.redeem(customer.pk, reward.pk)
    body = api.get(f"/api/v2/customers/{customer.pk}/points/history/", page_size=2).json()
    rows = body["data"]
    assert [
        (r["activity_type"], r["points_amount"], r["balance_before"], r["balance_after"]) for r in rows
    ] == [
        ("redeem_reward_code", -300, 1050, 750),
        ("change_points", 50, 1000, 1050),
    ]
    assert body["meta"]["has_next"] is True
    assert rows[0]["coupon_id"] is not None and rows[1]["description"] == "visit"
    rest = api.get(f"/api/v2/customers/{customer.pk}/points/history/", cursor=body["meta"]["cursor"]).json()
    assert [r["points_amount"] for r in rest["data"]] == [1000]
