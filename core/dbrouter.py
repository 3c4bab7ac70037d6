"""Reads that tolerate a little lag go to a streaming replica (``DATABASES["replica"]``, from
``DATABASE_REPLICA_URL``); everything else goes to the primary.

A read goes to the replica only inside ``replica_reads()`` (the views with ``reads_from_replica =
True`` enter it for their GET, after authentication, permissions and rate limits have run on the
primary), and only when all of these hold, checked once per request:

- no transaction is open on the primary (a read inside one may be a read a write depends on);
- the model is not the database cache's (rate-limit counters, OTP counters: never stale);
- the calling API key has not written in the last ``DB_REPLICA_READ_YOUR_WRITES_SECONDS`` (a
  partner reads its own writes: the mark is kept in the shared cache, so every API process agrees);
- the replica answers and is a standby whose lag is at most ``DB_REPLICA_MAX_LAG`` seconds.

Anything else (every write, ``select_for_update``, raw statements through ``connection``, admin,
the workers) uses the primary as before. A replica that refuses connections or lags past the bound
costs nothing but the check: the request reads from the primary.

The lag is the age of the last transaction the standby replayed while WAL it has received waits
to be replayed (0 while it has replayed all it received). With the read-your-writes window at least
as long as the bound (settings refuse otherwise), a key's write older than the window is either
replayed or makes the replica count as lagging past the bound.
"""

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections

log = logging.getLogger("core.dbrouter")

PRIMARY = "default"
REPLICA = "replica"
# The database cache's table (Django's DatabaseCache routes by this app label): counters must not go stale.
NEVER_REPLICA_APPS = frozenset({"django_cache"})

# One statement on the replica: NULL when it is not a standby (promoted, or the wrong server), else
# the lag in seconds as described above.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NOT NULL
         AND pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
    ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
END
"""


@dataclass
class _Scope:
    """One request's permission to read from the replica; ``use`` is decided on the first read."""

    writer: str | None  # the API key whose read-your-writes mark is checked
    use: bool | None = None


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("zupy_replica_scope", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _mark_key(writer: str) -> str:
    return f"zupy:wrote:{writer}"


def replica_note_write(*, writer: str) -> None:
    """Record that ``writer`` (an API key's id) has just written: its reads go to the primary for
    ``DB_REPLICA_READ_YOUR_WRITES_SECONDS``. Without a replica there is nothing to record."""
    if not replica_configured():
        return
    try:
        cache.set(_mark_key(writer), 1, settings.DB_REPLICA_READ_YOUR_WRITES_SECONDS)
    except Exception as exc:  # the cache is down: is_marked cannot read it either, and says "marked"
        log.warning("shared cache unavailable, write mark not recorded: %s", exc)


def _marked(writer: str) -> bool:
    try:
        return cache.get(_mark_key(writer)) is not None
    except Exception as exc:  # unknown: read from the primary
        log.warning("shared cache unavailable, reading from the primary: %s", exc)
        return True


@contextlib.contextmanager
def replica_reads(*, writer: str | None) -> Iterator[None]:
    """Within this block the router may send ORM reads to the replica (see the module's rules)."""
    token = _scope.set(_Scope(writer=writer) if replica_configured() else None)
    try:
        yield
    finally:
        _scope.reset(token)


class _ReplicaHealth:
    """Per process: after a failed connection the replica is not tried again for a while, so a
    replica that is down costs one failed attempt per ``DB_REPLICA_RETRY_INTERVAL``, not one a request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retry_after = 0.0  # monotonic

    def resting(self) -> bool:
        with self.lock:
            return time.monotonic() < self.retry_after

    def failed(self) -> None:
        with self.lock:
            self.retry_after = time.monotonic() + settings.DB_REPLICA_RETRY_INTERVAL


_health = _ReplicaHealth()


def replica_lag() -> float | None:
    """The replica's lag in seconds; None when it cannot be reached or is not a standby."""
    if _health.resting():
        return None
    replica = connections[REPLICA]
    try:
        with replica.cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError as exc:
        log.warning("replica unavailable, reading from the primary: %s", exc)
        _health.failed()
        with contextlib.suppress(DatabaseError):
            replica.close()
        return None
    return None if lag is None else float(lag)


def _replica_usable(scope: _Scope) -> bool:
    if scope.writer is not None and _marked(scope.writer):
        return False
    lag = replica_lag()
    return lag is not None and lag <= settings.DB_REPLICA_MAX_LAG


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry: see the module's docstring."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        scope = _scope.get()
        if scope is None or model._meta.app_label in NEVER_REPLICA_APPS:
            return None
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        if scope.use is None:
            scope.use = _replica_usable(scope)
        # Explicit either way: an instance read from the replica must not draw the reads of its
        # relations there once the request has chosen the primary.
        return REPLICA if scope.use else PRIMARY

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the same rows on both

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY  # the replica gets the primary's schema by replication
