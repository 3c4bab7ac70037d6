"""A body whose processing fails as a whole is tried again on INTEGRATION_RETRY_DELAYS' schedule, then
left exhausted with its reason, in the admin, where ops can queue it again; a body that kills its
worker counts its attempts too. What one order holds never fails its batch."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from integrations import services
from integrations.models import BatchStatus, InboundBatch, OrderOutcome, Outcome
from integrations.services import inbound_batch_process
from tests.integrations.test_inbound import REPEDIU, balance, order, sale, worker_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "pw"))
    return client


def test_a_body_that_fails_as_a_whole_is_retried_on_the_schedule_then_exhausted(
    settings, monkeypatch, shop, partner, repediu, admin_client
):
    settings.INTEGRATION_RETRY_DELAYS = [60.0, 3600.0]

    def database_gone(**kwargs: Any) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(services, "_order_process", database_gone)
    batch_id = partner.post(REPEDIU, [sale(1, "+5511987654321", "10.00")]).json()["data"]["id"]

    assert "1 attempt(s) made" in worker_once()
    batch = InboundBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.attempts) == (BatchStatus.PENDING, 1)
    assert "the database went away" in batch.last_error
    assert batch.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert worker_once().startswith("integration_worker: 0 attempt(s)"), "not before its delay"

    InboundBatch.objects.filter(pk=batch_id).update(next_attempt_at=timezone.now())
    assert "1 attempt(s) made" in worker_once()
    batch.refresh_from_db()
    assert batch.attempts == 2 and batch.next_attempt_at > timezone.now() + timedelta(minutes=59)

    InboundBatch.objects.filter(pk=batch_id).update(next_attempt_at=timezone.now())
    worker_once()
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == (BatchStatus.EXHAUSTED, 3)
    assert batch.last_error == "Gave up after 3 attempts: ConnectionError: the database went away"
    InboundBatch.objects.filter(pk=batch_id).update(next_attempt_at=timezone.now() - timedelta(days=1))
    assert worker_once().startswith("integration_worker: 0 attempt(s)"), "exhausted is terminal"

    listing = admin_client.get("/admin/integrations/inboundbatch/", {"status": "exhausted"})
    assert listing.status_code == 200
    assert batch_id in listing.content.decode() and "Gave up after 3 attempts" in listing.content.decode()

    # The database is back; ops process it again from the admin.
    monkeypatch.undo()
    answer = admin_client.post(
        "/admin/integrations/inboundbatch/",
        {"action": "process_again", "_selected_action": [batch_id]},
    )
    assert answer.status_code == 302
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == (BatchStatus.PENDING, 0)
    worker_once()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PROCESSED
    assert balance(shop, "+5511987654321") == 10


def test_a_body_that_kills_its_worker_is_exhausted_after_the_schedule(
    settings, monkeypatch, partner, repediu
):
    settings.INTEGRATION_RETRY_DELAYS = [0.0]

    def killed(**kwargs: Any) -> None:
        raise KeyboardInterrupt  # what the worker sees of a SIGKILL: nothing after this point runs

    monkeypatch.setattr(services, "_order_process", killed)
    batch_id = partner.post(REPEDIU, [sale(1, "+5511987654321", "10.00")]).json()["data"]["id"]
    for attempt in (1, 2):
        # Claimed (a lease), then the worker dies in it; the lease expires and another worker takes it.
        InboundBatch.objects.filter(pk=batch_id).update(lease=f"w{attempt}", locked_until=timezone.now())
        with pytest.raises(KeyboardInterrupt):
            inbound_batch_process(batch_id=batch_id, lease=f"w{attempt}")
        assert InboundBatch.objects.get(pk=batch_id).attempts == attempt
    InboundBatch.objects.filter(pk=batch_id).update(lease="w3", locked_until=timezone.now())
    inbound_batch_process(batch_id=batch_id, lease="w3")
    batch = InboundBatch.objects.get(pk=batch_id)
    assert batch.status == BatchStatus.EXHAUSTED
    assert batch.last_error == (
        "Gave up after 2 attempts: attempt 2 did not finish (the worker stopped while processing it)"
    )
    assert not OrderOutcome.objects.exists()


def test_a_lost_lease_processes_nothing(partner, repediu):
    batch_id = partner.post(REPEDIU, [sale(1, "+5511987654321", "10.00")]).json()["data"]["id"]
    InboundBatch.objects.filter(pk=batch_id).update(lease="theirs", locked_until=timezone.now())
    inbound_batch_process(batch_id=batch_id, lease="mine")
    batch = InboundBatch.objects.get(pk=batch_id)
    assert (batch.status, batch.attempts) == (BatchStatus.PENDING, 0)
    assert not OrderOutcome.objects.exists()


def test_totals_that_are_not_plain_numbers_fail_their_order_and_never_the_batch(shop, partner, repediu):
    body = [
        sale(1, "+5511987654321", "1e-999999999"),  # PostgreSQL's numeric cannot hold it
        sale(2, "+5511987654321", "٣"),  # Decimal() reads Arabic-Indic digits as 3
        sale(3, "+5511987654321", "1_000"),  # ...and underscores as Python literals
        sale(4, "+5511987654321", "12.345"),
        sale(5, "+5511987654321", "5,50"),
        sale(6, "+5511987654321", 7.25),
    ]
    assert partner.post(REPEDIU, body).status_code == 200
    assert "1 attempt(s) made" in worker_once()
    assert InboundBatch.objects.get().status == BatchStatus.PROCESSED
    outcomes = {o.order_id: o for o in OrderOutcome.objects.all()}
    assert [outcomes[str(n)].outcome for n in range(1, 7)] == [
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.FAILED,
        Outcome.CREDITED,
        Outcome.CREDITED,
        Outcome.CREDITED,
    ]
    assert all("is not a number" in outcomes[n].reason for n in ("1", "2", "3"))
    assert [str(outcomes[n].amount) for n in ("4", "5", "6")] == ["12.35", "5.50", "7.25"]
    assert balance(shop, "+5511987654321") == 12 + 5 + 7


def test_a_boolean_total_says_it_is_a_boolean(partner, generic):
    body = [order("B-1", True, phone="+5511987654321"), order("B-2", None, phone="+5511987654321")]  # type: ignore[arg-type]
    assert partner.post("/api/v2/webhooks/integrations/my-pos/", body).status_code == 200
    worker_once()
    reasons = dict(OrderOutcome.objects.values_list("order_id", "reason"))
    assert reasons["B-1"] == (
        'order_total must be the order total as a number or a decimal string (e.g. "89.90"), not a boolean.'
    )
    assert reasons["B-2"] == 'order_total is required: the order total, e.g. "89.90".'
    assert not Customer.objects.exists()


def test_an_order_with_half_a_character_or_a_float_id_fails_with_its_reason(shop, partner, repediu):
    body = (
        b'[{"id_venda": "\\ud800", "Valor": "1", "Celular": "+5511987654321"},'
        b' {"id_venda": 2, "Valor": "1", "Celular": "+5511987654321", "cliente": "Jo\\udfffo"},'
        b' {"id_venda": 1.5, "Valor": "1", "Celular": "+5511987654321"},'
        b' {"id_venda": 4, "Valor": "3", "Celular": "+5511987654321"}]'
    )
    assert partner.client.post(REPEDIU, body, content_type="application/json").status_code == 200
    worker_once()
    outcomes = list(OrderOutcome.objects.order_by("position").values_list("outcome", "reason"))
    assert outcomes == [
        (Outcome.FAILED, "id_venda contains a lone UTF-16 surrogate, which is not text."),
        (Outcome.FAILED, "cliente contains a lone UTF-16 surrogate, which is not text."),
        (Outcome.FAILED, "id_venda must be a string (or an integer)."),
        (Outcome.CREDITED, ""),
    ]
    assert balance(shop, "+5511987654321") == 3
