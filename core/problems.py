"""RFC 7807 problem documents: the one shape every error of this API takes.

``problem`` is the only place a problem body is built; ``problem_response`` the only place one is
answered outside DRF. Around them: the DRF exception handler (every error raised under DRF), Django's
own error views (``handler400``… in zupy/urls.py) and the middleware that turns any other error page
into problem+json. The statuses' slugs, titles and default details are ``core.errors.STATUS_PROBLEMS``.
"""

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import DisallowedHost, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, models
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import is_valid_path
from psycopg_pool import PoolTimeout
from rest_framework import exceptions as drf
from rest_framework.response import Response

from core.errors import STATUS_PROBLEMS, AuthenticationRequired, DomainError

log = logging.getLogger("core.errors")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://api.zupy.com/errors/"
WWW_AUTHENTICATE = 'ApiKey header="X-API-Key"'
KEY_RATE_LIMITED = "The API key's rate limit for this minute is used up; see Retry-After and X-RateLimit-*."


# The database (or the pool in front of it) cannot be reached: 503, retry in a second.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """The 503 for a request that met ``DATABASE_UNAVAILABLE`` before any view ran."""
    response = problem_response(503, instance=request.path)
    response["Retry-After"] = "1"
    return response


def problem(
    status: int,
    *,
    instance: str,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    default_slug, default_title, default_detail = STATUS_PROBLEMS.get(
        status, ("error" if status < 500 else "internal-error", "Error", "The request failed.")
    )
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail or default_detail,
        "instance": instance,
    }
    if code:
        body["code"] = code
    if errors is None and status == 422:
        # Every 422 is the document's ValidationError, which requires the array: a refusal about the
        # state of things (insufficient_points) rather than a field names no field in it.
        errors = []
    if errors is not None:
        body["errors"] = errors
    return body


# A surface with an error shape of its own (an app registers it from its AppConfig.ready): the path
# prefix it serves and the function that turns a problem document into its body and content type.
ErrorShape = Callable[[dict[str, Any]], tuple[dict[str, Any], str]]
_error_shapes: list[tuple[str, ErrorShape]] = []


def register_error_shape(prefix: str, shape: ErrorShape) -> None:
    """Answer every error outside DRF under ``prefix`` (Django's error views, the middlewares'
    refusals, the guard below) in ``shape`` instead of problem+json."""
    if all(known != prefix for known, _ in _error_shapes):
        _error_shapes.append((prefix, shape))


def error_shape_of(path: str) -> ErrorShape | None:
    """The shape registered for ``path``: under its prefix, or the prefix itself without its slash."""
    return next(
        (shape for prefix, shape in _error_shapes if path.startswith(prefix) or path == prefix.rstrip("/")),
        None,
    )


def problem_response(status: int, *, instance: str, detail: str | None = None, **extra: Any) -> HttpResponse:
    """A problem answered outside DRF (Django's error views, middlewares, health checks); ``extra``
    adds members to the body. Under a registered prefix, in that surface's shape."""
    body = {**problem(status, instance=instance, detail=detail), **extra}
    content_type = PROBLEM_CONTENT_TYPE
    shape = error_shape_of(instance)
    if shape is not None:
        body, content_type = shape(body)
    return HttpResponse(json.dumps(body), status=status, content_type=content_type)


# --- Details that tell the partner what to do instead ------------------------------------------------
# The host is not echoed: the setting is what the operator needs, and the header is the sender's own.
BAD_HOST_DETAIL = (
    "The Host header names a host this server does not answer to; the ALLOWED_HOSTS setting decides "
    "which hosts it serves."
)


def unsupported_media_detail(content_type: str, unknown_keys: list[str] | None = None) -> str:
    sent = f'The body was sent as "{content_type[:100]}"' if content_type else "The body has no Content-Type"
    if unknown_keys:
        keys = ", ".join(f'"{key[:60]}"' for key in unknown_keys[:3])
        sent += f" with keys that are not this operation's fields ({keys})"
    return f"{sent}; send it as JSON with Content-Type: application/json."


def not_found_detail(request: HttpRequest) -> str | None:
    """For a path that only lacks its trailing slash, the path meant (the API never redirects: a client
    would not send a POST's body again to the new location)."""
    if request.path_info.endswith("/") or not is_valid_path(request.path_info + "/"):
        return None
    return f"Every path ends with a slash. Did you mean {request.path}/?"


def bad_request_detail(request: HttpRequest, exception: Exception | None) -> str | None:
    if isinstance(exception, DisallowedHost):
        return BAD_HOST_DETAIL
    return None


# --- Under DRF: the exception handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]) ---------------------------
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


def _answer(status: int, instance: str, headers: dict[str, str] | None = None, **members: Any) -> Response:
    """A DRF Response, so that the view's renderer writes it like every other answer of the view (and an
    idempotent write stores it byte for byte as it was sent)."""
    body = problem(status, instance=instance, **members)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _names_a_deleted_api_key(exc: IntegrityError, request: Any) -> bool:
    """A write recorded its API key (the request's ``auth``) as the actor, but the key was deleted
    meanwhile: another process still had the key's lookup cached (for up to API_KEY_LOCAL_TTL
    seconds). PostgreSQL says which table the missing row belongs to."""
    api_key = getattr(request, "auth", None)
    if not isinstance(api_key, models.Model):
        return False
    detail = getattr(getattr(exc.__cause__, "diag", None), "message_detail", None) or ""
    return f'table "{api_key._meta.db_table}"' in detail


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    request = context.get("request")
    instance = request.path if request is not None else ""
    headers: dict[str, str] = {}
    if isinstance(exc, IntegrityError) and _names_a_deleted_api_key(exc, request):
        exc = AuthenticationRequired("The API key is unknown or revoked.")

    if isinstance(exc, DomainError):
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status == 401:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        answer = _answer(
            exc.status,
            instance,
            headers,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            code=exc.code,
            errors=exc.errors,
        )
        # A refusal the service chose, a 503 included (a wallet platform not configured, an OTP
        # sender down), is not an error of this code: one WARNING line says why, where
        # django.request would log an ERROR (for every retry) as for a crash.
        if exc.status >= 500:
            log.warning("%s refused with %s: %s", instance, exc.status, exc.detail)
        answer._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response's mark
        return answer

    if isinstance(exc, RequestDataTooBig):
        return _answer(413, instance)
    if isinstance(exc, SuspiciousOperation):
        return _answer(400, instance, detail=BAD_HOST_DETAIL if isinstance(exc, DisallowedHost) else None)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        return _answer(422, instance, detail="The request is not valid.", errors=flatten_errors(exc.detail))
    if isinstance(exc, drf.ParseError):
        return _answer(400, instance, detail=f"Malformed request body: {exc.detail}", code="malformed_body")
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return _answer(401, instance, {"WWW-Authenticate": WWW_AUTHENTICATE})
    if isinstance(exc, drf.UnsupportedMediaType):
        sent = getattr(request, "content_type", "") or ""
        unknown = getattr(exc, "unknown_keys", None)  # core.inputs.FormKeysUnknown
        return _answer(415, instance, detail=unsupported_media_detail(sent, unknown))
    if isinstance(exc, drf.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # DRF's Throttled sets it in __init__; the stubs omit it
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return _answer(429, instance, headers, detail=KEY_RATE_LIMITED)
    if isinstance(exc, drf.APIException):
        status = exc.status_code
        detail: str | None = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else None
        if isinstance(exc, drf.PermissionDenied) and detail == drf.PermissionDenied.default_detail:
            detail = None
        return _answer(status, instance, detail=detail)

    if isinstance(exc, DATABASE_UNAVAILABLE):
        log.warning("database unavailable: %s", exc)
        return _answer(503, instance, {"Retry-After": "1"})
    if isinstance(exc, DatabaseError):
        log.exception("database error on %s", instance)
        return _answer(500, instance)

    log.exception("unhandled error on %s", instance, exc_info=exc)
    return _answer(500, instance)


# --- Outside DRF: Django's own error views (handler400… in zupy/urls.py) ----------------------------
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(400, instance=request.path, detail=bad_request_detail(request, exception))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(403, instance=request.path)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(404, instance=request.path, detail=not_found_detail(request))


def server_error(request: HttpRequest) -> HttpResponse:
    return problem_response(500, instance=request.path)


_JSON_TYPES = ("application/json", PROBLEM_CONTENT_TYPE)


class ProblemJsonMiddleware:
    """Last line of the error contract: any error answer that is not JSON (Django's HTML 404 for an
    unknown URL, its 400 for a bad Host, the debug 500 page, a CSRF failure) becomes problem+json.

    Runs outermost, so it also sees what Django made of an exception raised in another middleware.
    The admin keeps its own HTML pages for 4xx; a 5xx never shows a debug page anywhere.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        if status < 400:
            return response
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if content_type in _JSON_TYPES:
            return response
        if request.path.startswith("/admin/") and status < 500:
            return response
        replacement = problem_response(status, instance=request.path, detail=self._detail(request, status))
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement

    @staticmethod
    def _detail(request: HttpRequest, status: int) -> str | None:
        """What Django's own pages (DEBUG on) would have said, in the words the handlers use."""
        if status == 404:
            return not_found_detail(request)
        if status == 400:
            try:
                request.get_host()
            except DisallowedHost as exc:
                return bad_request_detail(request, exc)
        return None
