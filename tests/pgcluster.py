"""Throwaway PostgreSQL 15 clusters for tests: a primary from ``initdb`` and streaming standbys from
``pg_basebackup -R``, each in its own directory under a temporary root, on a free loopback port.

    with tempfile.TemporaryDirectory(prefix="zupy-pg-", dir="/tmp") as root:
        primary = Cluster.primary(Path(root) / "a")
        standby = primary.standby(Path(root) / "b")
        standby.pause_replay()      # the standby keeps receiving WAL but applies none of it
        ...
        standby.stop(); primary.stop()

Run as root, the server runs as ``postgres`` (PostgreSQL refuses root). The Debian package's server
binaries (``/usr/lib/postgresql/15/bin``) are required: without them the helper raises with that
path in its message, so a test that needs a cluster fails saying what is missing rather than skipping.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
# Durability is not what these clusters test; fsync off keeps them quick on a loaded machine.
DEFAULT_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "hot_standby": "on",
    "wal_receiver_status_interval": "1s",
    "max_connections": "100",
}


class ClusterError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_binary(tool: str) -> str:
    """The path of a PostgreSQL server program (``initdb``, ``pg_ctl``, ``postgres``, ...)."""
    path = BIN / tool
    if not os.access(path, os.X_OK):
        raise ClusterError(
            f"{path} not found: these tests run real PostgreSQL 15 clusters and need its server binaries "
            "(Debian's postgresql-15; PG_BIN points elsewhere)"
        )
    return str(path)


def as_postgres(args: Sequence[str]) -> list[str]:
    """``args`` run as the ``postgres`` user when this process is root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


def own_by_postgres(path: Path) -> None:
    """``path`` owned by ``postgres`` when this process is root, and its parents traversable (a
    ``tempfile.mkdtemp`` directory is root's alone)."""
    if os.geteuid() != 0:
        return
    shutil.chown(path, "postgres", "postgres")
    for parent in Path(path).resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            os.chmod(parent, (mode & 0o7777) | 0o011)


class Cluster:
    """One PostgreSQL server: its data directory ``dir/data``, log ``dir/log``, socket in ``dir``."""

    def __init__(self, dir: Path, port: int, settings: dict[str, str]) -> None:
        self.dir = Path(dir)
        self.port = port
        self.settings = settings

    # --- creating ---------------------------------------------------------------------------
    @classmethod
    def primary(cls, dir: Path, *, settings: dict[str, str] | None = None, start: bool = True) -> "Cluster":
        """A new cluster from ``initdb`` (user ``postgres``, trust authentication on loopback, which
        initdb's pg_hba.conf also grants to replication connections)."""
        cluster = cls(dir, free_port(), {**DEFAULT_SETTINGS, **(settings or {})})
        cluster._make_dir()
        cluster._run("initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if start:
            cluster.start()
        return cluster

    def standby(self, dir: Path, *, settings: dict[str, str] | None = None, start: bool = True) -> "Cluster":
        """A streaming standby of this (running) cluster: ``pg_basebackup -R`` writes its
        ``standby.signal`` and ``primary_conninfo``. Started, it is streaming before this returns."""
        standby = type(self)(dir, free_port(), {**self.settings, **(settings or {})})
        standby._make_dir()
        standby._run(
            "pg_basebackup", "-D", str(standby.data), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        if start:
            standby.start()
            standby.wait_streaming()
        return standby

    def _make_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        own_by_postgres(self.dir)

    @property
    def data(self) -> Path:
        return self.dir / "data"

    @property
    def log(self) -> Path:
        return self.dir / "log"

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        run = subprocess.run(as_postgres([server_binary(tool), *args]), capture_output=True, text=True)
        if run.returncode != 0:
            command = " ".join([tool, *args])
            raise ClusterError(f"{command} failed ({run.returncode}): {run.stderr}{self.log_tail()}")
        return run

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # --- running ----------------------------------------------------------------------------
    def start(self) -> None:
        options = " ".join(
            [f"-p {self.port}", f"-k {self.dir}", "-c listen_addresses=127.0.0.1"]
            + [f"-c {name}={value}" for name, value in self.settings.items()]
        )
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop`` (``fast``: clients disconnected, a clean shutdown; ``immediate``: no
        shutdown checkpoint, as a crash). Nothing to do if it is not running."""
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def kill(self) -> None:
        """SIGKILL to the postmaster, as when the machine's kernel kills it: no shutdown at all (its
        backends notice and exit on their own)."""
        pid = self.postmaster_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "promote")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return (
            subprocess.run(
                as_postgres([server_binary("pg_ctl"), "-D", str(self.data), "status"]), capture_output=True
            ).returncode
            == 0
        )

    def destroy(self) -> None:
        """Stop it at once and remove its directory."""
        try:
            self.stop("immediate")
        except ClusterError:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- talking to it ----------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """An autocommit connection of its own over TCP."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True,
            connect_timeout=5, **kwargs,
        )  # fmt: skip

    def query(self, sql: str, params: Sequence[Any] = (), dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn:
            cursor = conn.execute(sql.encode(), params)  # bytes: a test's own SQL, not LiteralString
            return cursor.fetchall() if cursor.description else []

    def value(self, sql: str, params: Sequence[Any] = (), dbname: str = "postgres") -> Any:
        return self.query(sql, params, dbname)[0][0]

    def in_recovery(self) -> bool:
        return bool(self.value("SELECT pg_is_in_recovery()"))

    # --- replication ------------------------------------------------------------------------
    def wait_streaming(self, timeout: float = 60) -> None:
        """Until this standby's WAL receiver streams from its primary."""
        self._wait(lambda: self.query("SELECT status FROM pg_stat_wal_receiver") == [("streaming",)], timeout,
                   "the standby is not streaming")  # fmt: skip

    def pause_replay(self) -> None:
        """The standby keeps receiving WAL but stops applying it: its data stays as of now."""
        self.query("SELECT pg_wal_replay_pause()")
        self._wait(lambda: self.value("SELECT pg_get_wal_replay_pause_state()") == "paused", 30,
                   "replay did not pause")  # fmt: skip

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def wait_caught_up(self, primary: "Cluster", timeout: float = 60) -> None:
        """Until this standby has applied everything ``primary`` had written when this was called."""
        target = primary.value("SELECT pg_current_wal_lsn()::text")
        self._wait(
            lambda: bool(self.value("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])),
            timeout,
            f"the standby did not replay up to {target}",
        )

    def _wait(self, done: Any, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if done():
                    return
            except psycopg.OperationalError:
                pass  # starting up
            if time.monotonic() > deadline:
                raise ClusterError(f"{message} after {timeout:.0f} s{self.log_tail()}")
            time.sleep(0.1)


PGBOUNCER = os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer")


class PgBouncer:
    """A PgBouncer process of its own (never the system service) from a generated ini, on a free
    loopback port, in front of one server: every database name maps to the same name there.

        bouncer = PgBouncer(Path(root) / "bouncer", server_port=5432, pool_mode="transaction")
        ...  # postgres://postgres@127.0.0.1:{bouncer.port}/zupy
        bouncer.stop()

    ``scripts/ensure-pgbouncer`` installs Debian's package."""

    def __init__(
        self,
        dir: Path,
        *,
        server_port: int,
        pool_mode: str = "transaction",
        pool_size: int = 10,
        settings: dict[str, str] | None = None,
    ) -> None:
        if not os.access(PGBOUNCER, os.X_OK):
            raise ClusterError(f"{PGBOUNCER} not found: scripts/ensure-pgbouncer installs Debian's pgbouncer")
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.pool_mode = pool_mode
        options = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "trust",  # the user must still be listed in auth_file
            "auth_file": str(self.dir / "users.txt"),
            "admin_users": "postgres",
            "pool_mode": pool_mode,
            "default_pool_size": str(pool_size),
            "min_pool_size": "0",
            "reserve_pool_size": "0",
            "max_client_conn": "1000",
            "max_db_connections": str(pool_size),
            "logfile": str(self.dir / "log"),
            "pidfile": str(self.dir / "pid"),
            "server_check_delay": "0",
            **(settings or {}),
        }
        (self.dir / "users.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            f"[databases]\n* = host=127.0.0.1 port={server_port}\n\n[pgbouncer]\n"
            + "".join(f"{name} = {value}\n" for name, value in options.items())
        )
        for path in (self.dir, self.dir / "users.txt", self.dir / "pgbouncer.ini"):
            own_by_postgres(path)
        # PgBouncer refuses to run as root.
        self.process = subprocess.Popen(
            as_postgres([PGBOUNCER, str(self.dir / "pgbouncer.ini")]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_listening()

    def _wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"pgbouncer did not start ({self.process.poll()}){self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n" + "\n".join((self.dir / "log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def show(self, what: str) -> list[tuple[Any, ...]]:
        """``SHOW POOLS``, ``SHOW SERVERS``, ... on the admin console (simple protocol only)."""
        conn = psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="pgbouncer", autocommit=True,
            prepare_threshold=None,
        )  # fmt: skip
        try:
            cursor = psycopg.ClientCursor(conn)
            cursor.execute(f"SHOW {what}".encode())
            return cursor.fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the runuser session: pgbouncer with it
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
