"""One JSON log line per request, X-Request-ID, and Prometheus metrics."""

import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from core.problems import not_found

PATH_SAFE = "/:@!$&'()*+,;=-._~%"

log = logging.getLogger("zupy.request")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")  # \Z: "$" also matches before a final newline
# Label values come from a closed set, so no request can add a time series: an unknown method (anyone
# may send "FOO") or a path that resolves to no route is labelled "other".
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
OTHER = "other"

REQUESTS = Counter("zupy_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "zupy_http_request_duration_seconds",
    "HTTP request latency",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REDEMPTIONS = Counter("zupy_redemptions_total", "Redeem calls by outcome", ["status"])
VALIDATIONS = Counter("zupy_validations_total", "Validate calls by outcome", ["status"])
CONFLICTS = Counter("zupy_conflicts_total", "409 answers by route", ["route"])


def _company_id(request: HttpRequest) -> str | None:
    """The calling key's company: DRF sets the authenticated key (``auth``) on Django's request too.
    Read from the instance's own attributes, never ``request.user``: that would evaluate the admin's
    lazy user (a session query) on a request that never reached the API."""
    api_key = vars(request).get("auth")
    company_id = getattr(api_key, "company_id", None)
    return company_id if isinstance(company_id, str) else None


class RequestObservabilityMiddleware:
    """Outermost: sees every answer, Django's own errors included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        # An attribute of our own on Django's request, which the stubs cannot declare (see authentication).
        request.request_id = request_id  # type: ignore[attr-defined]
        started = time.perf_counter()
        response = self.get_response(request)
        duration = time.perf_counter() - started
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        route = "/" + match.route if match is not None else OTHER
        method = request.method if request.method in KNOWN_METHODS else OTHER
        status = response.status_code
        # The message reads on its own in the plain format (LOG_FORMAT=plain, scripts/serve); the JSON
        # format carries the same values as fields.
        log.info(
            "%s %s %s %.1fms",
            request.method,
            # Percent-encoded again: a decoded CR LF or NUL in a path would forge or break plain log lines.
            quote(request.path, safe=PATH_SAFE),
            status,
            duration * 1000,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
                "company_id": _company_id(request),
                "request_id": request_id,
            },
        )
        REQUESTS.labels(route, method, str(status)).inc()
        LATENCY.labels(route, method).observe(duration)
        name = match.url_name if match is not None else None
        if name == "reward-redeem":
            REDEMPTIONS.labels(str(status)).inc()
        elif name == "coupon-validate":
            VALIDATIONS.labels(str(status)).inc()
        if status == 409:
            CONFLICTS.labels(route).inc()
        return response


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        return request.headers.get("Authorization", "") == f"Bearer {token}"
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. Only for METRICS_TOKEN holders, or from METRICS_ALLOWED_IPS when no
    token is set (loopback by default); anyone else, partners included, gets a plain 404."""
    if not _metrics_allowed(request):
        return not_found(request)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
