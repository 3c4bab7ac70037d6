"""Two levels of cache for small, hot, rarely changing lookups (an API key, a webhook config): a few
seconds in this process, then the shared Django cache (Redis in production), then the loader.

``forget`` clears both levels here and the shared level everywhere; other processes drop their
local copy within ``local_ttl``.
"""

import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

_MISSING = object()
_local: dict[str, tuple[float, Any]] = {}
_LOCAL_MAX = 10_000


def memo_get(key: str, load: Callable[[], Any], *, shared_ttl: float, local_ttl: float) -> Any:
    now = time.monotonic()
    hit = _local.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        cache.set(key, value, shared_ttl)
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = (now + local_ttl, value)
    return value


def memo_forget(*keys: str) -> None:
    cache.delete_many(list(keys))
    for key in keys:
        _local.pop(key, None)
