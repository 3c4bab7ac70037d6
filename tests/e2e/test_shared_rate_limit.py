"""Two separate API server processes and one real Redis: they share one rate-limit budget."""

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.servers import free_port, manage_output, production_env, start_gunicorn, stop, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    data = tmp_path_factory.mktemp("ratelimit")
    env = production_env(
        "rate-limit-test",
        DATABASE_URL=f"sqlite:///{data}/db.sqlite3",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-test-{uuid.uuid4().hex}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
    )
    manage_output(env, "migrate", "--no-input", "-v", "0")
    company_id = json.loads(
        manage_output(
            env, "create_company", "Limited", "--email", "ola@limited.example.com", "--tier", "free"
        )
    )["company_id"]
    key = json.loads(manage_output(env, "create_api_key", company_id))["api_key"]
    ports = [free_port(), free_port()]
    procs = [start_gunicorn(env, port) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_ready(f"http://127.0.0.1:{port}/readyz", process=proc)
        yield [f"http://127.0.0.1:{port}/api/v2" for port in ports], key
    finally:
        for proc in procs:
            stop(proc)


def test_two_server_processes_share_one_budget_through_redis(two_servers):
    (first, second), key = two_servers
    if time.time() % 60 > 52:  # stay inside one one-minute window
        time.sleep(61 - time.time() % 60)
    headers = {"X-API-Key": key}
    statuses, remaining = [], []
    for index in range(80):
        base = first if index % 2 == 0 else second
        response = requests.get(f"{base}/rewards/", headers=headers, timeout=10)
        statuses.append(response.status_code)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert statuses.count(200) == 60 and statuses.count(429) == 20
    assert statuses[:60] == [200] * 60
    assert remaining[:60] == list(range(59, -1, -1)), "each server sees the other's requests"
    refused = requests.get(f"{second}/rewards/", headers=headers, timeout=10)
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
