"""One attempt, one deadline: what the watchdog cuts off counts as a timeout however much of the
answer had arrived, a caller's stop ends an attempt at once, and a refused connection stays a
refused connection."""

import socket
import threading
import time

import pytest

from tests.webhooks.conftest import TrickleReceiver, wait_until
from tests.webhooks.steps import deliver_next
from tests.webhooks.test_delivery import outbox_row
from webhooks.services import webhook_send

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = {"event": "ping", "webhook_id": "0b6f8f9e-5c1d-4f0a-9a57-3c2a8d1e4b77", "data": {}}


def test_an_answer_cut_off_at_the_deadline_is_a_timeout_and_a_refused_connection_is_not(settings):
    # Fast enough that the status line is complete long before the deadline, then header after
    # header: http.client would take the cut (end of file) for the end of the headers.
    trickle = TrickleReceiver(interval=0.01)
    try:
        settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
        settings.WEBHOOK_TIMEOUT = 1.0
        row = outbox_row(trickle.url)
        deliver_next()
        row.refresh_from_db()
        assert (row.attempts, row.last_status_code) == (1, None)
        assert row.last_error.startswith("timed out"), row.last_error
        assert trickle.connections[0].sent > len("HTTP/1.1 200 OK\r\n")
    finally:
        trickle.shutdown()
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    # urllib3's NewConnectionError is a ConnectTimeoutError too; it is still reported as refused.
    refused = webhook_send(url=f"http://127.0.0.1:{port}/hooks", secret="whsec_test", payload=PAYLOAD)
    assert not refused.interrupted and refused.status_code is None
    assert "Connection refused" in refused.error and "timed out" not in refused.error


def test_a_stop_ends_an_attempt_at_once_and_says_so(trickle, settings):
    settings.WEBHOOK_TIMEOUT = 600.0
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    result = webhook_send(url=trickle.url, secret="whsec_test", payload=PAYLOAD, stop=stop)
    assert time.monotonic() - started < 5
    assert result.interrupted and result.status_code is None
    assert result.error.startswith("stopped:")
    wait_until(lambda: trickle.connections[0].hung_up, timeout=5, what="the receiver seeing the hang-up")
