"""The base of every refusal and the generic status classes. Services raise them (or their app's
refusals, in ``<app>/errors.py``, which subclass these); one handler turns them into problem+json.

Each class carries what a partner's code branches on: the HTTP status, the problem ``slug`` (the
last segment of ``type``) and, for domain refusals, a machine-readable ``code``.
"""

from __future__ import annotations

from typing import Any


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
    status, slug, title = 401, "authentication-required", "Authentication Required"
    default_detail = "A valid X-API-Key header is required."


class PermissionDenied(DomainError):
    status, slug, title = 403, "permission-denied", "Permission Denied"
    default_detail = "This API key may not perform this action."


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not Found"
    default_detail = "The resource was not found."


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"
    default_detail = "The request conflicts with the current state of the resource."


class ValidationFailed(DomainError):
    status, slug, title = 422, "validation-error", "Validation Error"
    default_detail = "The request is not valid."


class RateLimited(DomainError):
    status, slug, title = 429, "rate-limit-exceeded", "Rate Limit Exceeded"
    default_detail = "Too many requests."


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service Unavailable"
    default_detail = "The service is temporarily unavailable. Retry shortly."
