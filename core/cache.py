"""Two levels of cache for small, hot, rarely changing lookups (an API key, a webhook config): a few
seconds in this process, then the shared Django cache (Redis in production), then the loader.

``forget`` clears both levels here and the shared level everywhere; other processes drop their
local copy within ``local_ttl``.

A shared-cache outage is not an outage of the API: reads go to the loader (the database) until the
cache answers again. ``forget`` still raises: whoever revoked a key must learn that the shared
cache may still hold it.
"""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router, transaction

log = logging.getLogger("core.cache")
_MISSING = object()
_local: dict[str, tuple[float, Any]] = {}
_LOCAL_MAX = 10_000


def memo_get(key: str, load: Callable[[], Any], *, shared_ttl: float, local_ttl: float) -> Any:
    now = time.monotonic()
    hit = _local.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    try:
        value = cache.get(key, _MISSING)
    except Exception as exc:
        # Fail open, like the rate limit: without this every authenticated request is a 500
        # while Redis is away. No key in the message: an API key's cache key is its digest.
        log.warning("shared cache unavailable, loading without it: %s", exc)
        return _remember(key, load(), now + local_ttl)
    if value is _MISSING:
        value = load()
        cache.set(key, value, shared_ttl)
    return _remember(key, value, now + local_ttl)


def _remember(key: str, value: Any, until: float) -> Any:
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = (until, value)
    return value


def memo_forget(*keys: str) -> None:
    cache.delete_many(list(keys))
    for key in keys:
        _local.pop(key, None)


class DatabaseCache(DjangoDatabaseCache):
    """Django's database cache with an ``incr`` that two processes cannot interleave.

    Django's ``incr`` is a read followed by a write, so two workers counting at once can both
    write n+1 and a rate limit lets through more than its tier. Here the read and the write share
    one transaction that holds the row: ``SELECT ... FOR UPDATE`` on PostgreSQL, and on SQLite the
    IMMEDIATE transaction (``settings.DATABASES``) that takes the database's write lock up front.
    Caveat: the cache uses the request's connection, so inside an ``atomic`` block a cache write
    commits or rolls back with it (the rate limiter counts before any transaction opens).
    """

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> Any:
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        with transaction.atomic(using=db):
            if connection.features.has_select_for_update:
                table = connection.ops.quote_name(self.cache_model_class._meta.db_table)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT 1 FROM {table} WHERE cache_key = %s FOR UPDATE",  # noqa: S608 (our table name)
                        [self.make_and_validate_key(key, version=version)],
                    )
            return super().incr(key, delta, version)
