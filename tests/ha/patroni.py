"""A Patroni cluster on loopback for the failover drill: a single-node etcd and two PostgreSQL 15
nodes that Patroni bootstraps and manages, in a throwaway directory, on free ports.

The timings are the drill's, not production's (deploy/patroni/patroni.yml): the leader key lives ``ttl``
seconds, each Patroni loops every ``loop_wait`` second, and ``primary_start_timeout: 0`` makes a
crashed primary fail over at once instead of being restarted in place."""

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
import requests
import yaml

from tests.e2e.servers import ROOT, free_port

PG_BIN = "/usr/lib/postgresql/15/bin"
TEMPLATE = ROOT / "deploy" / "patroni" / "patroni.yml"


def tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    assert found, f"{name} is not installed: scripts/ensure-patroni (Debian's patroni, etcd-server)"
    return found


def wait_for(what: str, condition: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            result = condition()
            if result:
                return result
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.1)


class Node:
    def __init__(self, name: str, base: Path) -> None:
        self.name = name
        self.pg_port = free_port()
        self.api_port = free_port()
        self.data_dir = base / name
        self.config = base / f"{name}.yml"
        self.log = base / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def connect(self, **options: Any) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.data_dir.parent), port=self.pg_port, user="postgres", dbname="postgres",
            connect_timeout=2, autocommit=True, **options,
        )  # fmt: skip

    def role(self) -> str | None:
        """What Patroni says this node is ("primary", "replica"), or None when it does not answer.
        Patroni 3.0 still names the primary "master" here."""
        try:
            role = requests.get(f"{self.api}/patroni", timeout=2).json().get("role")
        except (requests.RequestException, ValueError):
            return None
        return "primary" if role == "master" else role

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])


class PatroniCluster:
    def __init__(self, *, synchronous: bool = False) -> None:
        self.patroni, self.etcd = tool("patroni"), tool("etcd")
        self.base = Path(tempfile.mkdtemp(prefix="zupy-patroni-", dir="/tmp"))
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            uid = pwd.getpwnam(self.user).pw_uid
            os.chown(self.base, uid, uid)
        self.synchronous = synchronous
        self.etcd_port, self.etcd_peer_port = free_port(), free_port()
        self.nodes = [Node("node1", self.base), Node("node2", self.base)]
        self.processes: list[subprocess.Popen[bytes]] = []
        # Throwaway passwords: the template names the users, each deployment sets their passwords.
        self.passwords = {
            name: secrets.token_hex(16) for name in ("superuser", "replication", "rewind", "zupy")
        }

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "PatroniCluster":
        etcd_dir = self.base / "etcd"
        self._spawn(
            [
                self.etcd, "--name", "etcd1", "--data-dir", str(etcd_dir),
                "--listen-client-urls", f"http://127.0.0.1:{self.etcd_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.etcd_peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.etcd_peer_port}",
                "--initial-cluster", f"etcd1=http://127.0.0.1:{self.etcd_peer_port}",
            ],
            self.base / "etcd.log",
        )  # fmt: skip
        wait_for("etcd", lambda: requests.get(f"http://127.0.0.1:{self.etcd_port}/health", timeout=1).ok)
        first, second = self.nodes
        self._start_node(first)
        wait_for("the first node leading", lambda: first.role() == "primary" and self.writable(first), 120)
        self._start_node(second)
        wait_for("the standby streaming", lambda: self.streaming(first), 120)
        return self

    def _start_node(self, node: Node) -> None:
        node.config.write_text(yaml.safe_dump(self.node_config(node)))
        if self.user:
            shutil.chown(node.config, self.user)
        node.process = self._spawn([self.patroni, str(node.config)], node.log)

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.base,
                user=self.user, group=self.user,
                env={**os.environ, "HOME": str(self.base), "ZUPY_DB_PASSWORD": self.passwords["zupy"]},
            )  # fmt: skip
        self.processes.append(process)
        return process

    def destroy(self) -> None:
        for process in reversed(self.processes):  # the Patronis stop their PostgreSQL, then etcd
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for node in self.nodes:  # a postmaster Patroni started outlives it only if Patroni was killed
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.kill(node.postmaster_pid(), signal.SIGKILL)
        if not os.environ.get("ZUPY_KEEP_PATRONI"):
            shutil.rmtree(self.base, ignore_errors=True)

    # --- configuration -------------------------------------------------------------------------
    def node_config(self, node: Node) -> dict[str, Any]:
        """The template with this node's names, ports and directories, and the drill's timings."""
        config: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
        config["scope"] = "zupy-drill"
        config["name"] = node.name
        config["restapi"].update(
            listen=f"127.0.0.1:{node.api_port}", connect_address=f"127.0.0.1:{node.api_port}"
        )
        config["etcd3"] = {"hosts": [f"127.0.0.1:{self.etcd_port}"]}
        dcs = config["bootstrap"]["dcs"]
        dcs.update(
            ttl=5, loop_wait=1, retry_timeout=2, primary_start_timeout=0, synchronous_mode=self.synchronous
        )
        postgresql = config["postgresql"]
        postgresql.update(
            listen=f"127.0.0.1:{node.pg_port}",
            connect_address=f"127.0.0.1:{node.pg_port}",
            data_dir=str(node.data_dir),
            bin_dir=PG_BIN,
            pgpass=str(self.base / f"{node.name}.pgpass"),
        )
        for user, settings in postgresql["authentication"].items():
            settings["password"] = self.passwords[user]
        config["bootstrap"]["post_bootstrap"] = str(TEMPLATE.with_name("post-bootstrap.sh"))
        postgresql["parameters"] = {
            **postgresql.get("parameters", {}),
            "unix_socket_directories": str(self.base),
        }
        return config

    # --- what the drill asks -------------------------------------------------------------------
    def leader(self) -> Node | None:
        leaders = [node for node in self.nodes if node.role() == "primary"]
        return leaders[0] if len(leaders) == 1 else None

    def writable(self, node: Node) -> bool:
        with node.connect() as conn:
            return not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # type: ignore[index]

    def streaming(self, primary: Node, *, sync: bool = False) -> bool:
        """Whether the other node is a standby streaming from ``primary`` (synchronously, if ``sync``).
        Patroni names each standby's connection after its member (pg_basebackup's is not one)."""
        standbys = [node.name for node in self.nodes if node is not primary]
        with primary.connect() as conn:
            states = conn.execute(
                "SELECT sync_state FROM pg_stat_replication"
                " WHERE state = 'streaming' AND application_name = ANY(%s)",
                [standbys],
            ).fetchall()
        if not states or (sync and states[0][0] != "sync"):
            return False
        # In synchronous_mode Patroni promotes only the member its DCS names as the synchronous
        # standby; PostgreSQL's sync_state can be ahead of that record, and a kill in between
        # leaves the cluster without a leader that may be promoted.
        return not sync or self.sync_standby_recorded(primary)

    def sync_standby_recorded(self, primary: Node) -> bool:
        members = requests.get(f"{primary.api}/cluster", timeout=2).json().get("members", [])
        live = ("streaming", "running")
        return any(m.get("role") == "sync_standby" and m.get("state") in live for m in members)

    def database_url(self, dbname: str = "zupy") -> str:
        """libpq multi-host: every node, and only the one that takes writes answers."""
        hosts = ",".join(f"127.0.0.1:{node.pg_port}" for node in self.nodes)
        return f"postgres://zupy:{self.passwords['zupy']}@{hosts}/{dbname}?target_session_attrs=read-write"

    def set_synchronous(self, on: bool) -> None:
        leader = self.leader()
        assert leader is not None
        answer = requests.patch(f"{leader.api}/config", json={"synchronous_mode": on}, timeout=5)
        assert answer.ok, answer.text
        wait_for("the replication mode", lambda: self.streaming(leader, sync=True) == on, 60)
