"""Per-key rate limits by the company's tier, counted in the Django cache (Redis in production, so
every API process shares one budget). Fixed one-minute windows."""

import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

log = logging.getLogger("zupy.ratelimit")
WINDOW = 60


class TierRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        api_key = request.auth
        if api_key is None:
            return True
        limit = settings.ZUPY_RATE_LIMITS[api_key.company.rate_tier]
        now = time.time()
        reset = max(1, math.ceil(WINDOW - now % WINDOW))
        key = f"zupy:rl:{api_key.pk}:{int(now // WINDOW)}"
        try:
            cache.add(key, 0, timeout=WINDOW + 5)
            count = cache.incr(key)
        except Exception:
            # Fail open: a cache outage must not stop tills; the limit protects capacity, not money.
            log.warning("rate-limit cache unavailable; request allowed", exc_info=True)
            return True
        # The middleware copies these onto every answer, the 429 included.
        request._request.zupy_ratelimit = (limit, max(limit - count, 0), reset)
        self.reset = reset
        return count <= limit

    def wait(self) -> float:
        return self.reset
