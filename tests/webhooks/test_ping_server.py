"""The real API server (gunicorn, one process of four threads) while 16 test pings hit a receiver
that answers one byte at a time: another tenant's catalog keeps being answered, every ping is
answered within about one deadline, and at most one request thread is ever sending a ping."""

import itertools
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db import connection

from tests.e2e.servers import free_port, start_gunicorn, stop, wait_ready
from tests.factories import CompanyFactory, RewardFactory, make_key
from tests.webhooks.conftest import wait_until
from tests.webhooks.test_worker_faults import worker_env
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DEADLINE = 8.0


@pytest.fixture
def server() -> Iterator[str]:
    if connection.vendor != "postgresql":
        pytest.fail("the server process needs a database it can share with the test")
    with tempfile.TemporaryDirectory() as metrics:
        env = worker_env(
            WEBHOOK_TIMEOUT=str(DEADLINE),
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="4",
            PROMETHEUS_MULTIPROC_DIR=metrics,
            LOG_LEVEL="WARNING",
        )
        port = free_port()
        process = start_gunicorn(env, port)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", process=process)
            yield f"http://127.0.0.1:{port}/api/v2"
        finally:
            stop(process)


def test_parallel_pings_at_a_trickling_receiver_leave_the_other_tenants_served(server, trickle):
    pinging = []
    for _ in range(4):
        company = CompanyFactory.create()
        WebhookEndpoint.objects.create(company=company, url=trickle.url, secret="whsec_test")
        pinging.append(make_key(company))
    tenant = CompanyFactory.create()
    RewardFactory.create(company=tenant)
    tenant_key = make_key(tenant)

    answers: list[tuple[float, requests.Response | BaseException]] = []

    def ping(key: str) -> None:
        sent = time.monotonic()
        try:
            response = requests.post(
                f"{server}/integrations/webhooks/test/", headers={"X-API-Key": key}, timeout=DEADLINE + 20
            )
            answers.append((time.monotonic() - sent, response))
        except requests.RequestException as exc:
            answers.append((time.monotonic() - sent, exc))

    threads = [threading.Thread(target=ping, args=(key,)) for key in pinging for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_until(lambda: trickle.connections, timeout=10, what="a ping reaching the receiver")

    catalog: list[Any] = []
    for _ in range(8):
        try:
            catalog.append(
                requests.get(f"{server}/rewards/", headers={"X-API-Key": tenant_key}, timeout=3).status_code
            )
        except requests.Timeout:
            catalog.append("timed out")
        time.sleep(0.25)
    overlapped = trickle.connections[0].closed is None
    for thread in threads:
        thread.join(timeout=DEADLINE + 30)

    assert catalog == [200] * 8
    assert overlapped, "the catalog was asked while a ping was in flight"
    assert len(answers) == 16 and all(isinstance(answer, requests.Response) for _, answer in answers), answers
    responses: list[requests.Response] = [answer for _, answer in answers]  # type: ignore[misc]
    assert max(seconds for seconds, _ in answers) < DEADLINE + 5
    sent = [response for response in responses if response.status_code == 200]
    refused = [response for response in responses if response.status_code != 200]
    assert sent, "at least one ping went out"
    for response in sent:
        assert response.json()["data"]["success"] is False
        assert response.json()["data"]["error"].startswith("timed out")
    for response in refused:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert int(response.headers["Retry-After"]) >= 1
        body = response.json()
        assert (response.status_code, body["code"]) in {
            (429, "webhook_ping_in_flight"),
            (503, "webhook_pings_busy"),
        }, body
    # One request thread at a time sends a ping: the connections never overlapped.
    spans = sorted((c.opened, c.closed or time.monotonic()) for c in trickle.connections)
    assert len(spans) == len(sent)
    assert all(later[0] >= earlier[1] - 0.5 for earlier, later in itertools.pairwise(spans))
