import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from zupy.api.problems import PROBLEM_CONTENT_TYPE, problem

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
        body = problem(status, instance=request.path)
        replacement = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                replacement[header] = response[header]
        return replacement


class BodySizeLimitMiddleware:
    """413 before anything reads a body larger than ZUPY_MAX_BODY_BYTES (DRF's JSON parser reads the
    stream itself, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE alone would not stop it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.ZUPY_MAX_BODY_BYTES:
            body = problem(
                413,
                instance=request.path,
                detail=f"The body may be at most {settings.ZUPY_MAX_BODY_BYTES} bytes.",
            )
            return HttpResponse(json.dumps(body), status=413, content_type=PROBLEM_CONTENT_TYPE)
        return self.get_response(request)


class RequestBoundsMiddleware:
    """The request's own size bounds, answered as problem+json: request line over
    ZUPY_MAX_REQUEST_LINE -> 414, a header line over ZUPY_MAX_HEADER_BYTES or more than ZUPY_MAX_HEADERS
    headers -> 431, a Content-Length that is not a number -> 400. gunicorn.conf.py sets gunicorn's own
    limits above these so such requests get here instead of gunicorn's HTML page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            status, detail = refusal
            body = problem(status, instance=request.path[:200], detail=detail)
            return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> tuple[int, str] | None:
        meta = request.META
        # gunicorn passes the target as it was sent; other servers give path and query apart.
        target = meta.get("RAW_URI") or request.get_full_path()
        line = f"{request.method} {target} {meta.get('SERVER_PROTOCOL', 'HTTP/1.1')}"
        if len(line) > settings.ZUPY_MAX_REQUEST_LINE:
            return 414, f"The request line may be at most {settings.ZUPY_MAX_REQUEST_LINE} bytes."
        headers = [
            (name, value)
            for name, value in meta.items()
            if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
        ]
        if len(headers) > settings.ZUPY_MAX_HEADERS:
            return 431, f"At most {settings.ZUPY_MAX_HEADERS} request headers are accepted."
        for name, value in headers:
            # "Name: value" as sent; the WSGI name is as long as the header's.
            if len(name.removeprefix("HTTP_")) + 2 + len(str(value)) > settings.ZUPY_MAX_HEADER_BYTES:
                return 431, f"A request header line may be at most {settings.ZUPY_MAX_HEADER_BYTES} bytes."
        length = meta.get("CONTENT_LENGTH") or ""
        if length and not length.isdigit():
            return 400, "Content-Length must be a decimal number of bytes."
        return None
