from django.conf import settings

from zupy.cache import memo_forget, memo_get
from zupy.db import one_or_none
from zupy.models import API_KEY_PREFIX, ApiKey, Company, api_key_digest


def _cache_key(digest: str) -> str:
    return f"zupy:apikey:{digest}"


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this raw value, with its company, or None.

    The lookup is by digest (a unique index), so no stored secret is ever compared byte by byte.
    The answer (a key with its company, or "unknown", so that guessing keys cannot turn into a
    query per request) is cached for API_KEY_CACHE_TTL seconds in the shared cache and
    API_KEY_LOCAL_TTL seconds in this process, so a request costs no query for authentication.
    Revoking a key or editing its company forgets it (``api_key_cache_forget``): other processes
    notice within API_KEY_LOCAL_TTL (the shared cache, Redis or the default database table, is
    cleared at once).
    """
    if not raw_key.startswith(API_KEY_PREFIX) or len(raw_key) != len(API_KEY_PREFIX) + 32:
        return None
    digest = api_key_digest(raw_key)

    def load() -> ApiKey | str:
        found = one_or_none(
            ApiKey.objects.select_related("company").filter(digest=digest, revoked_at__isnull=True)
        )
        return found or "unknown"

    cached = memo_get(
        _cache_key(digest), load, shared_ttl=settings.API_KEY_CACHE_TTL, local_ttl=settings.API_KEY_LOCAL_TTL
    )
    return cached if isinstance(cached, ApiKey) else None


def api_key_cache_forget(*, company: Company | None = None, api_key: ApiKey | None = None) -> None:
    """Drop cached lookups for one key, or for every key of a company (after its tier or policy changed)."""
    digests = [api_key.digest] if api_key is not None else []
    if company is not None:
        digests += list(ApiKey.objects.filter(company=company).values_list("digest", flat=True))
    memo_forget(*(_cache_key(digest) for digest in digests))
