"""compose's nginx (deploy/nginx.conf) refuses a key over its coarse per-key ceiling itself, with the API's
429 problem+json, and keeps serving every other key."""

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
def behind_nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
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
    company_id = json.loads(manage_output(env, "create_company", "Busy", "--tier", "enterprise"))[
        "company_id"
    ]
    keys = [json.loads(manage_output(env, "create_api_key", company_id))["api_key"] for _ in range(2)]
    port = free_port()
    server = start_gunicorn(env, port)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process=server)
        proxy, proxy_port = start_nginx(data / "nginx", port)
        try:
            yield f"http://127.0.0.1:{proxy_port}", keys[0], keys[1]
        finally:
            stop(proxy)
    finally:
        stop(server)


def test_a_key_over_the_ceiling_is_refused_by_nginx_and_another_key_is_served(behind_nginx):
    base, hammered, other = behind_nginx
    refusals: list[requests.Response] = []
    done = threading.Event()

    def hammer() -> None:
        with requests.Session() as session:
            for _ in range(600):  # bounded: 8 x 600 requests at most
                if done.is_set():
                    return
                # A path the application answers at once (404), so the client, not the API, sets the pace.
                response = session.get(f"{base}/api/v2/nowhere/", headers={"X-API-Key": hammered}, timeout=30)
                if response.status_code == 429:
                    refusals.append(response)
                    done.set()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert refusals, "nginx never refused the key"
    refused = refusals[0]
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
    assert "X-RateLimit-Limit" not in refused.headers, "nginx's own answer, not the application's"
    body = refused.json()
    assert body["type"] == "https://api.zupy.com/errors/rate-limit-exceeded"
    assert (body["status"], body["instance"]) == (429, "/api/v2/nowhere/")
    served = requests.get(f"{base}/api/v2/rewards/", headers={"X-API-Key": other}, timeout=30)
    assert served.status_code == 200, served.text
    anonymous = requests.get(f"{base}/api/v2/rewards/", timeout=30)
    assert anonymous.status_code == 401, "no key is the application's to answer"
