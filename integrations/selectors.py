from companies.models import Company
from integrations.errors import IntegrationNotFound
from integrations.models import Integration, IntegrationKey


def integration_enabled(*, company: Company, slug: str) -> Integration:
    """The company's enabled integration ``slug``; 403 ``integration-not-found`` otherwise (unknown
    and disabled look alike)."""
    integration = Integration.objects.filter(company=company, slug=slug, enabled=True).first()
    if integration is None:
        raise IntegrationNotFound()
    return integration


def integration_otp_preset(*, api_key_id: str) -> str:
    """The OTP preset of the integration this key is bound to; "" when it is bound to none or the
    integration has none (the company's policy applies)."""
    preset = IntegrationKey.objects.filter(api_key_id=api_key_id).values_list(
        "integration__otp_preset", flat=True
    )
    return next(iter(preset), "") or ""


def integration_keys(*, integration: Integration) -> list[str]:
    """The ids of the API keys bound to ``integration``, oldest binding first."""
    return list(integration.keys.order_by("created_at").values_list("api_key_id", flat=True))
