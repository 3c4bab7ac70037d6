import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from companies.models import Company
from customers.models import Customer
from tests import run_guard
from tests.factories import CompanyFactory, CustomerFactory, make_key


def pytest_configure(config: pytest.Config) -> None:
    # A run in which a collected test did not run, or two share an id, fails (tests/run_guard.py).
    run_guard.register(config)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Figures a test measured (``record_property("figures", ...)``: the failover drill's), in the
    run's summary; under xdist they come back from the workers with each report."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "figures"
    ]
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.write_line(line)


class Api:
    """A partner's client: one API key, JSON in and out."""

    def __init__(self, key: str | None) -> None:
        self.client = APIClient()
        if key:
            self.client.credentials(HTTP_X_API_KEY=key)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is None:
            return self.client.post(path, **kwargs)
        return self.client.post(path, body, format="json", **kwargs)

    def redeem(self, customer_id: str, reward_id: str, use_z_tokens: bool = False) -> Any:
        return self.post(
            f"/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/", {"use_z_tokens": use_z_tokens}
        )

    def validate(self, customer_id: str, coupon_ref: str) -> Any:
        return self.post(f"/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/")


def assert_problem(response: Any, status: int, slug: str, code: str | None = None) -> dict[str, Any]:
    """The three things a partner's code branches on: status, slug and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == f"https://api.zupy.com/errors/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["instance"]
    assert body.get("code") == code
    return body


def run_together(count: int, action: Callable[[], Any]) -> list[Any]:
    """Run ``action`` in ``count`` threads released at the same instant; return their results.

    Each thread has its own database connection, closed at the end so the test database can be
    dropped.
    """
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = action()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


_real_getaddrinfo = socket.getaddrinfo
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    """``socket.getaddrinfo`` for IP literals and localhost only: a lookup of any other name would
    itself be traffic (to the DNS server), and could lead a test to a generated address."""
    name = host.decode() if isinstance(host, bytes) else host
    if name is None or name.lower().rstrip(".") in LOOPBACK_NAMES:
        return _real_getaddrinfo(host, *args, **kwargs)
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, f"tests resolve only localhost, not {name!r}") from None
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Connections beyond loopback are refused by pytest-socket (``--allow-hosts`` in pyproject);
    this refuses the name lookups it does not cover."""
    monkeypatch.setattr(socket, "getaddrinfo", _loopback_getaddrinfo)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; each test starts with none (and with no 429s held back
    by the request log's aggregate)."""
    from django.core.cache import cache

    from companies.auth import forget_exhausted
    from core.observability import REFUSALS

    cache.clear()
    forget_exhausted()
    REFUSALS.forget()
    yield
    cache.clear()
    forget_exhausted()
    REFUSALS.forget()


@pytest.fixture
def company() -> Company:
    return CompanyFactory.create()


@pytest.fixture
def api(company: Company) -> Api:
    return Api(make_key(company))


@pytest.fixture
def customer(company: Company) -> Customer:
    return CustomerFactory.create(company=company, points=1000)


def _redis_at(settings: Any, monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setattr("core.ratelimit._clients", {})  # the counter's per-process Redis client
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            # What zupy.settings adds to a Redis CACHE_URL (CACHE_TIMEOUT).
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def redis_down(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The cache is Redis on a loopback port where nothing listens (bound, never listening, so
    connecting is refused at once and no other process can take the port meanwhile)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        _redis_at(settings, monkeypatch, closed.getsockname()[1])
        yield


@pytest.fixture
def redis_silent(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The cache is Redis on a loopback port that accepts connections and never answers (a hung
    server): only the client's socket timeouts end a call."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes the handshakes; nobody ever reads or writes
        _redis_at(settings, monkeypatch, silent.getsockname()[1])
        yield
