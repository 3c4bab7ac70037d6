"""Domain events: what just happened to a company's customers, points and coupons.

The app that makes a change publishes its event inside the transaction of that change; the apps
that react (the webhook outbox, wallet passes) subscribe in their ``AppConfig.ready`` and write
only their own tables, in that same transaction. So a reaction commits with the change or not at
all, and the publishing app never needs to know who listens.
"""

from typing import Any

from django.dispatch import Signal

# Receivers are called with company_id, event and data (the event's webhook ``data``).
published = Signal()


def publish(*, company_id: str, event: str, data: dict[str, Any]) -> None:
    """Tell every subscriber. A receiver's exception propagates and rolls the change back: an
    event that cannot be recorded is not silently lost."""
    published.send(sender=None, company_id=company_id, event=event, data=data)
