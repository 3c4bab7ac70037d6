"""The one fixed-window counter: hits counted in the shared Django cache (Redis in production, the
database table on the embedded default), so every process shares one budget.

What a caller does when the cache does not answer is its own decision, and each says it at the call:

- ``fail_open=True``: the hit is not counted and the caller goes on (``Window.count`` is None). For
  limits that protect capacity, not money or people: the API's per-key rate limit, where a cache outage
  must not stop the tills, and the per-address limit of the public wallet paths.
- ``fail_open=False``: ``CounterUnavailable`` is raised and the caller refuses. For limits that are
  the only thing standing between a caller and a cost or an attack: the OTP request counters, which
  stop code spraying and message bills.
"""

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger("core.ratelimit")

# A counter outlives its window by this much, so a hit at the window's last second still finds it.
_TTL_SLACK = 5

_clients: dict[int, Any] = {}


class CounterUnavailable(Exception):
    """The shared cache did not answer, and the caller asked to fail closed."""


@dataclass(frozen=True)
class Window:
    count: int | None  # hits in this window, this one included; None when not counted (failed open)
    reset: int  # seconds until the window ends, at least 1

    def exceeds(self, limit: int) -> bool:
        """Whether this hit is over ``limit``; an uncounted hit never is."""
        return self.count is not None and self.count > limit


def _redis_client(backend: RedisCache) -> Any:
    """The redis-py client under Django's cache, kept once per process.

    ``backend._cache`` is private, and worth it: it is the only way to send INCR and EXPIRE as one
    pipelined round trip on every API request (Django's public ``incr`` needs ``add`` first, a second
    round trip, and has no expiry of its own), and it reuses the cache's own URL, options and
    connection pool rather than configuring a second client beside it. Django builds a new client
    object per cache call; one per process is enough (the pool underneath is shared anyway)."""
    redis_cache = backend._cache  # type: ignore[attr-defined]  # private: django-stubs leave it out
    client = _clients.get(id(redis_cache))
    if client is None:
        client = _clients[id(redis_cache)] = redis_cache.get_client(write=True)
    return client


def counter_incr(key: str, *, ttl: int) -> int:
    """Add one to the counter ``key`` (created with ``ttl`` seconds to live) and return it; raises
    whatever the cache raises when it is down.

    One round trip on Redis (INCR and EXPIRE pipelined); elsewhere the portable add-then-incr, atomic
    on the default database cache, whose incr holds the row (``core.cache.DatabaseCache``)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend).pipeline(transaction=False)
        pipe.incr(redis_key)
        pipe.expire(redis_key, ttl)
        count, _ = pipe.execute()
        return int(count)
    backend.add(key, 0, timeout=ttl)
    try:
        return int(backend.incr(key))
    except ValueError:  # evicted (or expired) between add and incr: this hit starts it again
        backend.set(key, 1, timeout=ttl)
        return 1


def window_hit(scope: str, *, window: int, fail_open: bool) -> Window:
    """Count one hit for ``scope`` in the current ``window``-second fixed window (windows start at
    multiples of ``window`` since the epoch, the same instant in every process).

    When the cache fails: with ``fail_open`` the hit is logged and not counted; without it,
    ``CounterUnavailable`` is raised (chained to the cache's error)."""
    now = time.time()
    reset = max(1, math.ceil(window - now % window))
    key = f"{scope}:{int(now // window)}"
    try:
        count = counter_incr(key, ttl=window + _TTL_SLACK)
    except Exception as exc:  # the cache's clients raise many types (redis, database, socket)
        if not fail_open:
            raise CounterUnavailable("the counter's cache did not answer") from exc
        # The scope may hold an identifier (an OTP's phone number): the prefix only.
        log.warning("counter unavailable, hit not counted (%s): %s", scope.split(":", 1)[0], exc)
        return Window(count=None, reset=reset)
    return Window(count=count, reset=reset)
