"""Reads of the webhook configuration, shared by the API and the services."""

from companies.models import Company
from core.db import one_or_none
from webhooks.models import WebhookEndpoint


def webhook_endpoint_of(*, company: Company) -> WebhookEndpoint | None:
    """The company's endpoint (configured or disabled), or None if it never configured one."""
    return one_or_none(WebhookEndpoint.objects.filter(company=company))
