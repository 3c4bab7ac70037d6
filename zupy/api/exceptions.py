"""The one exception handler: every error raised under DRF becomes problem+json."""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from psycopg_pool import PoolTimeout
from rest_framework import exceptions as drf
from rest_framework.response import Response

from zupy.api.problems import PROBLEM_CONTENT_TYPE, problem
from zupy.errors import AuthenticationRequired, DomainError
from zupy.models import ApiKey

log = logging.getLogger("zupy.errors")


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """DRF's nested ValidationError detail as the contract's ``[{field, detail}]``."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            name = "body" if key in ("non_field_errors", "__all__") else str(key)
            out.extend(flatten_errors(value, f"{prefix}.{name}" if prefix else name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"field": prefix or "body", "detail": str(item)} for item in detail]
        out = []
        for index, item in enumerate(detail):
            out.extend(flatten_errors(item, f"{prefix}[{index}]"))
        return out
    return [{"field": prefix or "body", "detail": str(detail)}]


def problem_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def _names_a_deleted_api_key(exc: IntegrityError) -> bool:
    """A write recorded its API key as the actor, but the key was deleted meanwhile: another process
    still had the key's lookup cached (for up to API_KEY_LOCAL_TTL seconds). PostgreSQL says which
    table the missing row belongs to."""
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    return f'table "{ApiKey._meta.db_table}"' in detail


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    instance = request.path if request is not None else ""
    headers: dict[str, str] = {}
    if isinstance(exc, IntegrityError) and _names_a_deleted_api_key(exc):
        exc = AuthenticationRequired("The API key is unknown or revoked.")

    if isinstance(exc, DomainError):
        body = problem(
            exc.status,
            instance=instance,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            code=exc.code,
            errors=exc.errors,
        )
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
        return problem_response(exc.status, body, headers)

    if isinstance(exc, RequestDataTooBig):
        return problem_response(413, problem(413, instance=instance))
    if isinstance(exc, SuspiciousOperation):
        return problem_response(400, problem(400, instance=instance))
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem(422, instance=instance, detail="The request is not valid.", errors=errors)
        return problem_response(422, body)
    if isinstance(exc, drf.ParseError):
        body = problem(
            400, instance=instance, detail=f"Malformed request body: {exc.detail}", code="malformed_body"
        )
        return problem_response(400, body)
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        body = problem(401, instance=instance)
        return problem_response(401, body, {"WWW-Authenticate": 'ApiKey header="X-API-Key"'})
    if isinstance(exc, drf.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # DRF's Throttled sets it in __init__; the stubs omit it
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        detail: str | None = (
            "The API key's rate limit for this minute is used up; see Retry-After and X-RateLimit-*."
        )
        return problem_response(429, problem(429, instance=instance, detail=detail), headers)
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        detail = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else None
        if isinstance(exc, drf.PermissionDenied) and detail == drf.PermissionDenied.default_detail:
            detail = None
        return problem_response(status, problem(status, instance=instance, detail=detail))

    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeout)):
        log.warning("database unavailable: %s", exc)
        return problem_response(503, problem(503, instance=instance), {"Retry-After": "1"})
    if isinstance(exc, DatabaseError):
        log.exception("database error on %s", instance)
        return problem_response(500, problem(500, instance=instance))

    log.exception("unhandled error on %s", instance, exc_info=exc)
    return problem_response(500, problem(500, instance=instance))
