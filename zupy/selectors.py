import time

from django.conf import settings
from django.core.cache import cache

from zupy.db import one_or_none
from zupy.models import API_KEY_PREFIX, ApiKey, Company, api_key_digest

_MISSING = object()
# A few seconds of memory in this process on top of the shared cache: most requests then need no
# round trip at all to authenticate. Bounded, and cleared whole when it grows past its bound.
_local: dict[str, tuple[float, object]] = {}
_LOCAL_MAX = 10_000


def _cache_key(digest: str) -> str:
    return f"zupy:apikey:{digest}"


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this raw value, with its company, or None.

    The lookup is by digest (a unique index), so no stored secret is ever compared byte by byte.
    The answer (a key with its company, or "unknown") is cached for API_KEY_CACHE_TTL seconds in the
    shared cache and API_KEY_LOCAL_TTL seconds in this process, so a request costs no query for
    authentication; revoking a key or editing its company forgets it (``api_key_cache_forget``).
    Other processes notice within API_KEY_LOCAL_TTL when the shared cache is Redis, and within
    API_KEY_CACHE_TTL on the per-process default cache.
    """
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) != len(API_KEY_PREFIX) + 32:
        return None
    digest = api_key_digest(raw_key)
    now = time.monotonic()
    memo = _local.get(digest)
    if memo is not None and memo[0] > now:
        cached = memo[1]
    else:
        cached = cache.get(_cache_key(digest), _MISSING)
        if cached is _MISSING:
            api_key = one_or_none(
                ApiKey.objects.select_related("company").filter(digest=digest, revoked_at__isnull=True)
            )
            # Unknown keys are cached too, so guessing keys cannot turn into a query per request.
            cached = api_key or "unknown"
            cache.set(_cache_key(digest), cached, settings.API_KEY_CACHE_TTL)
        if len(_local) >= _LOCAL_MAX:
            _local.clear()
        _local[digest] = (now + settings.API_KEY_LOCAL_TTL, cached)
    return cached if isinstance(cached, ApiKey) else None


def api_key_cache_forget(*, company: Company | None = None, api_key: ApiKey | None = None) -> None:
    """Drop cached lookups for one key, or for every key of a company (after its tier or policy changed)."""
    digests = [api_key.digest] if api_key is not None else []
    if company is not None:
        digests += list(ApiKey.objects.filter(company=company).values_list("digest", flat=True))
    cache.delete_many([_cache_key(digest) for digest in digests])
    for digest in digests:
        _local.pop(digest, None)
