from django.conf import settings

from companies.models import Company
from core.cache import memo_forget, memo_get
from integrations.errors import IntegrationNotFound
from integrations.models import Integration, IntegrationKey


def integration_enabled(*, company: Company, slug: str) -> Integration:
    """The company's enabled integration ``slug``; 403 ``integration-not-found`` otherwise (unknown
    and disabled look alike)."""
    integration = Integration.objects.filter(company=company, slug=slug, enabled=True).first()
    if integration is None:
        raise IntegrationNotFound()
    return integration


def _preset_cache_key(api_key_id: str) -> str:
    return f"integration-otp-preset:{api_key_id}"


def integration_otp_preset(*, api_key_id: str) -> str:
    """The OTP preset of the integration this key is bound to; "" when it is bound to none or the
    integration has none (the company's policy applies). Asked on every redemption and coupon use,
    so it is cached as the key itself is (``companies.selectors.api_key_authenticate``): a binding
    or a preset changed is forgotten at once here and within API_KEY_LOCAL_TTL elsewhere."""

    def load() -> str:
        preset = IntegrationKey.objects.filter(api_key_id=api_key_id).values_list(
            "integration__otp_preset", flat=True
        )
        return next(iter(preset), "") or ""

    return str(
        memo_get(
            _preset_cache_key(api_key_id),
            load,
            shared_ttl=settings.API_KEY_CACHE_TTL,
            local_ttl=settings.API_KEY_LOCAL_TTL,
        )
    )


def integration_otp_preset_forget(*, api_key_ids: list[str]) -> None:
    memo_forget(*(_preset_cache_key(key_id) for key_id in api_key_ids))


def integration_keys(*, integration: Integration) -> list[str]:
    """The ids of the API keys bound to ``integration``, oldest binding first."""
    return list(integration.keys.order_by("created_at").values_list("api_key_id", flat=True))
