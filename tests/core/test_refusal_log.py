"""429s in the request log: the first of a caller's in each second has its own line, the rest of that
second are one line with their count (core.observability.RefusalLog); the metrics count every one."""

import logging
from typing import Any

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from core import observability
from tests.conftest import Api
from tests.factories import CompanyFactory, make_key

pytestmark = pytest.mark.django_db

ROUTE = "/api/v2/rewards/"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(observability.REFUSALS, "clock", fake)
    return fake


@pytest.fixture
def tight(settings: Any) -> Any:
    settings.ZUPY_RATE_LIMITS = {**settings.ZUPY_RATE_LIMITS, "free": 2}
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 1
    return settings


def lines(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "zupy.request"]


def refused_total() -> float:
    labels = {"route": ROUTE, "method": "GET", "status": "429"}
    return REGISTRY.get_sample_value("zupy_http_requests_total", labels) or 0


def test_one_keys_refusals_in_a_second_are_one_line_with_their_count(tight, clock, caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    company = CompanyFactory.create(rate_tier="free")
    api = Api(make_key(company))
    before = refused_total()
    statuses = [api.get(ROUTE).status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    assert refused_total() - before == 4, "the metrics count every refusal"
    assert [line.status for line in lines(caplog)] == [200, 200, 429], "the first refusal has its line"
    assert not hasattr(lines(caplog)[-1], "count")

    clock.now += 0.5
    assert Client().get("/healthz").status_code == 200
    assert [line.status for line in lines(caplog)] == [200, 200, 429, 200], "the second is not over"

    clock.now += 0.6
    caplog.clear()
    assert Client().get("/healthz").status_code == 200  # any request, once the second is over
    aggregate, healthz = lines(caplog)
    assert (aggregate.status, aggregate.count, aggregate.aggregated) == (429, 3, True)
    assert (aggregate.route, aggregate.path, aggregate.method) == (ROUTE, ROUTE, "GET")
    assert aggregate.company_id == company.pk
    assert aggregate.getMessage() == "GET /api/v2/rewards/ 429 x3 more within 1s"
    assert healthz.route == "/healthz"

    caplog.clear()
    assert api.get(ROUTE).status_code == 429
    (line,) = lines(caplog)
    assert line.status == 429 and not hasattr(line, "count"), "a new second: its first has its line"


def test_each_company_and_the_requests_without_a_key_are_counted_apart(tight, clock, caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    noisy, other = (Api(make_key(CompanyFactory.create(rate_tier="free"))) for _ in range(2))
    anonymous = Api(None)
    for _ in range(4):
        noisy.get(ROUTE)
    for _ in range(3):
        other.get(ROUTE)
    for _ in range(3):
        anonymous.get(ROUTE)  # 401, then 429s
    refusals = [line for line in lines(caplog) if line.status == 429]
    assert [line.company_id is None for line in refusals] == [False, False, True]
    assert refusals[0].company_id != refusals[1].company_id

    clock.now += 1
    caplog.clear()
    observability.REFUSALS.flush()
    counts = {line.company_id: line.count for line in lines(caplog)}
    assert sorted(counts.values()) == [1, 1], "noisy's second 429 and the second anonymous one"
    assert None in counts


def test_what_is_held_at_exit_is_written(tight, clock, caplog):
    """gunicorn's workers exit through sys.exit, and the held counts are written then (atexit)."""
    caplog.set_level(logging.INFO, logger="zupy.request")
    api = Api(make_key(CompanyFactory.create(rate_tier="free")))
    for _ in range(5):
        api.get(ROUTE)
    caplog.clear()
    observability.REFUSALS.flush(everything=True)
    (line,) = lines(caplog)
    assert (line.status, line.count) == (429, 2)
    caplog.clear()
    observability.REFUSALS.flush(everything=True)
    assert lines(caplog) == [], "written once"


def test_other_statuses_have_a_line_each(clock, caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    for _ in range(5):
        assert Api(None).get("/api/v2/customers/").status_code == 401
    assert [line.status for line in lines(caplog)] == [401] * 5
