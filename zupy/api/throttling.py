"""Per-key rate limits by the company's tier, counted in the Django cache (Redis in production, a
database table on the embedded default: either way every API process shares one budget). Fixed
one-minute windows."""

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from zupy.models import ApiKey

if TYPE_CHECKING:  # rest_framework.views imports the settings that name these classes: a cycle at run time
    from rest_framework.views import APIView

log = logging.getLogger("zupy.ratelimit")
WINDOW = 60


_clients: dict[int, Any] = {}


def _redis_client(backend: RedisCache) -> Any:
    """Django builds a new client object per cache call; one per process is enough (the connection
    pool underneath is shared anyway)."""
    # RedisCache._cache (Django's RedisCacheClient) is private, so django-stubs leaves it out.
    redis_cache = backend._cache  # type: ignore[attr-defined]
    client = _clients.get(id(redis_cache))
    if client is None:
        client = _clients[id(redis_cache)] = redis_cache.get_client(write=True)
    return client


def _count(key: str) -> int:
    """Add one to the window's counter and return it: one round trip on Redis (INCR and EXPIRE
    pipelined), the portable add-then-incr elsewhere (atomic on the default database cache, whose
    incr holds the row: ``zupy.cache.DatabaseCache``)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        redis_key = backend.make_and_validate_key(key)
        pipe = _redis_client(backend).pipeline(transaction=False)
        pipe.incr(redis_key)
        pipe.expire(redis_key, WINDOW + 5)
        count, _ = pipe.execute()
        return int(count)
    cache.add(key, 0, timeout=WINDOW + 5)
    return cache.incr(key)


class TierRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        limit = settings.ZUPY_RATE_LIMITS[api_key.company.rate_tier]
        now = time.time()
        reset = max(1, math.ceil(WINDOW - now % WINDOW))
        key = f"zupy:rl:{api_key.pk}:{int(now // WINDOW)}"
        try:
            count = _count(key)
        except Exception:
            # Fail open: a cache outage must not stop tills; the limit protects capacity, not money.
            log.warning("rate-limit cache unavailable; request allowed", exc_info=True)
            return True
        # The middleware copies these onto every answer, the 429 included.
        # Read by RequestObservabilityMiddleware; an attribute the stubs cannot declare (see authentication).
        request._request.zupy_ratelimit = (limit, max(limit - count, 0), reset)  # type: ignore[attr-defined]
        self.reset = reset
        return count <= limit

    def wait(self) -> float:
        return self.reset
