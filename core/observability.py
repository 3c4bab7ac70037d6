"""One JSON log line per request (429s of one caller in aggregate), X-Request-ID, and Prometheus
metrics."""

import atexit
import logging
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch
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


# (company id or None, route, method): whose refusals one aggregate line counts.
RefusalKey = tuple[str | None, str, str]


@dataclass(slots=True)
class _Window:
    started: float
    held: int  # 429s counted, not logged
    method: str  # the last held request's
    path: str


class RefusalLog:
    """429 answers, one caller's in aggregate: a tenant over its limit can be refused hundreds of times
    a second, and one log line each (a JSON record formatted and written under the handler's lock) was
    the largest part of what a refusal cost the service. The first 429 of a company on a route (of
    the requests without a key on a route) in each ``seconds`` is logged as every answer is; the ones
    after it in that window are only counted, and their number is logged as one line (``count``,
    ``aggregated``) once the window is over: by the next request this process serves, or at its exit.
    The metrics still count every request."""

    def __init__(self, seconds: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[RefusalKey, _Window] = {}
        self._next_flush = math.inf

    def admit(self, key: RefusalKey, method: str, path: str) -> bool:
        """Whether this 429 gets a line of its own; if not, it is counted in its window."""
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.started < self.seconds:
                window.held += 1
                window.method, window.path = method, path
                return False
            ended = window if window is not None and window.held else None
            self._windows[key] = _Window(started=now, held=0, method=method, path=path)
            self._next_flush = min(self._next_flush, now + self.seconds)
        if ended is not None:
            self._write(key, ended)
        return True

    def flush(self, *, everything: bool = False) -> None:
        """Log the counts of the windows that are over (all of them with ``everything``)."""
        now = self.clock()
        if not everything and now < self._next_flush:  # read without the lock: at worst a turn late
            return
        with self._lock:
            over = {
                key: window
                for key, window in self._windows.items()
                if everything or now - window.started >= self.seconds
            }
            for key in over:
                del self._windows[key]
            starts = [window.started for window in self._windows.values()]
            self._next_flush = min(starts) + self.seconds if starts else math.inf
        for key, window in over.items():
            if window.held:
                self._write(key, window)

    def forget(self) -> None:
        """Drop every window unlogged (tests, which each start with none)."""
        with self._lock:
            self._windows.clear()
            self._next_flush = math.inf

    def _write(self, key: RefusalKey, window: _Window) -> None:
        company_id, route, _ = key
        method, path, count = window.method, window.path, window.held
        log.info(
            "%s %s 429 x%d more within %gs",
            method,
            quote(path, safe=PATH_SAFE),
            count,
            self.seconds,
            extra={
                "method": method,
                "path": path,
                "route": route,
                "status": 429,
                "company_id": company_id,
                "count": count,
                "aggregated": True,
            },
        )


REFUSALS = RefusalLog()
atexit.register(lambda: REFUSALS.flush(everything=True))


def _logged_path(path: str, match: ResolverMatch | None) -> str:
    """The path as the log writes it: a path argument named ``*_token`` is a secret (a pass's
    download link is all that protects the pass), so its value is written ``<token>``."""
    if match is not None:
        for name, value in match.kwargs.items():
            if name.endswith("_token") and isinstance(value, str) and value:
                path = path.replace(value, "<token>")
    return path


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
        company_id = _company_id(request)
        REFUSALS.flush()
        path = _logged_path(request.path, match)
        if status != 429 or REFUSALS.admit((company_id, route, method), str(request.method), path):
            self._log(request, path, route, status, duration, company_id, request_id)
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

    @staticmethod
    def _log(
        request: HttpRequest,
        path: str,
        route: str,
        status: int,
        duration: float,
        company_id: str | None,
        request_id: str,
    ) -> None:
        # The message reads on its own in the plain format (LOG_FORMAT=plain, scripts/serve); the JSON
        # format carries the same values as fields.
        log.info(
            "%s %s %s %.1fms",
            request.method,
            # Percent-encoded again: a decoded CR LF or NUL in a path would forge or break plain log lines.
            quote(path, safe=PATH_SAFE),
            status,
            duration * 1000,
            extra={
                "method": request.method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
                "company_id": company_id,
                "request_id": request_id,
            },
        )


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
