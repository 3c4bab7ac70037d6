"""One step of the worker, for tests that deliver events one at a time."""

from webhooks.models import WebhookDelivery
from webhooks.services import webhook_attempt, webhook_claim


def deliver_next() -> WebhookDelivery | None:
    """Claim one due delivery, if any, and attempt it (the worker's batch, of one)."""
    claimed = webhook_claim(limit=1)
    return webhook_attempt(delivery=claimed[0]) if claimed else None
