from typing import NoReturn

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_needs_no_key():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}


def test_readyz_is_503_problem_when_the_database_is_down(monkeypatch):
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise OperationalError("connection refused")

    monkeypatch.setattr("core.health.connection.cursor", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/service-unavailable")
    assert body["checks"]["database"] == "error: OperationalError"


def test_readyz_is_ready_but_degraded_when_only_the_cache_is_down(redis_down):
    """The API keeps serving without its cache, so readiness must not take every instance out."""
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["cache"].startswith("error: ")
