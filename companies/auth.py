"""Who is calling and how much: X-API-Key authentication, the key's permissions, and per-key rate limits
with their X-RateLimit-* headers."""

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from companies.models import ApiKey, Company
from companies.selectors import api_key_authenticate
from core.errors import AuthenticationRequired, PermissionDenied
from core.problems import WWW_AUTHENTICATE
from core.ratelimit import counter_incr

if TYPE_CHECKING:  # rest_framework.views imports the settings that name these classes: a cycle at run time
    from rest_framework.views import APIView

log = logging.getLogger("zupy.ratelimit")


# --- Authentication and permissions -----------------------------------------------------------------
@dataclass(frozen=True)
class Partner:
    """``request.user`` for API calls: the key's company, which scopes every query. DRF also sets it on
    Django's request, where the request log line finds it."""

    company: Company
    api_key: ApiKey
    is_authenticated: bool = True


def partner_of(request: Request) -> Partner:
    """``request.user`` as what it is behind ApiKeyAuthentication and HasApiKey: the stubs can only say
    User | AnonymousUser. A view reached without a key is a wiring mistake, so it fails loudly."""
    user = request.user
    if not isinstance(user, Partner):
        raise TypeError(f"expected an API key's Partner as request.user, got {type(user).__name__}")
    return user


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        raw = request.META.get("HTTP_X_API_KEY")
        if not raw:
            return None  # the permission check answers 401 authentication-required
        api_key = api_key_authenticate(raw.strip())
        if api_key is None:
            raise AuthenticationRequired("The API key is unknown or revoked.")
        return Partner(company=api_key.company, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        return request.auth is not None


class KeyCanWrite(BasePermission):
    """A read-only key may call GET/HEAD/OPTIONS only."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if request.method in SAFE_METHODS or not isinstance(api_key, ApiKey):
            return True
        if api_key.read_only:
            raise PermissionDenied("This API key is read-only.")
        return True


# --- Rate limits --------------------------------------------------------------------------------------
# Per key, by the company's tier, counted in the Django cache (Redis in production, a database table on
# the embedded default: either way every API process shares one budget). Fixed one-minute windows.
WINDOW = 60


def _count(key: str) -> int:
    """Add one to the window's counter and return it (the kit's one counter); raises when the cache
    is down, and ``allow_request`` fails open."""
    return counter_incr(key, ttl=WINDOW + 5)


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
        # RateLimitHeaders copies these onto the answer, the 429 included.
        request.zupy_ratelimit = (limit, max(limit - count, 0), reset)  # type: ignore[attr-defined]
        self.reset = reset
        return count <= limit

    def wait(self) -> float:
        return self.reset
