"""Faults with real processes: a PostgreSQL of this test's own, stopped under load and started
again; a gunicorn worker killed with SIGKILL in the middle of redemptions."""

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.servers import ROOT, free_port, production_env, start_gunicorn, stop, wait_ready

pytestmark = pytest.mark.e2e


class OwnPostgres:
    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bindirs:
            pytest.fail("no PostgreSQL server binaries")
        self.bin = bindirs[-1]
        self.dir = tempfile.mkdtemp(prefix="zupy-faults-", dir="/tmp")
        self.port = free_port()
        self.as_pg = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", f"{self.dir}/db", "-U", "postgres", "--auth=trust")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_pg, f"{self.bin}/{tool}", *args], check=True, capture_output=True)

    def start(self, action: str = "start") -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", f"{self.dir}/db", "-l", f"{self.dir}/log", "-o", options, "-w", action)

    def restart(self) -> None:
        """pg_ctl restart (fast mode): every server process ends, so every client connection breaks."""
        self.start("restart")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", f"{self.dir}/db", "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    pg = OwnPostgres()
    env = production_env(
        "faults",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{pg.port}/postgres",
        CACHE_URL="locmemcache://faults",
        # As in production: a request that found no working connection would wait this long for one.
        DB_POOL_TIMEOUT="10",
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="2",
        GUNICORN_TIMEOUT="20",
        PROMETHEUS_MULTIPROC_DIR=f"{pg.dir}/metrics",
        LOG_LEVEL="WARNING",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = json.loads(
        subprocess.run(
            [*manage, "seed_demo", "--json"], cwd=ROOT, env=env, check=True, capture_output=True
        ).stdout
    )
    port = free_port()
    server = start_gunicorn(env, port)
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/readyz", process=server)
    try:
        yield {"pg": pg, "env": env, "base": base, "seeded": seeded, "server": server, "manage": manage}
    finally:
        stop(server)
        pg.destroy()


def _get(stack: dict[str, Any], path: str, timeout: float = 15) -> requests.Response:
    return requests.get(
        f"{stack['base']}/api/v2{path}", headers={"X-API-Key": stack["seeded"]["api_key"]}, timeout=timeout
    )


def _warm(stack: dict[str, Any], path: str) -> None:
    """Concurrent requests, so that every worker's pool holds several connections."""

    def client() -> None:
        session = requests.Session()
        for _ in range(10):
            session.get(f"{stack['base']}/api/v2{path}", headers={"X-API-Key": stack["seeded"]["api_key"]})

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_database_outage_answers_503_problems_at_once_and_recovers_by_itself(stack):
    """While the server is down no request waits the pool's 10 s for a connection: each 503 comes
    within 5 s (the client's timeout), the first ones after the stop included, and /readyz alike."""
    customer = stack["seeded"]["customer_id"]
    _warm(stack, f"/rewards/?customer_id={customer}")
    stack["pg"].stop()
    try:
        for _ in range(3):
            for _ in range(6):  # more than there are workers: each process meets the outage
                response = _get(stack, f"/rewards/?customer_id={customer}", timeout=5)
                assert response.status_code == 503, response.text
                assert response.headers["Content-Type"] == "application/problem+json"
                assert response.json()["type"].endswith("/service-unavailable")
            ready = requests.get(f"{stack['base']}/readyz", timeout=5)
            assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
            time.sleep(1)  # past DB_OUTAGE_PROBE_INTERVAL: the probes find the server still down
    finally:
        stack["pg"].start()
    deadline = time.monotonic() + 30
    while _get(stack, f"/rewards/?customer_id={customer}").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover when the database came back"
        time.sleep(0.2)


def test_a_database_restart_costs_no_request_made_after_it(stack):
    """Every worker's pool holds connections that the restart broke; each is checked before use and
    replaced, so none of the requests after the restart fails."""
    customer = stack["seeded"]["customer_id"]
    path = f"/rewards/?customer_id={customer}"
    _warm(stack, path)
    stack["pg"].restart()
    statuses = [_get(stack, path).status_code for _ in range(60)]
    assert statuses == [200] * 60


def test_a_worker_killed_mid_redemption_leaves_no_half_done_redemption(stack):
    seeded, headers = stack["seeded"], {"X-API-Key": stack["seeded"]["api_key"]}
    customer, reward = seeded["customer_id"], seeded["rewards"]["Free Dessert"]
    api = f"{stack['base']}/api/v2/customers/{customer}"
    stop = time.monotonic() + 4
    statuses: list[int] = []

    def till() -> None:
        session = requests.Session()
        while time.monotonic() < stop:
            for path, body in (
                (f"{api}/points/add/", {"amount": 200}),
                (f"{api}/rewards/{reward}/redeem/", {}),
            ):
                try:
                    statuses.append(session.post(path, json=body, headers=headers, timeout=15).status_code)
                except requests.ConnectionError:
                    statuses.append(0)  # the killed worker's connection

    threads = [threading.Thread(target=till) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    workers = subprocess.run(["pgrep", "-P", str(stack["server"].pid)], capture_output=True, text=True).stdout
    for pid in workers.split()[:2]:
        os.kill(int(pid), signal.SIGKILL)
    for thread in threads:
        thread.join()
    assert statuses.count(200) > 10 and set(statuses) <= {0, 200, 422, 503}
    check = subprocess.run(
        [*stack["manage"], "ledger_check"], cwd=ROOT, env=stack["env"], capture_output=True
    )
    assert check.returncode == 0, check.stderr
    count_them = (
        "from coupons.models import Coupon; from customers.models import LedgerEntry as L;"
        "paid = Coupon.objects.filter(points_spent__gt=0);"
        "print(paid.exclude(ledger_entries__kind='redeem').count(),"
        " L.objects.filter(kind='redeem', coupon__isnull=True).count(),"
        " paid.count(), L.objects.filter(kind='redeem').count())"
    )
    orphans = (
        subprocess.run(
            [*stack["manage"], "shell", "-v", "0", "-c", count_them],
            cwd=ROOT,
            env=stack["env"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    coupons_without_debit, debits_without_coupon, coupons, debits = map(int, orphans)
    assert (coupons_without_debit, debits_without_coupon) == (0, 0)
    assert coupons == debits
