from django.conf import settings
from django.db.models import QuerySet

from companies.models import API_KEY_PREFIX, ApiKey, Company, LoyaltyProgram, api_key_digest
from core.cache import memo_forget, memo_get
from core.db import one_or_none
from core.errors import NotFound


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
            ApiKey.objects.select_related("company__loyalty_program").filter(
                digest=digest, revoked_at__isnull=True
            )
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


def company_counted(company: Company) -> Company:
    """The profile's counts, attached. Counted one by one (a company has one program): joining
    customers with rewards to count both would multiply the rows."""
    company.active_customers_count = company.customers.filter(is_active=True).count()  # type: ignore[attr-defined]
    company.loyalty_programs_count = LoyaltyProgram.objects.filter(company=company).count()  # type: ignore[attr-defined]
    return company


def company_profiles(*, company: Company) -> QuerySet[Company]:
    """The companies a key may see: its own."""
    return Company.objects.filter(pk=company.pk)


def company_profile_get(*, company: Company, company_id: str) -> Company:
    """The key's company by its id, counted; any other id (another company's too) is 404, never 403."""
    found = one_or_none(company_profiles(company=company).filter(pk=company_id))
    if found is None:
        raise NotFound("Company not found.")
    return company_counted(found)


def program_counted(program: LoyaltyProgram) -> LoyaltyProgram:
    company = program.company
    program.rewards_count = company.rewards.filter(is_active=True).count()  # type: ignore[attr-defined]
    program.active_customers_count = company.customers.filter(is_active=True).count()  # type: ignore[attr-defined]
    return program


def loyalty_programs(*, company: Company) -> QuerySet[LoyaltyProgram]:
    """The company's programs (exactly one)."""
    return LoyaltyProgram.objects.filter(company=company).select_related("company")


def loyalty_program_get(*, company: Company, program_id: str) -> LoyaltyProgram:
    """The company's program by id, counted; another company's is 404, never 403."""
    found = one_or_none(loyalty_programs(company=company).filter(pk=program_id))
    if found is None:
        raise NotFound("Loyalty program not found.")
    return program_counted(found)
