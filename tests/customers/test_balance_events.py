"""Every change of a points balance tells its listeners: an admin's adjustment and a cancel's refund
emit ``points.earned`` / ``points.spent`` with the data a points add or a redemption carries, in the
change's transaction (so the webhook outbox and the wallet card follow, or neither does)."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from core.events import published
from coupons.services import coupon_cancel
from customers.models import Customer
from customers.services import customer_adjust_balance, points_add
from tests.conftest import Api
from tests.factories import CustomerFactory, RewardFactory
from tests.wallet.apns_rows import apple_pass
from wallet.models import WalletPass
from wallet.services import company_has_passes_forget
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_forget

pytestmark = pytest.mark.django_db


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        seen.append((event, data))

    published.connect(record, dispatch_uid="test.balance_events")
    yield seen
    published.disconnect(dispatch_uid="test.balance_events")


def points_events(seen: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(event, data) for event, data in seen if event.startswith("points.")]


def earned_keys(company: Any) -> set[str]:
    """The keys of a points add's ``points.earned``: the shape every other one must have."""
    other = CustomerFactory.create(company=company)
    seen: list[dict[str, Any]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        if event == "points.earned":
            seen.append(data)

    published.connect(record, dispatch_uid="test.earned_keys")
    try:
        points_add(company=company, customer_id=other.pk, amount=1, reason="shape", api_key=None)
    finally:
        published.disconnect(dispatch_uid="test.earned_keys")
    return set(seen[0])


def spent_keys(api: Api, company: Any) -> set[str]:
    """The keys of a redemption's ``points.spent``."""
    other = CustomerFactory.create(company=company, points=10)
    reward = RewardFactory.create(company=company, points_required=5)
    seen: list[dict[str, Any]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        if event == "points.spent":
            seen.append(data)

    published.connect(record, dispatch_uid="test.spent_keys")
    try:
        assert api.redeem(other.pk, reward.pk).status_code == 200
    finally:
        published.disconnect(dispatch_uid="test.spent_keys")
    return set(seen[0])


def test_an_adjustment_up_emits_points_earned_like_a_points_add(company, events):
    customer = CustomerFactory.create(company=company, points=100)
    events.clear()

    customer_adjust_balance(customer_id=customer.pk, points=25, reason="goodwill")

    ((event, data),) = points_events(events)
    assert event == "points.earned"
    assert (data["customer_id"], data["points_added"], data["new_balance"]) == (customer.pk, 25, 125)
    assert data["source"] == "admin_adjustment"
    assert data["reason"] == "goodwill"
    assert data["reference_id"] == data["activity_id"]  # the adjustment's ledger row
    assert set(data) == earned_keys(company)


def test_an_adjustment_down_emits_points_spent_like_a_redemption(api, company, events):
    customer = CustomerFactory.create(company=company, points=100)
    events.clear()

    customer_adjust_balance(customer_id=customer.pk, points=-40, reason="typo at the till")

    ((event, data),) = points_events(events)
    assert event == "points.spent"
    assert (data["points_spent"], data["new_balance"], data["source"]) == (40, 60, "admin_adjustment")
    assert data["coupon_id"] is None
    assert set(data) == spent_keys(api, company)


def test_a_z_only_adjustment_emits_no_points_event(company, events):
    customer = CustomerFactory.create(company=company, points=100)
    events.clear()
    customer_adjust_balance(customer_id=customer.pk, z_amount=5, reason="Z$ only")
    assert points_events(events) == []


def test_a_cancel_refund_emits_points_earned_for_the_coupon(api, company, events):
    customer = CustomerFactory.create(company=company, points=300)
    reward = RewardFactory.create(company=company, points_required=200)
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    events.clear()

    coupon_cancel(coupon_id=coupon_id)

    ((event, data),) = points_events(events)
    assert event == "points.earned"
    assert (data["points_added"], data["new_balance"]) == (200, 300)
    assert (data["source"], data["reference_id"]) == ("coupon_cancellation", coupon_id)
    assert set(data) == earned_keys(company)


def test_the_admin_form_adjustment_reaches_the_webhook_outbox_and_the_wallet_card(client, company):
    customer = CustomerFactory.create(company=company, points=100)
    WebhookEndpoint.objects.create(
        company=company, url="http://127.0.0.1:9/hook", secret="s" * 32, events=["points.spent"]
    )
    webhook_forget(company_id=company.pk)
    card = apple_pass(customer)
    company_has_passes_forget(company.pk)
    WalletPass.objects.filter(pk=card.pk).update(changed_at=timezone.now() - timedelta(days=1))
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    data = {
        "company": company.pk, "full_name": customer.full_name, "phone": customer.phone,
        "email": customer.email, "cpf": "", "tier": "default", "is_active": "on",
        "points_adjustment": "-30", "z_adjustment": "", "adjustment_reason": "returned dish",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip

    response = client.post(f"/admin/customers/customer/{customer.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Customer.objects.get(pk=customer.pk).points_balance == 70
    (delivery,) = WebhookDelivery.objects.filter(company=company, event="points.spent")
    assert delivery.payload["data"]["points_spent"] == 30
    card.refresh_from_db()
    assert card.changed_at > timezone.now() - timedelta(hours=1), "the loyalty card shows the new balance"
