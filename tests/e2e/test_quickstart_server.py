"""End to end through the README's first command (scripts/serve): a real gunicorn on the embedded
SQLite default, driven over HTTP. Proves the guide's Full Example runs unchanged, and that the
race guarantees hold on SQLite too (IMMEDIATE transactions serialise writers across processes)."""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Barrier
from typing import TypedDict

import pytest
import requests

from tests.e2e.servers import ROOT, free_port, stop
from tests.e2e.slow_clients import SlowClients

GUIDE = ROOT / "docs" / "reference" / "coupons-guide.txt"
EXAMPLE = Path(__file__).with_name("guide_full_example.py")

pytestmark = pytest.mark.e2e


class Seeded(TypedDict):
    """What ``manage.py seed_demo --json`` prints."""

    api_key: str
    company_id: str
    customer_id: str
    rewards: dict[str, str]  # name -> id


@dataclass
class Server:
    base_url: str
    api_key: str
    customer_id: str
    env: dict[str, str]
    log_path: Path | None = None

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"X-API-Key": key or self.api_key}

    def seed(self) -> Seeded:
        """Rerun seed_demo on the server's database: balances back to 1000 / 1150, a fresh key."""
        out = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "seed_demo", "--json"],
            cwd=ROOT, env=self.env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("quickstart")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY"}
    }
    env.update(PORT=str(port), ZUPY_DATA_DIR=str(data_dir), PYTHON=sys.executable)
    log_path = data_dir / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}/api/v2"
        deadline = time.monotonic() + 240
        while True:
            text = log_path.read_text()
            key, customer = re.search(r"API_KEY=(\S+)", text), re.search(r"CUSTOMER_ID=(\S+)", text)
            if key and customer:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # not up yet, or its first answer is slow
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"scripts/serve did not come up:\n{text}")
            time.sleep(0.3)
        server_env = {**env, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "zupy.settings"}
        yield Server(base_url, key.group(1), customer.group(1), server_env, log_path)
    finally:
        stop(proc)


def test_committed_example_is_the_guides_full_example() -> None:
    guide = GUIDE.read_text()
    script = guide[guide.index("import requests") : guide.index("Next Steps")].rstrip() + "\n"
    assert EXAMPLE.read_text() == script


def test_guides_full_example_runs_unchanged(server: Server, tmp_path: Path) -> None:
    script = EXAMPLE.read_text()
    script = script.replace('"https://api.zupy.com/api/v2"', f'"{server.base_url}"')
    script = script.replace("zupy_pk_your_api_key_here", server.api_key)
    assert script.count(server.base_url) == 1 and script.count(server.api_key) == 1
    path = tmp_path / "example.py"
    path.write_text(script)

    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 4, run.stdout
    assert re.fullmatch(r"Found [1-9]\d* redeemable rewards", lines[0])
    assert re.fullmatch(r"Coupon created: CZ-[2-9A-HJKMNP-Z]{8}, valid until \S+Z", lines[1])
    assert re.fullmatch(r"[1-9]\d* active coupons", lines[2])
    assert re.fullmatch(r"Coupon CZ-[2-9A-HJKMNP-Z]{8} used at \S+Z", lines[3])


def _together(count: int, call: Callable[[], requests.Response]) -> list[int]:
    barrier = Barrier(count)

    def one(_: int) -> int:
        barrier.wait()
        return call().status_code

    with ThreadPoolExecutor(count) as pool:
        return sorted(pool.map(one, range(count)))


@pytest.mark.parametrize(("reward_name", "winners"), [("Free Dessert", 1), ("3x Free Coffee", 3)])
def test_concurrent_validates_on_sqlite_have_exactly_k_winners(
    server: Server, reward_name: str, winners: int
) -> None:
    seeded = server.seed()
    customer = seeded["customer_id"]
    redeem = requests.post(
        f"{server.base_url}/customers/{customer}/rewards/{seeded['rewards'][reward_name]}/redeem/",
        json={"use_z_tokens": False}, headers=server.headers(seeded["api_key"]), timeout=30,
    )  # fmt: skip
    assert redeem.status_code == 200, redeem.text
    code = redeem.json()["data"]["coupon_code"]
    url = f"{server.base_url}/customers/{customer}/coupons/{code}/validate/"

    statuses = _together(
        20, lambda: requests.post(url, headers=server.headers(seeded["api_key"]), timeout=60)
    )

    assert statuses == [200] * winners + [409] * (20 - winners)


def test_concurrent_redeems_on_sqlite_never_overspend(server: Server) -> None:
    seeded = server.seed()  # 1000 points: exactly two "10% Off Next Order" (500 each)
    customer = seeded["customer_id"]
    url = f"{server.base_url}/customers/{customer}/rewards/{seeded['rewards']['10% Off Next Order']}/redeem/"

    statuses = _together(
        10, lambda: requests.post(url, json={}, headers=server.headers(seeded["api_key"]), timeout=60)
    )

    assert statuses == [200] * 2 + [422] * 8
    balance = requests.get(
        f"{server.base_url}/rewards/", params={"customer_id": customer, "redeemable": "true"},
        headers=server.headers(seeded["api_key"]), timeout=30,
    )  # fmt: skip
    assert all(item["points_required"] == 0 for item in balance.json()["data"])
    check = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "ledger_check"],
        cwd=ROOT, env=server.env, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr


def test_unknown_url_on_the_debug_server_is_problem_json(server: Server) -> None:
    response = requests.get(f"{server.base_url}/nowhere/", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"


def test_serve_prints_the_docs_url_and_it_works_offline(server: Server) -> None:
    assert server.log_path is not None
    (docs_url,) = re.findall(r"API docs \(Swagger UI\): (\S+)", server.log_path.read_text())
    assert docs_url == server.base_url + "/docs/"
    page = requests.get(docs_url, timeout=30)
    assert page.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts and all(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts), scripts
    origin = server.base_url.removesuffix("/api/v2")
    assert all(requests.get(origin + src, timeout=30).status_code == 200 for src in scripts)


def test_slow_clients_do_not_stop_scripts_serve_from_serving(server: Server) -> None:
    """Twice as many slowloris sockets as scripts/serve has threads (2 workers x 4), dripping their
    heads and bodies: the guide's catalog call is answered all the while."""
    port = int(server.base_url.split(":")[2].split("/")[0])
    url = f"{server.base_url}/rewards/?customer_id={server.customer_id}"
    with SlowClients(port, count=16, drip_for=12) as slow:  # scripts/serve reads for 10 s: then 408
        for _ in range(3):
            assert requests.get(url, headers=server.headers(), timeout=5).status_code == 200
            assert slow.still_open() == 16
