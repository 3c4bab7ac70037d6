"""The refusals of the OpenDelivery surface."""

from core.errors import DomainError, http


# --- Orders and accrual (customer events) -----------------------------------------------------------
class EventInvalid(DomainError):
    """A customer event that is not a well-formed envelope (or an order event without what it needs)."""

    status, slug, title = http(400)[:3]
    code = "invalid_event"
    default_detail = "The customer event is malformed."


class EventTypeUnknown(DomainError):
    """An ``eventType`` outside the standard's CustomerEventType: refused, as upstream does."""

    status, slug, title = http(422)[:3]
    code = "unknown_event_type"
    default_detail = "This eventType is not one of the standard's customer event types."
