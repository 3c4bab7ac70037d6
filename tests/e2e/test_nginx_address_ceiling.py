"""compose's nginx (deploy/nginx.conf) refuses one address's flood of the public wallet paths itself,
which carry no API key, with the API's 429 problem+json naming the address."""

import http.client
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.nginx import start_nginx
from tests.e2e.servers import free_port, manage_output, production_env, start_gunicorn, stop, wait_ready

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def behind_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data: Path = tmp_path_factory.mktemp("address-ceiling")
    env = production_env(
        "address-ceiling-test",
        DATABASE_URL=f"sqlite:///{data}/db.sqlite3",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-test-{uuid.uuid4().hex}",
        WALLET_PUBLIC_RATE_LIMIT=str(10**9),  # the application lets everything through: nginx refuses
        TRUSTED_PROXY_COUNT="1",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
    )
    manage_output(env, "migrate", "--no-input", "-v", "0")
    port = free_port()
    server = start_gunicorn(env, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server)
        proxy, proxy_port = start_nginx(data / "nginx", port)
        try:
            yield f"http://127.0.0.1:{proxy_port}"
        finally:
            stop(proxy)
    finally:
        stop(server)


def test_one_address_flooding_the_device_log_is_refused_by_nginx_past_its_burst(behind_nginx):
    """200 log posts sent at once from one address: the burst passes (40 at once, 40 held), nginx
    refuses the rest itself; the API, keyed, is another bucket and is served."""
    host, port = behind_nginx.removeprefix("http://").split(":")
    body = json.dumps({"logs": ["Web service error"]})
    connections = [http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(200)]
    try:
        for connection in connections:
            connection.connect()
        for connection in connections:  # one thread, a few milliseconds: all inside the burst's second
            connection.request(
                "POST", "/passkit/v1/log", body=body, headers={"Content-Type": "application/json"}
            )
        answers = []
        for connection in connections:
            response = connection.getresponse()
            answers.append((response.status, dict(response.getheaders()), response.read()))
    finally:
        for connection in connections:
            connection.close()
    assert {status for status, _, _ in answers} == {200, 429}
    assert 40 <= sum(status == 200 for status, _, _ in answers) <= 120, "the burst and the held ones pass"
    headers, refused = next((h, b) for status, h, b in answers if status == 429)
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1"
    problem = json.loads(refused)
    assert problem["type"] == "https://api.zupy.com/errors/rate-limit-exceeded"
    assert (problem["status"], problem["instance"]) == (429, "/passkit/v1/log")
    assert "address" in problem["detail"]
    # The API's per-key ceiling is not the address's: an anonymous API call is the application's 401.
    assert requests.get(f"{behind_nginx}/api/v2/rewards/", timeout=30).status_code == 401
