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

log = logging.getLogger("zupy.cache")
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
