"""The service behind a real PgBouncer in transaction pooling (DB_POOLER_MODE=transaction): the races
that decide money and coupons stay exact through it, with more API threads than server connections;
and what transaction pooling breaks (prepared statements, session SETs) is refused or never used."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.e2e.servers import ROOT, free_port, production_env, start_gunicorn, stop, wait_ready
from tests.pgcluster import Cluster, PgBouncer
from tests.test_layers import APPS, KIT, modules, string_constants

pytestmark = pytest.mark.slow

POOL_SIZE = 4  # server connections; the API below runs 2 workers x 8 threads
LOCAL_TIMEZONE = "America/Sao_Paulo"  # the server's own: Django's UTC is a per-connection setting


@dataclass
class Stack:
    cluster: Cluster
    bouncer: PgBouncer
    env: dict[str, str]
    base: str
    key: str
    customer: str
    rewards: dict[str, str]
    root: Path


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="zupy-bouncer-", dir="/tmp"))
    cluster = Cluster.primary(root / "db", settings={"timezone": LOCAL_TIMEZONE})
    bouncer = PgBouncer(
        root / "bouncer", server_port=cluster.port, pool_mode="transaction", pool_size=POOL_SIZE
    )
    server = None
    try:
        env = production_env(
            "bouncer",
            DATABASE_URL=bouncer.url("postgres"),
            DB_POOLER_MODE="transaction",
            CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-test-{uuid.uuid4().hex}",
            WEB_CONCURRENCY="2",
            GUNICORN_THREADS="8",
            DB_POOL_MAX_SIZE="8",
            PROMETHEUS_MULTIPROC_DIR=str(root / "metrics"),
            LOG_LEVEL="WARNING",
        )
        for args in (("migrate", "--no-input", "-v", "0"), ("seed_demo", "--json")):
            run = manage(env, *args)
            assert run.returncode == 0, run.stderr
        seeded = json.loads(run.stdout)
        port = free_port()
        server = start_gunicorn(env, port)
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", process=server)
        yield Stack(
            cluster, bouncer, env, base, seeded["api_key"], seeded["customer_id"], seeded["rewards"], root
        )
    finally:
        if server is not None:
            stop(server)
        bouncer.stop()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def together(count: int, action: Callable[[int], Any]) -> list[Any]:
    """``action(i)`` in ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = action(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def post(stack: Stack, path: str, body: Any = None, **headers: str) -> requests.Response:
    return requests.post(
        f"{stack.base}/api/v2{path}", headers={"X-API-Key": stack.key, **headers}, json=body, timeout=60
    )


def balance(stack: Stack) -> int:
    response = requests.get(
        f"{stack.base}/api/v2/customers/{stack.customer}/points/",
        headers={"X-API-Key": stack.key},
        timeout=30,
    )
    return int(response.json()["data"]["points_balance"])


def redeem(stack: Stack, reward: str) -> requests.Response:
    return post(stack, f"/customers/{stack.customer}/rewards/{stack.rewards[reward]}/redeem/", {})


def server_connections(stack: Stack) -> int:
    """The cluster's client backends: every one is PgBouncer's but this query's own."""
    return int(
        stack.cluster.value("SELECT count(*) - 1 FROM pg_stat_activity WHERE backend_type = 'client backend'")
    )


@pytest.mark.parametrize(("reward", "wins"), [("Free Dessert", 1), ("3x Free Coffee", 3)])
def test_twenty_concurrent_validates_through_the_pooler_win_exactly_the_coupons_uses(stack, reward, wins):
    coupon = redeem(stack, reward)
    assert coupon.status_code == 200, coupon.text
    url = f"/customers/{stack.customer}/coupons/{coupon.json()['data']['coupon_id']}/validate/"
    statuses = together(20, lambda _: post(stack, url).status_code)
    assert sorted(statuses) == [200] * wins + [409] * (20 - wins)
    # 16 API threads shared POOL_SIZE server connections.
    assert server_connections(stack) <= POOL_SIZE


def test_concurrent_redeems_through_the_pooler_spend_each_point_once(stack):
    before = balance(stack)
    cost = 200  # Free Dessert
    statuses = Counter(together(20, lambda _: redeem(stack, "Free Dessert").status_code))
    assert statuses == {200: min(20, before // cost), 422: 20 - min(20, before // cost)}
    assert balance(stack) == before - cost * statuses[200]
    check = manage(stack.env, "ledger_check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_concurrent_retries_of_one_idempotency_key_apply_once(stack):
    """The key's advisory lock is transaction-scoped: it holds through the pooler and is freed by
    the commit on whichever server connection ran it."""
    before = balance(stack)
    key = uuid.uuid4().hex
    url = f"/customers/{stack.customer}/points/add/"
    responses = together(12, lambda _: post(stack, url, {"amount": 5}, **{"Idempotency-Key": key}))
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409} and statuses[200] >= 1, statuses
    assert len({r.json()["data"]["activity_id"] for r in responses if r.status_code == 200}) == 1
    again = post(stack, url, {"amount": 5}, **{"Idempotency-Key": key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert balance(stack) == before + 5


def _client(bouncer: PgBouncer, **options: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(bouncer.url("postgres"), autocommit=True, **options)


@pytest.fixture
def one_connection_bouncer(stack: Stack) -> Iterator[PgBouncer]:
    """Two clients on a single server connection: whatever one leaves on the session, the other meets."""
    bouncer = PgBouncer(
        stack.root / f"single-{uuid.uuid4().hex[:6]}", server_port=stack.cluster.port, pool_size=1
    )
    try:
        yield bouncer
    finally:
        bouncer.stop()


def test_server_side_prepared_statements_break_in_transaction_pooling(one_connection_bouncer):
    """What DB_PREPARE_THRESHOLD=5 would do behind this pooler: the second client meets the first's
    prepared statement (or misses its own), an error on a request that did nothing wrong."""
    first, second = (_client(one_connection_bouncer, prepare_threshold=0) for _ in range(2))
    with first, second:
        first.execute("SELECT 1")
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            second.execute("SELECT 1")


def test_the_settings_refuse_prepared_statements_behind_a_transaction_pooler():
    code = (
        "from zupy import settings as s; d = s.DATABASES['default']; o = d['OPTIONS']; "
        "print(o['server_side_binding'], o['prepare_threshold'], d['DISABLE_SERVER_SIDE_CURSORS'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "zupy.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:6432/unused",
        "DB_POOLER_MODE": "transaction",
    }
    env.pop("DB_PREPARE_THRESHOLD", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "None", "True"]
    refused = subprocess.run(
        [sys.executable, "-c", code], env={**env, "DB_PREPARE_THRESHOLD": "5"}, capture_output=True, text=True
    )
    assert refused.returncode != 0
    assert "DB_PREPARE_THRESHOLD=5 cannot work behind a transaction-mode pooler" in refused.stderr


def test_the_time_zone_django_sets_follows_each_client_and_other_sets_would_leak(one_connection_bouncer):
    """Django sets the session's TimeZone on each new connection (set_config, as here). PgBouncer
    tracks TimeZone (with client_encoding, DateStyle, standard_conforming_strings and
    application_name) and restores each client's value on whichever server connection it gets.
    Any other session SET stays on the server connection for the next client: the service issues
    none (the next test), and a timeout belongs in SET LOCAL or the role's settings."""
    django_like, other = (_client(one_connection_bouncer, prepare_threshold=None) for _ in range(2))
    with django_like, other:
        django_like.execute("SELECT set_config('TimeZone', 'UTC', false)")
        django_like.execute("SELECT set_config('statement_timeout', '1234', false)")
        assert other.execute("SHOW TimeZone").fetchone() == (LOCAL_TIMEZONE,)
        assert django_like.execute("SHOW TimeZone").fetchone() == ("UTC",)
        assert other.execute("SHOW TimeZone").fetchone() == (LOCAL_TIMEZONE,)
        assert other.execute("SHOW statement_timeout").fetchone() == ("1234ms",)  # leaked


# Statements that keep state on a server session past their transaction.
SESSION_STATE = re.compile(
    r"\bpg_(try_)?advisory_lock(_shared)?\s*\(|(^|;)\s*SET\s+(SESSION\s+)?(?!LOCAL\b)\w+"
    r"|set_config\s*\([^)]*,\s*false\s*\)|\bLISTEN\b|\bPREPARE\b|\bWITH\s+HOLD\b|\bCREATE\s+TEMP",
    re.MULTILINE,  # SQL keywords as this code writes them: upper case
)


def test_the_service_keeps_no_session_state_a_transaction_pooler_would_lose():
    """Only transaction-scoped advisory locks (pg_try_advisory_xact_lock), no session SET, LISTEN,
    PREPARE, WITH HOLD cursor or temporary table in any statement of the apps or the kit."""
    offending = [
        f"{path.relative_to(ROOT)}:{line} {text.strip()[:80]}"
        for package in (*APPS, KIT)
        for path in modules(package)
        for line, text in string_constants(path)
        if SESSION_STATE.search(text)
    ]
    assert offending == []
