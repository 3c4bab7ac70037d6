"""Reads from a streaming replica, through HTTP, against two real PostgreSQL 15 clusters (a primary and
a ``pg_basebackup -R`` standby on loopback ports) and real gunicorn servers sharing one Redis.

Which server answered is read off the data: with the standby's replay paused, a change made on the
primary after the pause is visible only where a request read the primary."""

import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from core.dbrouter import LAG_SQL
from tests.e2e.servers import ROOT, free_port, production_env, start_gunicorn, stop, wait_ready
from tests.pgcluster import Cluster

pytestmark = pytest.mark.slow

TOLERANT = "600"  # seconds: with replay paused, the standby stays within this bound for the whole module
TIGHT = "1"


@dataclass
class Stack:
    primary: Cluster
    standby: Cluster
    tolerant: str  # base URLs of two servers that differ only in DB_REPLICA_MAX_LAG
    tight: str
    writer: str  # three API keys of the demo company
    other: str
    reader: str  # never writes
    customer: str
    rewards: dict[str, str]


def _env(primary: Cluster, standby: Cluster, root: Path, prefix: str, bound: str) -> dict[str, str]:
    return production_env(
        "replica",
        DATABASE_URL=primary.url(),
        DATABASE_REPLICA_URL=standby.url(),
        # One shared cache: the write marks must be seen by every worker of both servers.
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix={prefix}",
        DB_REPLICA_MAX_LAG=bound,
        DB_REPLICA_READ_YOUR_WRITES_SECONDS=bound,
        DB_REPLICA_RETRY_INTERVAL="1",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(root / f"metrics-{bound}"),
        LOG_LEVEL="WARNING",
    )


def _manage(env: dict[str, str], *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    import json

    root = Path(tempfile.mkdtemp(prefix="zupy-replica-", dir="/tmp"))
    primary = Cluster.primary(root / "primary")
    standby = primary.standby(root / "standby")
    servers: list[subprocess.Popen[bytes]] = []
    try:
        prefix = f"zupy-test-{uuid.uuid4().hex}"
        envs = {bound: _env(primary, standby, root, prefix, bound) for bound in (TOLERANT, TIGHT)}
        _manage(envs[TOLERANT], "migrate", "--no-input", "-v", "0")
        first = json.loads(_manage(envs[TOLERANT], "seed_demo", "--json"))
        second = json.loads(_manage(envs[TOLERANT], "seed_demo", "--json"))  # another key, same company
        third = json.loads(_manage(envs[TOLERANT], "seed_demo", "--json"))
        bases = {}
        for bound, env in envs.items():
            port = free_port()
            servers.append(start_gunicorn(env, port))
            bases[bound] = f"http://127.0.0.1:{port}"
            wait_ready(f"{bases[bound]}/readyz", process=servers[-1])
        standby.wait_caught_up(primary)
        yield Stack(
            primary=primary,
            standby=standby,
            tolerant=bases[TOLERANT],
            tight=bases[TIGHT],
            writer=first["api_key"],
            other=second["api_key"],
            reader=third["api_key"],
            customer=first["customer_id"],
            rewards=first["rewards"],
        )
    finally:
        for server in servers:
            stop(server)
        standby.destroy()
        primary.destroy()
        shutil.rmtree(root, ignore_errors=True)


def call(base: str, key: str, method: str, path: str, body: Any = None) -> requests.Response:
    response = requests.request(
        method, f"{base}/api/v2{path}", headers={"X-API-Key": key}, json=body, timeout=30
    )
    assert response.status_code < 500, response.text
    return response


def history_ids(base: str, key: str, customer: str) -> set[str]:
    response = call(base, key, "GET", f"/customers/{customer}/points/history/")
    assert response.status_code == 200, response.text
    return {entry["id"] for entry in response.json()["data"]}


def catalog_names(base: str, key: str) -> set[str]:
    response = call(base, key, "GET", "/rewards/")
    assert response.status_code == 200, response.text
    return {reward["name"] for reward in response.json()["data"]}


def test_the_pair_streams_and_the_router_reads_from_the_standby(stack):
    """The setup itself: the standby is a standby, and a tolerant read is answered from it."""
    assert not stack.primary.in_recovery() and stack.standby.in_recovery()
    reward = stack.rewards["Free Dessert"]
    stack.standby.pause_replay()
    try:
        stack.primary.query(
            "UPDATE rewards_reward SET name = 'Free Dessert (renamed)' WHERE id = %s", [reward]
        )
        # This key never writes: its catalog comes from the paused standby.
        assert "Free Dessert" in catalog_names(stack.tolerant, stack.reader)
        assert "Free Dessert (renamed)" not in catalog_names(stack.tolerant, stack.reader)
    finally:
        stack.standby.resume_replay()
    stack.standby.wait_caught_up(stack.primary)
    assert "Free Dessert (renamed)" in catalog_names(stack.tolerant, stack.reader)
    stack.primary.query("UPDATE rewards_reward SET name = 'Free Dessert' WHERE id = %s", [reward])
    stack.standby.wait_caught_up(stack.primary)


def test_with_replay_paused_a_partner_reads_its_own_write_and_another_key_within_the_bound(stack):
    stack.standby.pause_replay()
    try:
        added = call(
            stack.tolerant, stack.writer, "POST", f"/customers/{stack.customer}/points/add/", {"amount": 7}
        )
        assert added.status_code == 200, added.text
        entry = added.json()["data"]["activity_id"]
        # The writer's reads go to the primary, whichever worker of either server answers them.
        for base in (stack.tolerant, stack.tight) * 4:
            assert entry in history_ids(base, stack.writer, stack.customer)
        # Another key's tolerant read is the standby's: stale, by less than the 600 s bound.
        assert entry not in history_ids(stack.tolerant, stack.other, stack.customer)
        # Its balance is not a tolerant read: always the primary's.
        balance = call(stack.tolerant, stack.other, "GET", f"/customers/{stack.customer}/points/")
        assert balance.json()["data"]["points_balance"] == added.json()["data"]["balance_after"]

        # A write by the other key (a locking read and its writes) goes to the primary, and then
        # its own coupon list and history read the primary too.
        redeemed = call(
            stack.tolerant, stack.other, "POST",
            f"/customers/{stack.customer}/rewards/{stack.rewards['Free Dessert']}/redeem/", {},
        )  # fmt: skip
        assert redeemed.status_code == 200, redeemed.text
        coupons = call(stack.tolerant, stack.other, "GET", f"/rewards/coupons/?customer_id={stack.customer}")
        assert redeemed.json()["data"]["coupon_id"] in {c["id"] for c in coupons.json()["data"]}
        assert entry in history_ids(stack.tolerant, stack.other, stack.customer)
    finally:
        stack.standby.resume_replay()
    stack.standby.wait_caught_up(stack.primary)


def test_a_replica_lagging_past_the_bound_is_not_read(stack):
    stack.standby.pause_replay()
    try:
        stack.primary.query("UPDATE rewards_reward SET name = 'Lagging Dessert' WHERE id = %s",
                            [stack.rewards["Free Dessert"]])  # fmt: skip
        # Until the paused standby's lag passes the tight server's 1 s (a wait, not a timed assert).
        stack.standby._wait(lambda: stack.standby.value(LAG_SQL) > float(TIGHT), 60, "no lag")
        assert "Lagging Dessert" in catalog_names(stack.tight, stack.reader)  # the primary's
        assert "Lagging Dessert" not in catalog_names(stack.tolerant, stack.reader)  # the standby's
    finally:
        stack.standby.resume_replay()
    stack.standby.wait_caught_up(stack.primary)
    assert "Lagging Dessert" in catalog_names(stack.tolerant, stack.reader)
    stack.primary.query(
        "UPDATE rewards_reward SET name = 'Free Dessert' WHERE id = %s", [stack.rewards["Free Dessert"]]
    )
    stack.standby.wait_caught_up(stack.primary)


def test_a_stopped_standby_sends_every_read_to_the_primary_without_an_error(stack):
    stack.standby.stop()
    try:
        stack.primary.query("UPDATE rewards_reward SET name = 'Primary Dessert' WHERE id = %s",
                            [stack.rewards["Free Dessert"]])  # fmt: skip
        for _ in range(6):  # both workers of both servers, the first failed connection and the next
            for base in (stack.tolerant, stack.tight):
                assert "Primary Dessert" in catalog_names(base, stack.reader)
                assert call(base, stack.reader, "GET", "/coupons/issued/stats/").status_code == 200
        assert requests.get(f"{stack.tolerant}/readyz", timeout=30).status_code == 200
    finally:
        stack.standby.start()
    stack.standby.wait_streaming()
    stack.standby.wait_caught_up(stack.primary)
    assert "Primary Dessert" in catalog_names(stack.tolerant, stack.reader)
