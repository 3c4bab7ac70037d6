"""Who is calling and how much: X-API-Key authentication, the key's permissions, per-key rate limits
with their X-RateLimit-* headers, and the per-address limit of requests without a valid key.

``ApiGateMiddleware`` does the authentication and the counting before the rest of the stack, so a
request that is refused (no key, an unknown key, a budget used up) costs a cache look-up and a counter,
not DRF; DRF's ``ApiKeyAuthentication`` and ``TierRateThrottle`` then reuse what it found."""

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from companies.models import ApiKey, Company
from companies.selectors import api_key_authenticate
from core.errors import AuthenticationRequired, PermissionDenied
from core.problems import (
    DATABASE_UNAVAILABLE,
    KEY_RATE_LIMITED,
    PROBLEM_CONTENT_TYPE,
    WWW_AUTHENTICATE,
    database_unavailable,
    problem,
)
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


UNKNOWN_KEY = "The API key is unknown or revoked."


def _key_of(request: HttpRequest) -> ApiKey | str | None:
    """The request's key: an ``ApiKey``, None without the header, or ``UNKNOWN_KEY``."""
    raw = request.META.get("HTTP_X_API_KEY")
    if not raw:
        return None
    return api_key_authenticate(raw.strip()) or UNKNOWN_KEY


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        # ApiGateMiddleware has looked the key up already (and refused the request without one).
        api_key = getattr(request._request, "zupy_api_key", None) or _key_of(request._request)
        if api_key is None:
            return None  # the permission check answers 401 authentication-required
        if not isinstance(api_key, ApiKey):
            raise AuthenticationRequired(UNKNOWN_KEY)
        return Partner(company=api_key.company, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return WWW_AUTHENTICATE


class HasApiKey(BasePermission):
    def has_permission(self, request: Request, view: "APIView") -> bool:
        return request.auth is not None


READ_ONLY = "This API key is read-only."


class KeyCanWrite(BasePermission):
    """A read-only key may call GET/HEAD/OPTIONS only."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if request.method in SAFE_METHODS or not isinstance(api_key, ApiKey):
            return True
        if api_key.read_only:
            raise PermissionDenied(READ_ONLY)
        return True


# --- Rate limits --------------------------------------------------------------------------------------
# Per key, by the company's tier, counted in the Django cache (Redis in production, a database table on
# the embedded default: either way every API process shares one budget). Fixed one-minute windows.
WINDOW = 60


def _count(key: str) -> int:
    """Add one to the window's counter and return it (the kit's one counter); raises when the cache
    is down, and ``allow_request`` fails open."""
    return counter_incr(key, ttl=WINDOW + 5)


@dataclass(frozen=True)
class Budget:
    """Where one counter stands after this request: ``limits`` is what X-RateLimit-* says."""

    limit: int
    count: int
    reset: int

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    @property
    def limits(self) -> tuple[int, int, int]:
        return self.limit, max(self.limit - self.count, 0), self.reset


# Counters this process has seen over their limit in the current window, with that limit. A count only
# grows within its window, so until the window ends every further request on the counter is refused
# here, without a round trip to the cache: a refusal then costs no I/O at all. Keyed with the limit too,
# so that a tier raised meanwhile (the key's lookup refreshes within API_KEY_LOCAL_TTL) counts again.
_exhausted: dict[str, int] = {}
_exhausted_window = [0]


def forget_exhausted() -> None:
    """Drop what this process knows about used-up budgets (tests that clear the cache)."""
    _exhausted.clear()


def _spend(counter: str, limit: int) -> Budget | None:
    """One request against ``counter`` in this one-minute window; None when the cache does not answer."""
    now = time.time()
    window = int(now // WINDOW)
    reset = max(1, math.ceil(WINDOW - now % WINDOW))
    key = f"zupy:rl:{counter}:{window}"
    if _exhausted_window[0] != window:  # entries name their window: this only bounds the dict
        _exhausted.clear()
        _exhausted_window[0] = window
    elif _exhausted.get(key) == limit:
        return Budget(limit=limit, count=limit + 1, reset=reset)
    try:
        count = _count(key)
    except Exception:
        # Fail open: a cache outage must not stop tills; the limit protects capacity, not money.
        log.warning("rate-limit cache unavailable; request allowed", exc_info=True)
        return None
    if count > limit:
        _exhausted[key] = limit
    return Budget(limit=limit, count=count, reset=reset)


def key_budget(api_key: ApiKey, scope: str | None = None) -> Budget | None:
    """Count one request against the key's budget, by its company's tier; a view with a
    ``rate_limit_scope`` (the inbound partner webhook: ``"inbound"``) has a budget of its own."""
    if scope == "inbound":
        return _spend(f"inbound:{api_key.pk}", settings.ZUPY_INBOUND_RATE_LIMITS[api_key.company.rate_tier])
    return _spend(str(api_key.pk), settings.ZUPY_RATE_LIMITS[api_key.company.rate_tier])


def tier_budget(counter: str, tier: str) -> Budget | None:
    """Count one request on ``counter`` against ``tier``'s per-key limit: the budget of a credential
    that is not an API key (an OpenDelivery client), counted as a key's is."""
    return _spend(counter, settings.ZUPY_RATE_LIMITS[tier])


def client_address(request: HttpRequest) -> str:
    """The caller's address as the admin's login throttling reads it (ipware, TRUSTED_PROXY_COUNT):
    behind nginx the address nginx saw, never one the client wrote into X-Forwarded-For itself."""
    return get_client_ip_address(request) or "unknown"


def anonymous_budget(request: HttpRequest) -> Budget | None:
    """Count one request without a valid key (the schema, the docs page, a missing or unknown key)
    against its client address."""
    return _spend(f"anon:{client_address(request)}", settings.ZUPY_ANONYMOUS_RATE_LIMIT)


class TierRateThrottle(BaseThrottle):
    """The key's limit for a request that did not pass ``ApiGateMiddleware`` (which counts, and
    refuses, before DRF): never a second count."""

    def allow_request(self, request: Request, view: "APIView") -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey) or getattr(request._request, "zupy_api_key", None) is not None:
            return True
        budget = key_budget(api_key, getattr(view, "rate_limit_scope", None))
        if budget is None:
            return True
        # RateLimitHeaders copies these onto the answer, the 429 included.
        request.zupy_ratelimit = budget.limits  # type: ignore[attr-defined]
        self.reset = budget.reset
        return budget.allowed

    def wait(self) -> float:
        return self.reset


# --- Before the rest of the stack ---------------------------------------------------------------------
API_PREFIX = "/api/v2/"
ANONYMOUS_LIMITED = (
    "Too many requests without a valid API key from this address this minute; see Retry-After and "
    "X-RateLimit-*."
)


class ApiGateMiddleware:
    """Authentication and rate limits as the first thing an API request meets (after its request id,
    its log line and the problem+json guard): a refused request costs the cached key lookup and one
    counter, not sessions, DRF, negotiation and a view. A tenant over its limit, or anyone without a
    key, then takes little of the capacity the other tenants are served with.

    For a path under ``/api/v2/`` that resolves to a view authenticated by ``ApiKeyAuthentication``:
    a known key is counted against its tier and answered 429 when over (a read-only key's write is
    KeyCanWrite's 403 first, uncounted, as in DRF); DRF then reuses the key and the count
    (``request.zupy_api_key``, ``request.zupy_ratelimit``). No key, or an unknown one, is counted
    against the client address (``RATE_LIMIT_ANONYMOUS``) and answered 401, or 429 when that budget is
    used up. Public views (the schema, the docs page) are counted against the address too. A path
    that does not resolve is left to Django's 404, uncounted, as before. The answers are the ones DRF
    gave, byte for byte, with the view's own headers (``Allow``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._views: dict[Callable[..., Any], tuple[bool, dict[str, str], str | None]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            try:
                refusal = self._gate(request)
            except DATABASE_UNAVAILABLE:
                # A key not in the cache is read from the database: down, it is the view's 503.
                return database_unavailable(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def _view(self, func: Callable[..., Any]) -> tuple[bool, dict[str, str], str | None]:
        """Whether the view needs a key, the headers DRF adds to each of its answers, and its
        ``rate_limit_scope``."""
        known = self._views.get(func)
        if known is None:
            cls = getattr(func, "view_class", None)
            classes = getattr(cls, "authentication_classes", ())
            keyed = any(issubclass(auth, ApiKeyAuthentication) for auth in classes)
            headers: dict[str, str] = {}
            if keyed and cls is not None:
                view = cls()
                if hasattr(view, "get") and not hasattr(view, "head"):
                    view.head = view.get  # what Django's View.setup does for every request
                headers = dict(view.default_response_headers)
            known = self._views[func] = (keyed, headers, getattr(cls, "rate_limit_scope", None))
        return known

    def _gate(self, request: HttpRequest) -> HttpResponse | None:
        try:
            # A Host this server does not serve is refused first, as before (CommonMiddleware's 400).
            request.get_host()
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except (DisallowedHost, Resolver404):
            return None
        keyed, headers, scope = self._view(match.func)
        # The request log and metrics name a refused request's route as they name a served one's.
        request.resolver_match = match
        api_key = _key_of(request) if keyed else None
        if isinstance(api_key, ApiKey):
            request.zupy_api_key = api_key  # type: ignore[attr-defined]  # read by ApiKeyAuthentication
            request.auth = api_key  # type: ignore[attr-defined]  # as DRF sets it: the request log's company
            if api_key.read_only and request.method not in SAFE_METHODS:
                # KeyCanWrite's refusal, before the count as in DRF (permissions, then throttles).
                request.user = Partner(company=api_key.company, api_key=api_key)  # type: ignore[assignment]
                return _refusal(request, 403, headers, detail=READ_ONLY)
            budget = key_budget(api_key, scope)
            if budget is None:
                return None
            request.zupy_ratelimit = budget.limits  # type: ignore[attr-defined]  # read by RateLimitHeaders
            if budget.allowed:
                return None
            request.user = Partner(company=api_key.company, api_key=api_key)  # type: ignore[assignment]
            return _refusal(request, 429, headers, detail=KEY_RATE_LIMITED, budget=budget)
        budget = anonymous_budget(request)
        if budget is not None and not budget.allowed:
            return _refusal(request, 429, headers, detail=ANONYMOUS_LIMITED, budget=budget)
        if not keyed:
            return None
        return _refusal(request, 401, headers, detail=None if api_key is None else UNKNOWN_KEY)


_render = JSONRenderer().render


@functools.lru_cache(maxsize=1024)
def _refusal_body(status: int, instance: str, detail: str | None) -> bytes:
    """A refusal's body, rendered once per (status, path, detail): the refusals of one caller hammering
    one path are the same bytes. Bounded, so paths that all differ cost a render each, as before."""
    return _render(problem(status, instance=instance, detail=detail))


def _refusal(
    request: HttpRequest,
    status: int,
    headers: dict[str, str],
    *,
    detail: str | None = None,
    budget: Budget | None = None,
) -> HttpResponse:
    """The answer DRF's view gave for this refusal: the same problem, rendered by the API's JSON
    renderer, with the view's headers (``Allow``) and the budget's. Built here rather than through the
    exception handler: a refusal is the one answer that must stay cheap (tests/companies/test_api_gate.py
    holds the two to the same bytes)."""
    response = HttpResponse(
        _refusal_body(status, request.path, detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )
    if status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    if budget is not None:
        response["Retry-After"] = str(budget.reset)
        for name, number in zip(("Limit", "Remaining", "Reset"), budget.limits, strict=True):
            response[f"X-RateLimit-{name}"] = str(number)
    response["Content-Length"] = str(len(response.content))  # CommonMiddleware's, on every other answer
    return response
