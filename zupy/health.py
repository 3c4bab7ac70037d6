"""Liveness and readiness for load balancers and compose health checks (no API key needed)."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from zupy.api.problems import problem_response


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
    if all(value == "ok" for value in checks.values()):
        return JsonResponse({"status": "ready", "checks": checks})
    detail = "Not ready: " + ", ".join(f"{k} {v}" for k, v in checks.items())
    return problem_response(503, instance=request.path, detail=detail, checks=checks)
