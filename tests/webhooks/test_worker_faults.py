"""The real worker process against receivers that misbehave on loopback: it survives all of them,
the well-behaved company's events arrive, and every bad row carries its recorded attempts."""

import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.conftest import Api
from tests.e2e.servers import ROOT, production_env
from tests.factories import CompanyFactory, CustomerFactory, make_key
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_delivery import outbox_row
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db(transaction=True)


class MalformedReceiver:
    """Accepts the request, answers with a status line that is not HTTP, and hangs up."""

    def __init__(self) -> None:
        self.connections = 0
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                self.request.recv(65536)
                self.request.sendall(b"HTTP/1.1 2OO NOT OK\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def worker_env(**settings: str) -> dict[str, str]:
    """The environment of a ``manage.py`` process as production starts it, on this test's database,
    with receivers on loopback allowed; ``settings`` on top."""
    db = connection.settings_dict
    return production_env(
        "worker",
        **{
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CACHE_URL": "locmemcache://worker",
            "WEBHOOK_TIMEOUT": "1",
            "WEBHOOK_RETRY_DELAYS": "0,0,0",
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOW_PRIVATE": "true",
            **settings,
        },
    )


def run_worker() -> subprocess.CompletedProcess:
    """``manage.py webhook_worker --once`` as the compose service runs it, on this test's database."""
    return subprocess.run(
        [sys.executable, "manage.py", "webhook_worker", "--once"],
        cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=180,
    )  # fmt: skip


@pytest.fixture
def receivers(receiver: Receiver) -> Iterator[dict[str, Receiver | MalformedReceiver]]:
    made: dict[str, Receiver | MalformedReceiver] = {
        "good": receiver,
        "hang": Receiver(),
        "redirect": Receiver(),
        "target": Receiver(),
        "sentinel": Receiver(),
    }
    made["malformed"] = MalformedReceiver()
    yield made
    for server in made.values():
        if server is not receiver:
            server.shutdown()


def test_the_worker_survives_bad_receivers_and_bad_rows_and_delivers_the_good_company(receivers):
    if connection.vendor != "postgresql":
        pytest.skip("the worker process needs a database it can share with the test")
    receivers["hang"].script = [("sleep", 3)] * 4  # longer than WEBHOOK_TIMEOUT=1
    receivers["redirect"].script = [("redirect", receivers["target"].url)] * 4
    sentinel_port = receivers["sentinel"].server.server_port
    # The bad rows are the oldest: before the change, the first of them stopped the worker for good.
    bad = {
        "malformed": outbox_row(receivers["malformed"].url),
        "hang": outbox_row(receivers["hang"].url),
        "redirect": outbox_row(receivers["redirect"].url),
    }
    unsendable = CompanyFactory.create()
    for path in ("/a b", "/a\r\nX-Injected: 1", "/a\x01b"):
        bad[repr(path)] = outbox_row(f"http://127.0.0.1:{sentinel_port}{path}", company=unsendable)
    bad["port"] = outbox_row("http://127.0.0.1:99999/hooks", company=unsendable)

    good = CompanyFactory.create()
    api = Api(make_key(good))
    assert (
        api.client.put(
            "/api/v2/integrations/webhooks/", {"webhook_url": receivers["good"].url}, format="json"
        ).status_code
        == 200
    )
    customer = CustomerFactory.create(company=good, points=0)
    for amount in (1, 2, 3):
        api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": amount})

    worker = run_worker()

    assert worker.returncode == 0, worker.stderr
    assert "attempt(s) made" in worker.stdout
    amounts = sorted(item["json"]["data"]["amount"] for item in receivers["good"].received)
    assert amounts == [1, 2, 3]
    assert set(WebhookDelivery.objects.filter(company=good).values_list("status", flat=True)) == {"succeeded"}
    assert receivers["target"].received == [] and receivers["sentinel"].received == []
    assert receivers["malformed"].connections == 4 and len(receivers["redirect"].received) == 4
    for name, row in bad.items():
        row.refresh_from_db()
        errors = [attempt.error for attempt in row.attempt_log.all()]
        assert (row.status, row.attempts, len(errors)) == ("exhausted", 4, 4), name
        assert all(errors), (name, errors)
    assert "timed out" in bad["hang"].last_error.lower()
    assert "302" in bad["redirect"].last_error
    assert bad["malformed"].last_error and bad["malformed"].last_status_code is None
    assert bad["port"].last_error.startswith("refused: ")
