"""Liveness and readiness for load balancers and compose health checks (no API key needed)."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.problems import problem_response


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the body
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        cache.set("zupy:readyz", "1", 5)
        checks["cache"] = "ok" if cache.get("zupy:readyz") == "1" else "error: read back failed"
    except Exception as exc:
        checks["cache"] = f"error: {type(exc).__name__}"
    # Only the database decides readiness. Without the cache the API keeps serving (rate limits fail
    # open, key lookups fall back to the database; OTP requests answer 503): failing readiness on every
    # instance at once would let a load balancer turn a degraded cache into a full outage.
    if checks["database"] == "ok":
        status = "ready" if checks["cache"] == "ok" else "degraded"
        return JsonResponse({"status": status, "checks": checks})
    detail = "Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items())
    return problem_response(503, instance=request.path, detail=detail, checks=checks)
