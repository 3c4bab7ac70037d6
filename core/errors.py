"""The base of every refusal and the generic status classes. Services raise them (or their app's
refusals, in ``<app>/errors.py``, which subclass these); one handler turns them into problem+json.

Each class carries what a partner's code branches on: the HTTP status, the problem ``slug`` (the
last segment of ``type``) and, for domain refusals, a machine-readable ``code``.
"""

from __future__ import annotations

from typing import Any

# What each status means when nothing more specific is known: (slug, title, default detail). The one
# status table: the generic refusals below and every problem document without a domain error behind
# it (Django's and DRF's own answers, the middlewares, gunicorn's refusals) take theirs from here.
STATUS_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("validation-error", "Bad Request", "The request is malformed."),
    401: ("authentication-required", "Authentication Required", "A valid X-API-Key header is required."),
    403: ("permission-denied", "Permission Denied", "You may not perform this action."),
    404: ("not-found", "Not Found", "The resource was not found."),
    405: ("method-not-allowed", "Method Not Allowed", "This method is not allowed on this resource."),
    406: ("not-acceptable", "Not Acceptable", "This API only produces JSON."),
    408: ("request-timeout", "Request Timeout", "The request was not received in time."),
    409: ("conflict", "Conflict", "The request conflicts with the current state of the resource."),
    411: ("length-required", "Length Required", "Send the body with a Content-Length header."),
    413: ("payload-too-large", "Payload Too Large", "The request body is too large."),
    414: ("uri-too-long", "URI Too Long", "The request line (method, path and query) is too long."),
    415: ("unsupported-media-type", "Unsupported Media Type", "Send the body as application/json."),
    422: ("validation-error", "Validation Error", "The request is not valid."),
    429: ("rate-limit-exceeded", "Rate Limit Exceeded", "Too many requests."),
    431: (
        "request-header-fields-too-large",
        "Request Header Fields Too Large",
        "A request header, or the number of them, is over the limit.",
    ),
    500: ("internal-error", "Internal Server Error", "An unexpected error occurred; it has been logged."),
    502: ("bad-gateway", "Bad Gateway", "The service behind the proxy did not answer properly."),
    503: ("service-unavailable", "Service Unavailable", "The service is temporarily unavailable."),
    504: ("gateway-timeout", "Gateway Timeout", "The service behind the proxy did not answer in time."),
}


def http(status: int) -> tuple[int, str, str, str]:
    """``status, slug, title, default_detail`` of a generic refusal, from the status table."""
    return (status, *STATUS_PROBLEMS[status])


class DomainError(Exception):
    status: int = 400
    slug: str = "validation-error"
    title: str = "Validation Error"
    code: str | None = None
    default_detail: str = "The request could not be processed."

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.detail = detail or self.default_detail
        self.errors = errors
        self.retry_after = retry_after
        super().__init__(self.detail)


class AuthenticationRequired(DomainError):
    status, slug, title, default_detail = http(401)


class PermissionDenied(DomainError):
    status, slug, title = http(403)[:3]
    default_detail = "This API key may not perform this action."


class NotFound(DomainError):
    status, slug, title, default_detail = http(404)


class Conflict(DomainError):
    status, slug, title, default_detail = http(409)


class ValidationFailed(DomainError):
    status, slug, title, default_detail = http(422)


class RateLimited(DomainError):
    status, slug, title, default_detail = http(429)


class ServiceUnavailable(DomainError):
    status, slug, title = http(503)[:3]
    default_detail = "The service is temporarily unavailable. Retry shortly."
