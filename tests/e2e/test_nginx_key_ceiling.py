"""compose's nginx (deploy/nginx.conf) holds a key over its coarse per-key ceiling to that ceiling, refuses
what is beyond its burst itself, with the API's 429 problem+json, and keeps serving every other key."""

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.nginx import start_nginx
from tests.e2e.servers import free_port, manage_output, production_env, start_gunicorn, stop, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def behind_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    data: Path = tmp_path_factory.mktemp("ceiling")
    env = production_env(
        "ceiling-test",
        DATABASE_URL=f"sqlite:///{data}/db.sqlite3",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-test-{uuid.uuid4().hex}",
        RATE_LIMIT_ENTERPRISE=str(10**9),  # the application lets everything through: nginx refuses
        TRUSTED_PROXY_COUNT="1",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
    )
    manage_output(env, "migrate", "--no-input", "-v", "0")
    company_id = json.loads(
        manage_output(
            env, "create_company", "Busy", "--email", "ola@busy.example.com", "--tier", "enterprise"
        )
    )["company_id"]
    keys = [json.loads(manage_output(env, "create_api_key", company_id))["api_key"] for _ in range(3)]
    port = free_port()
    server = start_gunicorn(env, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server)
        proxy, proxy_port = start_nginx(data / "nginx", port)
        try:
            yield f"http://127.0.0.1:{proxy_port}", keys  # a key a test: the ceiling's bucket is per key
        finally:
            stop(proxy)
    finally:
        stop(server)


def test_a_key_a_few_connections_hammer_is_held_to_the_ceiling_not_refused(behind_nginx):
    """8 connections asking as fast as they are answered: past the burst, nginx holds each request for
    its turn rather than refusing it, so every one reaches the application (a 404 here)."""
    base, (hammered, _, _) = behind_nginx
    statuses: list[int] = []

    def hammer() -> None:
        with requests.Session() as session:
            for _ in range(50):  # 400 in all: 200 past the ceiling's burst
                response = session.get(f"{base}/api/v2/nowhere/", headers={"X-API-Key": hammered}, timeout=30)
                statuses.append(response.status_code)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [404] * 400


def test_a_key_over_the_ceiling_at_once_is_refused_by_nginx_and_another_key_is_served(behind_nginx):
    """300 requests of one key sent at once: 100 pass, 100 are held, the rest nginx refuses itself with
    the API's 429 problem+json."""
    base, (_, hammered, other) = behind_nginx
    host, port = base.removeprefix("http://").split(":")
    connections = [http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(300)]
    try:
        for connection in connections:
            connection.connect()
        for connection in connections:  # one thread, a few milliseconds: all inside the burst's second
            connection.request("GET", "/api/v2/nowhere/", headers={"X-API-Key": hammered})
        answers = []
        for connection in connections:
            response = connection.getresponse()
            answers.append((response.status, dict(response.getheaders()), response.read()))
    finally:
        for connection in connections:
            connection.close()
    refusals = [(headers, body) for status, headers, body in answers if status == 429]
    assert refusals, "nginx never refused the key"
    assert {status for status, _, _ in answers} == {404, 429}
    assert sum(status == 404 for status, _, _ in answers) >= 200, "the burst and the held ones pass"
    headers, body = refusals[0]
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1"
    assert "X-RateLimit-Limit" not in headers, "nginx's own answer, not the application's"
    problem = json.loads(body)
    assert problem["type"] == "https://api.zupy.com/errors/rate-limit-exceeded"
    assert (problem["status"], problem["instance"]) == (429, "/api/v2/nowhere/")
    served = requests.get(f"{base}/api/v2/rewards/", headers={"X-API-Key": other}, timeout=30)
    assert served.status_code == 200, served.text
    anonymous = requests.get(f"{base}/api/v2/rewards/", timeout=30)
    assert anonymous.status_code == 401, "no key is the application's to answer"
