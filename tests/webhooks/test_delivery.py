"""How an attempt goes out: to the checked address only, no redirects, no lock held while it waits,
and no failure of one delivery reaching the next."""

from typing import NoReturn

import pytest
from django.db import connections, transaction
from django.db.utils import OperationalError
from django.utils import timezone

from companies.models import Company
from tests.factories import CompanyFactory
from tests.webhooks.steps import deliver_next
from webhooks import services, transport
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_claim, webhook_deliver_batch

pytestmark = pytest.mark.django_db(transaction=True)


def outbox_row(url: str, company: Company | None = None) -> WebhookDelivery:
    """A due delivery as ``webhook_emit`` writes it, to any URL (even one PUT would refuse)."""
    company = company or CompanyFactory.create()
    WebhookEndpoint.objects.get_or_create(company=company, defaults={"url": url, "secret": "whsec_test"})
    row = WebhookDelivery(company=company, event="points.earned", url=url, next_attempt_at=timezone.now())
    row.payload = {
        "event": "points.earned",
        "webhook_id": row.id,
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {},
    }
    row.save(force_insert=True)
    return row


def deliver_all() -> None:
    while webhook_deliver_batch():
        pass


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(receiver, second_receiver):
    receiver.script = [("redirect", second_receiver.url)] * 4
    row = outbox_row(receiver.url)
    deliver_all()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("exhausted", 4, 302)
    assert "redirects are not followed" in row.last_error
    assert len(receiver.received) == 4 and second_receiver.received == []


def test_the_checked_address_is_the_one_connected_to_with_the_original_host(receiver, monkeypatch):
    lookups = []

    def resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(transport, "resolve", resolve)
    port = receiver.server.server_port
    row = outbox_row(f"http://hooks.example:{port}/hooks?k=1")
    deliver_all()
    row.refresh_from_db()
    assert row.status == "succeeded"
    assert lookups == ["hooks.example"]  # one lookup per attempt: no second one at connect time
    assert receiver.received[0]["headers"]["Host"] == f"hooks.example:{port}"


def test_a_name_rebound_to_a_private_address_is_refused_before_sending(receiver, monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    answers = iter([["93.184.216.34", "127.0.0.1"], ["127.0.0.1"]])
    monkeypatch.setattr(transport, "resolve", lambda host, port: next(answers))
    row = outbox_row(f"http://hooks.example:{receiver.server.server_port}/hooks")
    deliver_next()
    deliver_next()
    errors = [attempt.error for attempt in row.attempt_log.all()]
    assert len(errors) == 2 and all(
        error.startswith("refused: ") and "127.0.0.1" in error for error in errors
    )
    assert receiver.received == []


@pytest.mark.parametrize(
    "path", ["/a b", "/a\r\nX-Injected: 1", "/a\tb", "/a\x01b"], ids=["space", "crlf", "tab", "control"]
)
def test_a_url_that_cannot_be_sent_is_a_recorded_failure_and_the_next_row_still_goes(receiver, path):
    bad = outbox_row(f"http://127.0.0.1:{receiver.server.server_port}{path}")
    good = outbox_row(receiver.url)
    deliver_all()
    bad.refresh_from_db()
    good.refresh_from_db()
    assert good.status == "succeeded" and len(receiver.received) == 1
    assert (bad.status, bad.attempts) == ("exhausted", 4)
    assert all(attempt.error.startswith("refused: ") for attempt in bad.attempt_log.all())


def test_a_bad_port_is_a_recorded_failure(receiver):
    bad = outbox_row("http://127.0.0.1:99999/hooks")
    deliver_next()
    bad.refresh_from_db()
    assert bad.attempts == 1 and "port" in bad.last_error


def test_any_exception_while_delivering_is_recorded_on_the_row(receiver, monkeypatch):
    def explode(**kwargs: object) -> NoReturn:
        raise KeyError("something nobody foresaw")

    monkeypatch.setattr(services, "webhook_send", explode)
    row = outbox_row(receiver.url)
    delivered = deliver_next()
    assert delivered is not None
    row.refresh_from_db()
    assert (row.status, row.attempts, row.locked_until) == ("pending", 1, None)
    assert row.last_error == "KeyError: 'something nobody foresaw'"
    assert row.attempt_log.get().error == row.last_error


def test_no_lock_or_transaction_is_held_while_the_receiver_answers(receiver):
    row = outbox_row(receiver.url)

    def try_to_lock_the_row() -> str:
        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update(nowait=True).get(pk=row.pk)
            return "free"
        except OperationalError as exc:
            return f"locked: {exc}"
        finally:
            connections.close_all()

    receiver.during = try_to_lock_the_row
    deliver_next()
    assert receiver.during_results == ["free"]
    row.refresh_from_db()
    assert row.status == "succeeded" and row.lease == "" and row.locked_until is None


def test_a_leased_row_is_not_claimed_again():
    row = outbox_row("https://93.184.216.34/hooks")
    assert [claimed.pk for claimed in webhook_claim()] == [row.pk]
    assert webhook_claim() == []
    WebhookDelivery.objects.filter(pk=row.pk).update(locked_until=timezone.now())  # the lease ran out
    assert [claimed.pk for claimed in webhook_claim()] == [row.pk]


def test_one_companys_backlog_does_not_hold_back_another():
    busy = CompanyFactory.create()
    backlog = [outbox_row("https://93.184.216.34/busy", company=busy) for _ in range(5)]
    other = outbox_row("https://93.184.216.34/other")
    claimed = [row.pk for row in webhook_claim()]
    assert claimed == [backlog[0].pk, other.pk]  # one per company per batch, oldest first
