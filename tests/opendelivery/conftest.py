"""OpenDelivery fixtures: clients of both kinds, their tokens, and a client that calls /v2 with one.

- ``od_company``: the by_merchant client's company; ``od_app_companies``: the two companies that
  link the by_app client, as ``MERCHANT_A`` and ``MERCHANT_B``.
- ``od_client_by_merchant``, ``od_client_by_app``: the clients (``od_secret(client)`` is the raw
  secret, for the token endpoint's own tests).
- ``od_token(client, scope="od.crm")``: a valid bearer token, written as the token endpoint would.
- ``od_api(client, merchant_id=...)``: an ``OdApi`` sending that token; for a by_app client the
  ``X-App-MerchantId`` header (``MERCHANT_A`` unless told; ``merchant_id=None`` sends none).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from companies.models import Company
from opendelivery.models import ClientKind, OdClient
from opendelivery.services import od_client_create, od_merchant_link
from tests.factories import CompanyFactory
from tests.opendelivery.conformance import od_allowlist_guard

__all__ = ["od_allowlist_guard"]

MERCHANT_A = "merchant-a"
MERCHANT_B = "merchant-b"
_DEFAULT = object()
_SECRETS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _od_allowlist(od_allowlist_guard: None) -> None:
    """Every test here: an allowlist entry naming it must occur in it (tests/opendelivery/conformance.py)."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        item.od_failed = True  # type: ignore[attr-defined]  # read by od_allowlist_guard
    return report


class OdApi:
    """An ordering platform's HTTP client for /v2: one bearer token, JSON in and out."""

    def __init__(self, token: str | None, merchant_id: str | None = None) -> None:
        self.client = APIClient()
        headers: dict[str, str] = {}
        if token is not None:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if merchant_id is not None:
            headers["HTTP_X_APP_MERCHANTID"] = merchant_id
        self.client.credentials(**headers)

    def get(self, path: str, params: dict[str, Any] | None = None, **extra: Any) -> Any:
        return self.client.get(path, params or {}, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        if body is None:
            return self.client.post(path, **extra)
        return self.client.post(path, body, format="json", **extra)

    def put(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.client.put(path, body, format="json", **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(path, **extra)


def od_secret(client: OdClient) -> str:
    return _SECRETS[client.pk]


def make_od_client(
    *, kind: str, company: Company | None = None, scopes: str = "od.crm", merchant_id: str | None = None
) -> OdClient:
    client, secret = od_client_create(
        name=f"Platform {kind}", kind=kind, company=company, scopes=scopes, merchant_id=merchant_id
    )
    _SECRETS[client.pk] = secret
    return client


def make_od_token(client: OdClient, scope: str = "od.crm", *, expires_in: int = 3600) -> str:
    """A token as the token endpoint issues it (its lifetime from now)."""
    raw = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        application=client.application,
        token=raw,
        expires=timezone.now() + timedelta(seconds=expires_in),
        scope=scope,
    )
    return raw


@pytest.fixture
def od_company() -> Company:
    return CompanyFactory.create()


@pytest.fixture
def od_app_companies() -> tuple[Company, Company]:
    return CompanyFactory.create(), CompanyFactory.create()


@pytest.fixture
def od_client_by_merchant(od_company: Company) -> OdClient:
    return make_od_client(kind=ClientKind.BY_MERCHANT, company=od_company)


@pytest.fixture
def od_client_by_app(od_app_companies: tuple[Company, Company]) -> OdClient:
    client = make_od_client(kind=ClientKind.BY_APP)
    first, second = od_app_companies
    od_merchant_link(client=client, company=first, merchant_id=MERCHANT_A)
    od_merchant_link(client=client, company=second, merchant_id=MERCHANT_B)
    return client


@pytest.fixture
def od_token() -> Callable[..., str]:
    return make_od_token


@pytest.fixture
def od_api() -> Callable[..., OdApi]:
    def build(client: OdClient, merchant_id: Any = _DEFAULT, *, scope: str = "od.crm") -> OdApi:
        if merchant_id is _DEFAULT:
            merchant_id = MERCHANT_A if client.kind == ClientKind.BY_APP else None
        return OdApi(make_od_token(client, scope), merchant_id)

    return build
