"""The refusals of the inbound partner webhook."""

from core.errors import DomainError, http


class IntegrationNotFound(DomainError):
    """Upstream's ``integration-not-found``: the key is valid, but its company has no enabled
    integration with this slug."""

    status, slug, title, code = 403, "integration-not-found", "Integration Not Found", "integration_not_found"
    default_detail = "This API key's company has no enabled integration with this slug."


class NotOrders(DomainError):
    """A JSON body that is neither an array of orders nor one order object (a bare string, a number)."""

    status, slug, title = http(400)[:3]
    code = "not_orders"
    default_detail = "The body must be a JSON array of orders or one order object."


class TooManyOrders(DomainError):
    """More orders in one body than one batch takes: each order is a row and a credit."""

    status, slug, title = http(413)[:3]
    code = "too_many_orders"
    default_detail = "Too many orders in one body; send them in smaller bodies."
