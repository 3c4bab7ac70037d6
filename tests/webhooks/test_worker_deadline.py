"""The real worker process (``manage.py webhook_worker``, as the compose service runs it) against a
receiver that answers one byte at a time: the attempt ends at its deadline and is recorded failed,
the other companies' events arrive within about one deadline, and SIGTERM stops the worker at once,
in the middle of that attempt too."""

import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from tests.e2e.servers import ROOT
from tests.factories import CompanyFactory
from tests.webhooks.conftest import wait_until
from tests.webhooks.test_delivery import outbox_row
from tests.webhooks.test_worker_faults import worker_env
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def start_worker() -> Iterator:
    started: list[subprocess.Popen] = []

    def start(**settings: str) -> subprocess.Popen:
        if connection.vendor != "postgresql":
            pytest.fail("the worker process needs a database it can share with the test")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "webhook_worker"],
            cwd=ROOT, env=worker_env(**settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def stop_worker(process: subprocess.Popen, *, within: float) -> tuple[int, str]:
    """SIGTERM, then the exit status and stderr; fails if the worker is still running after
    ``within`` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker did not stop within {within} s of SIGTERM")
    return process.returncode, stderr


def test_a_trickling_receiver_delays_the_other_companies_by_at_most_one_deadline(
    start_worker, trickle, receiver
):
    deadline = 3.0
    # The trickling company's row is the oldest: it is the first of the first batch.
    slow = outbox_row(trickle.url)
    busy = CompanyFactory.create()
    busy_rows = [outbox_row(receiver.url, company=busy) for _ in range(3)]
    others = [outbox_row(receiver.url) for _ in range(5)]

    worker = start_worker(WEBHOOK_TIMEOUT=str(deadline), WEBHOOK_RETRY_DELAYS="60,60,60")
    wait_until(lambda: trickle.connections, timeout=60, what="the worker's first attempt")
    started = trickle.connections[0].opened
    wait_until(lambda: len(receiver.received) == 8, timeout=deadline + 20, what="the other companies' events")
    everyone_served = time.monotonic() - started
    wait_until(lambda: trickle.connections[0].closed, timeout=deadline + 20, what="the trickle cut off")

    # Within about one deadline of the trickling attempt's start (the slack is the machine's).
    assert everyone_served < deadline + 3, everyone_served
    served = [row.pk for row in [*busy_rows, *others]]
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk__in=served, status="succeeded", attempts=1).count() == 8,
        timeout=10, what="the deliveries recorded",
    )  # fmt: skip
    cut = trickle.connections[0]
    assert cut.hung_up and cut.sent >= 2, "the receiver was trickling when the worker hung up"
    assert deadline - 0.5 <= cut.closed - cut.opened < deadline + 3
    wait_until(
        lambda: WebhookDelivery.objects.filter(pk=slow.pk, attempts=1).exists(),
        timeout=10, what="the failed attempt recorded",
    )  # fmt: skip
    slow.refresh_from_db()
    (attempt,) = slow.attempt_log.all()
    assert (slow.status, slow.last_status_code, slow.lease) == ("pending", None, "")
    assert slow.last_error == attempt.error and attempt.error.startswith("timed out"), attempt.error
    assert deadline * 1000 - 500 <= attempt.duration_ms < (deadline + 3) * 1000
    assert len(trickle.connections) == 1, "the retry waits its delay (60 s here)"

    returncode, stderr = stop_worker(worker, within=10)
    assert returncode == 0, stderr


def test_sigterm_stops_the_worker_during_an_attempt_and_gives_the_row_back(start_worker, trickle):
    row = outbox_row(trickle.url)
    # A deadline far beyond the test: only SIGTERM can end this attempt in time.
    worker = start_worker(WEBHOOK_TIMEOUT="600")
    wait_until(
        lambda: trickle.connections and trickle.connections[0].sent >= 3,
        timeout=60, what="the attempt under way, the receiver trickling",
    )  # fmt: skip
    returncode, stderr = stop_worker(worker, within=10)

    assert returncode == 0, stderr
    assert trickle.connections[0].hung_up
    row.refresh_from_db()
    # Not counted against the receiver: the lease is given back and the row is due again at once.
    assert (row.status, row.attempts, row.lease, row.locked_until) == ("pending", 0, "", None)
    assert row.next_attempt_at <= timezone.now()
    (attempt,) = row.attempt_log.all()
    assert attempt.error.startswith("stopped:") and attempt.status_code is None
    assert len(trickle.connections) == 1
