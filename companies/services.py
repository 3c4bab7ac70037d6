"""Company and API-key operations (admin, management commands)."""

import secrets
import string

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from companies.models import (
    API_KEY_PREFIX,
    ApiKey,
    Company,
    LoyaltyProgram,
    OtpPreset,
    RateTier,
    ResponseFormat,
    api_key_digest,
)
from companies.selectors import api_key_cache_forget
from core.errors import ValidationFailed

_KEY_ALPHABET = string.ascii_letters + string.digits


def company_create(
    *, name: str, email: str, otp_preset: str = OtpPreset.STRICT, rate_tier: str = RateTier.FREE
) -> Company:
    """A new company with its contact e-mail, which every company and program answer carries (the
    upstream document's ``format: email``): required and checked here, for every way of creating one."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "A company needs a valid contact e-mail address.",
            errors=[{"field": "email", "detail": "Give a valid address, e.g. contato@restaurante.com.br."}],
        ) from exc
    company = Company(name=name, email=email, rate_tier=rate_tier)
    company.apply_otp_preset(otp_preset)
    company.save()
    return company


def api_key_generate() -> str:
    return API_KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))


def api_key_create(
    *,
    company: Company,
    name: str = "",
    read_only: bool = False,
    response_format: str = ResponseFormat.ENVELOPE,
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which is never stored and cannot be shown again."""
    key = ApiKey(company=company, name=name, read_only=read_only, response_format=response_format)
    return key, api_key_issue(key)


def api_key_issue(key: ApiKey) -> str:
    """Give an unsaved ApiKey its secret, save it, and return the raw key (its only appearance)."""
    raw = api_key_generate()
    key.prefix = raw[: len(API_KEY_PREFIX) + 4]
    key.digest = api_key_digest(raw)
    key.save(force_insert=True)
    return raw


def api_key_revoke(*, api_key: ApiKey) -> None:
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key_cache_forget(api_key=api_key)


def company_save(*, company: Company) -> Company:
    """Save a company edited in admin; its keys' cached lookups carry the old tier and OTP policy."""
    company.save()
    api_key_cache_forget(company=company)
    return company


def loyalty_program_create(*, company: Company) -> LoyaltyProgram:
    """The company's program, named after it (``companies.signals`` calls this for every new company)."""
    program, _ = LoyaltyProgram.objects.get_or_create(
        company=company, defaults={"name": company.name, "slug": company.slug}
    )
    return program


def loyalty_program_save(*, program: LoyaltyProgram) -> LoyaltyProgram:
    """Save a program edited in admin. The keys' cached lookups carry the program (its name and
    tiers are read on every request without a query), so they are forgotten too.

    Customers' tiers follow a changed tier list at their next change of points (see docs/loyalty.md).
    """
    program.save()
    api_key_cache_forget(company=program.company)
    return program
