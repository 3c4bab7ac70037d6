from companies.models import Company
from integrations.errors import IntegrationNotFound
from integrations.models import Integration


def integration_enabled(*, company: Company, slug: str) -> Integration:
    """The company's enabled integration ``slug``; 403 ``integration-not-found`` otherwise (unknown
    and disabled look alike)."""
    integration = Integration.objects.filter(company=company, slug=slug, enabled=True).first()
    if integration is None:
        raise IntegrationNotFound()
    return integration
