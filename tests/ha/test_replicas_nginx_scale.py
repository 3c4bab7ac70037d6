"""API replicas behind compose's nginx (deploy/nginx.conf): several real gunicorns, each on its own
loopback address as compose gives each replica its own, found by name through a DNS server on
loopback that answers as compose's does. The requests spread over the replicas; a replica added is
used without restarting nginx; a replica killed mid-load costs at most the requests it had in flight,
and those complete exactly once when the tills retry them with the same Idempotency-Key."""

import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.dns import ServiceNames
from tests.e2e.nginx import start_nginx
from tests.e2e.servers import free_port, manage_output, production_env, start_gunicorn, stop, wait_ready
from tests.pgcluster import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]  # compose's replica addresses, here
POSTS = 6  # tills writing at once: at most this many requests are in flight on a killed replica


@dataclass
class Replicas:
    env: dict[str, str]
    port: int
    names: ServiceNames
    base: str  # nginx
    api_key: str
    customer_id: str
    metrics_token: str
    servers: dict[str, Any]

    def start(self, address: str) -> None:
        server = start_gunicorn(self.env, self.port, host=address)
        wait_ready(f"http://{address}:{self.port}/readyz", process=server)
        self.servers[address] = server

    def served(self, address: str) -> int:
        """How many requests this replica has answered (its own metrics, scraped directly)."""
        text = requests.get(
            f"http://{address}:{self.port}/metrics",
            headers={"Authorization": f"Bearer {self.metrics_token}"},
            timeout=10,
        ).text
        counts = re.findall(r"^zupy_http_requests_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
        return int(sum(float(count) for count in counts))

    def get(self, session: requests.Session, path: str) -> requests.Response:
        return session.get(f"{self.base}/api/v2{path}", headers={"X-API-Key": self.api_key}, timeout=30)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    root: Path = tmp_path_factory.mktemp("replicas")
    database = Cluster.primary(Path(f"/tmp/zupy-replicas-{uuid.uuid4().hex[:8]}"))
    token = uuid.uuid4().hex
    env = production_env(
        "replicas",
        DATABASE_URL=database.url(),
        # Shared by every replica: rate limits, key lookups, OTP counters.
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-replicas-{uuid.uuid4().hex}",
        RATE_LIMIT_ENTERPRISE=str(10**9),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        METRICS_TOKEN=token,
        FORWARDED_ALLOW_IPS="*",
        TRUSTED_PROXY_COUNT="1",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS=",".join(["localhost", "127.0.0.1", *ADDRESSES]),  # readyz, metrics: asked directly
    )
    port = free_port()
    servers: dict[str, Any] = {}
    try:
        manage_output(env, "migrate", "--no-input", "-v", "0")
        seeded = json.loads(manage_output(env, "seed_demo", "--json"))
        with ServiceNames({"api": ADDRESSES[:3]}) as names:
            for address in ADDRESSES[:3]:
                # Each replica its own metrics: a process's counters are what it served.
                replica_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(root / f"metrics-{address}")}
                server = start_gunicorn(replica_env, port, host=address)
                servers[address] = server
            for address in ADDRESSES[:3]:
                wait_ready(f"http://{address}:{port}/readyz", process=servers[address])
            proxy, proxy_port = start_nginx(root / "nginx", port, names=names, resolver_valid="1s")
            try:
                yield Replicas(
                    {**env, "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics-more")},
                    port,
                    names,
                    f"http://127.0.0.1:{proxy_port}",
                    seeded["api_key"],
                    seeded["customer_id"],
                    token,
                    servers,
                )
            finally:
                stop(proxy)
    finally:
        for server in servers.values():
            if server.poll() is None:
                stop(server)
        database.destroy()


def test_the_requests_spread_over_every_replica(replicas):
    addresses = ADDRESSES[:3]
    before = {address: replicas.served(address) for address in addresses}
    session = requests.Session()
    statuses = [replicas.get(session, "/rewards/").status_code for _ in range(90)]
    assert statuses == [200] * 90
    served = {address: replicas.served(address) - before[address] for address in addresses}
    # nginx starts each request at a random replica: each gets a share (none gets all, none nothing).
    assert all(count >= 5 for count in served.values()), served


def test_a_replica_added_is_used_without_restarting_nginx(replicas):
    """As `docker compose up --scale api=4`: compose's DNS answers with one more address, and nginx
    sends requests to it once its cached answer is stale."""
    added = ADDRESSES[3]
    replicas.start(added)
    start = replicas.served(added)
    replicas.names.set("api", ADDRESSES)
    session = requests.Session()
    deadline = time.monotonic() + 60
    while replicas.served(added) - start < 5:
        assert replicas.get(session, "/rewards/").status_code == 200
        assert time.monotonic() < deadline, "nginx never sent a request to the added replica"


def test_a_replica_killed_mid_load_costs_only_its_in_flight_requests_which_a_retry_completes_once(
    replicas, record_property
):
    victim = ADDRESSES[0]
    stop_at = threading.Event()
    lock = threading.Lock()
    posts: Counter[int] = Counter()
    gets: Counter[int] = Counter()
    acknowledged: list[str] = []
    add = f"{replicas.base}/api/v2/customers/{replicas.customer_id}/points/add/"
    balance_before = replicas.get(requests.Session(), f"/customers/{replicas.customer_id}/").json()["data"]

    def till() -> None:
        session = requests.Session()
        while not stop_at.is_set():
            key = uuid.uuid4().hex
            while True:  # one award, the same key, until acknowledged
                answer = session.post(
                    add,
                    json={"amount": 1, "reason": key},
                    headers={"X-API-Key": replicas.api_key, "Idempotency-Key": key},
                    timeout=30,
                )
                with lock:
                    posts[answer.status_code] += 1
                    if answer.status_code == 200:
                        acknowledged.append(key)
                        break
                time.sleep(0.05)

    def reader() -> None:
        session = requests.Session()
        while not stop_at.is_set():
            try:
                status = replicas.get(session, "/rewards/").status_code
            except requests.RequestException:
                # The answer had begun to reach the client when its replica died: nginx cannot send
                # the request again then, and the client sees the connection break.
                status = 0
                session = requests.Session()
            with lock:
                gets[status] += 1

    threads = [threading.Thread(target=till) for _ in range(POSTS)] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acknowledged) < 30:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(replicas.servers[victim].pid, signal.SIGKILL)  # its master and workers, at once
        replicas.servers[victim].wait()
        count = len(acknowledged)
        while len(acknowledged) < count + 60:
            assert time.monotonic() < deadline + 60
            time.sleep(0.05)
    finally:
        stop_at.set()
        for thread in threads:
            thread.join(timeout=60)

    # Only the POSTs the killed replica had been sent fail (nginx's 502); no request after the kill
    # fails: nginx skips the replica that refuses connections, whatever the method.
    assert set(posts) <= {200, 409, 502}, posts
    assert posts[502] <= POSTS, posts
    # A GET in flight on the killed replica is sent again, to another, unless its answer had begun:
    # of the one reader's GETs at most the one in flight is lost.
    assert set(gets) <= {0, 200} and gets[0] <= 1, gets
    # Every acknowledged award is in the ledger once: the balance moved by exactly their number.
    balance_after = replicas.get(requests.Session(), f"/customers/{replicas.customer_id}/").json()["data"]
    assert len(set(acknowledged)) == len(acknowledged)
    moved = balance_after["points_balance"] - balance_before["points_balance"]
    assert moved == len(acknowledged), (moved, len(acknowledged), posts)
    history = manage_output(replicas.env, "ledger_check")
    assert "every balance equals its ledger" in history
    figures = {"posts": dict(posts), "gets": dict(gets), "acknowledged": len(acknowledged), "lost": 0}
    record_property("figures", f"replica killed mid-load: {json.dumps(figures)}")
