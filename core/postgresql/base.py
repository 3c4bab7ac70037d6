"""Django's PostgreSQL backend with psycopg's pool, checking connections and failing fast in an outage.

A pooled connection is checked (the pool's own ``check_connection``) before a request gets it. When one
fails, the database has most likely restarted and broken every idle connection alike, so the pool is
swept (``pool.check()``) and the request waits for a new connection instead of meeting the next broken
one: a restart costs only the requests that were in flight. (The pool's built-in check would try the
broken connections one by one, sleeping 1, 2, 4 ... seconds between them.)

While the database cannot be reached, a request that finds no working connection would wait the
pool's timeout (``DB_POOL_TIMEOUT``) before its 503, and so would ``/readyz``. Instead a request that
gets no connection within ``FIRST_WAIT`` tries one of its own outside the pool; refused, the server is
down and the request fails now. From then on this process fails at once; at most every
``DB_OUTAGE_PROBE_INTERVAL`` seconds one request tries such a connection again (the probe) while the
others keep failing at once, and when it connects the requests go back to the pool. A connection the
pool already holds ready is always tried. The failures are ``OperationalError``s, answered 503
``service-unavailable``.
"""

import threading
import time
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout


class _Outage:
    """Per process and database alias: every thread's connection to a database shares its one pool
    (a replica that is down says nothing about the primary)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down = False
        self.probe_after = 0.0  # monotonic
        self.probing = False


_outages: dict[str, _Outage] = {}
_outages_lock = threading.Lock()


def _outage_of(alias: str) -> _Outage:
    outage = _outages.get(alias)
    if outage is None:
        with _outages_lock:
            outage = _outages.setdefault(alias, _Outage())
    return outage


# How long a request waits on the pool before asking whether the server answers at all: a healthy pool
# of this size hands out a connection in milliseconds (threads per process are fewer than its maximum).
FIRST_WAIT = 0.5


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        pool: ConnectionPool[Any] | None = self.pool  # type: ignore[attr-defined]  # Django 5.1+, unstubbed
        if pool is None or self.settings_dict["OPTIONS"].get("isolation_level") is not None:
            return super().get_new_connection(conn_params)  # Django's own path (it sets the level)
        outage = _outage_of(self.alias)
        if not self._reachable(outage, pool, conn_params):
            raise psycopg.OperationalError("The database cannot be reached; not waiting for it.")
        try:
            return self._checked_connection(pool, conn_params)
        except psycopg.OperationalError:  # the pool's timeout (PoolTimeout) is one
            with outage.lock:
                outage.down = True
                outage.probe_after = time.monotonic() + settings.DB_OUTAGE_PROBE_INTERVAL
            raise

    def _reachable(self, outage: _Outage, pool: ConnectionPool[Any], conn_params: dict[str, Any]) -> bool:
        """False at once while the database is known to be down; else True, after one connection
        attempt outside the pool (the probe) when the last one is DB_OUTAGE_PROBE_INTERVAL old."""
        with outage.lock:
            if not outage.down or pool.get_stats().get("pool_available"):
                return True
            if outage.probing or time.monotonic() < outage.probe_after:
                return False
            outage.probing = True
        reachable = _connects(conn_params)
        with outage.lock:
            outage.probing = False
            if reachable:
                outage.down = False
            else:
                outage.probe_after = time.monotonic() + settings.DB_OUTAGE_PROBE_INTERVAL
        return reachable

    def _checked_connection(self, pool: ConnectionPool[Any], conn_params: dict[str, Any]) -> Any:
        connection = _getconn(pool, conn_params)
        try:
            ConnectionPool.check_connection(connection)
        except psycopg.Error:
            pool.putconn(connection)  # broken: the pool discards it and makes a new one
            pool.check()  # and every idle one as broken as this
            connection = _getconn(pool, conn_params)
        return connection


def _getconn(pool: ConnectionPool[Any], conn_params: dict[str, Any]) -> Any:
    """A connection from the pool; if none comes within FIRST_WAIT and the server refuses a connection
    of its own, the server is down: fail now rather than after the pool's timeout."""
    pool.open()  # as Django does: the first use opens the pool
    try:
        return pool.getconn(timeout=min(FIRST_WAIT, pool.timeout))
    except PoolTimeout:
        if not _connects(conn_params):
            raise
    return pool.getconn()  # the server answers and the pool is only slow: wait its whole timeout


def _connects(conn_params: dict[str, Any]) -> bool:
    """Whether a connection of its own, outside the pool, can be made now. A refused connection fails
    at once; a server that does not answer within libpq's smallest connect timeout (2 s) counts as down."""
    try:
        psycopg.connect(**{**conn_params, "connect_timeout": 2}).close()
    except psycopg.Error:
        return False
    return True
