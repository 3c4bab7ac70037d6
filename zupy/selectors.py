from django.conf import settings
from django.core.cache import cache

from zupy.models import API_KEY_PREFIX, ApiKey, Company, api_key_digest

_MISSING = object()


def _cache_key(digest: str) -> str:
    return f"zupy:apikey:{digest}"


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this raw value, with its company, or None.

    The lookup is by digest (a unique index), so no stored secret is ever compared byte by byte.
    The answer (a key with its company, or "unknown") is cached for API_KEY_CACHE_TTL seconds so a
    request costs no query for authentication; revoking a key or editing its company forgets it
    (see ``api_key_cache_forget``). With a per-process cache (the embedded default) other
    processes may keep a revoked key for up to the TTL; with Redis the change is immediate.
    """
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) != len(API_KEY_PREFIX) + 32:
        return None
    digest = api_key_digest(raw_key)
    cached = cache.get(_cache_key(digest), _MISSING)
    if cached is not _MISSING:
        return cached if isinstance(cached, ApiKey) else None
    api_key = ApiKey.objects.select_related("company").filter(digest=digest, revoked_at__isnull=True).first()
    # Unknown keys are cached briefly too, so guessing keys cannot turn into a query per request.
    cache.set(_cache_key(digest), api_key or "unknown", settings.API_KEY_CACHE_TTL)
    return api_key


def api_key_cache_forget(*, company: Company | None = None, api_key: ApiKey | None = None) -> None:
    """Drop cached lookups for one key, or for every key of a company (after its tier or policy changed)."""
    digests = [api_key.digest] if api_key is not None else []
    if company is not None:
        digests += list(ApiKey.objects.filter(company=company).values_list("digest", flat=True))
    cache.delete_many([_cache_key(digest) for digest in digests])
