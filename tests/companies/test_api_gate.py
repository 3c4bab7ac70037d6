"""Refused and anonymous requests are answered before the stack (companies.auth.ApiGateMiddleware), the
way DRF answered them, and the schema document is built once per process."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator
from rest_framework.views import APIView

from companies import auth
from core.schema import SchemaView
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key

pytestmark = pytest.mark.django_db

GATE = "companies.auth.ApiGateMiddleware"


@pytest.fixture
def tight(settings: Any) -> Any:
    settings.ZUPY_RATE_LIMITS = {**settings.ZUPY_RATE_LIMITS, "free": 2}
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 2
    return settings


@pytest.fixture
def drf_reached(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that reached a DRF view."""
    reached: list[str] = []
    initial = APIView.initial

    def spy(self: APIView, request: Any, *args: Any, **kwargs: Any) -> None:
        reached.append(request.path)
        initial(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initial", spy)
    return reached


def test_over_the_limit_is_refused_without_a_query_and_without_drf(tight, drf_reached):
    api = Api(make_key(CompanyFactory.create(rate_tier="free")))
    assert [api.get("/api/v2/rewards/").status_code for _ in range(2)] == [200, 200]
    drf_reached.clear()
    with CaptureQueriesContext(connection) as queries:
        refused = api.get("/api/v2/rewards/")
    assert_problem(refused, 429, "rate-limit-exceeded")
    assert refused["X-RateLimit-Remaining"] == "0" and 1 <= int(refused["Retry-After"]) <= 60
    assert queries.captured_queries == [] and drf_reached == []


def test_an_unknown_key_and_a_missing_one_are_refused_before_drf(drf_reached):
    assert_problem(Api("zupy_pk_" + "q" * 32).get("/api/v2/rewards/"), 401, "authentication-required")
    assert_problem(Api(None).get("/api/v2/customers/"), 401, "authentication-required")
    assert drf_reached == []


def test_drf_reuses_the_gates_lookup_and_count(api, monkeypatch):
    lookups: list[str] = []
    lookup = auth.api_key_authenticate

    def counting(raw: str) -> Any:
        lookups.append(raw)
        return lookup(raw)

    monkeypatch.setattr(auth, "api_key_authenticate", counting)
    first, second = api.get("/api/v2/rewards/"), api.get("/api/v2/rewards/")
    assert (first["X-RateLimit-Remaining"], second["X-RateLimit-Remaining"]) == ("59", "58")
    assert len(lookups) == 2, "one lookup a request"


def test_requests_without_a_key_are_limited_per_client_address(tight):
    anonymous = Api(None)
    assert anonymous.client.get("/api/v2/schema/").status_code == 200
    assert_problem(anonymous.get("/api/v2/rewards/"), 401, "authentication-required")
    for path in ("/api/v2/schema/", "/api/v2/docs/", "/api/v2/rewards/"):
        refused = anonymous.get(path)
        body = assert_problem(refused, 429, "rate-limit-exceeded")
        assert "without a valid API key" in body["detail"]
        assert 1 <= int(refused["Retry-After"]) <= 60 and refused["X-RateLimit-Limit"] == "2"
    # An unknown key is no key: it spends the same address's budget.
    assert_problem(Api("zupy_pk_" + "q" * 32).get("/api/v2/rewards/"), 429, "rate-limit-exceeded")
    elsewhere = anonymous.client.get("/api/v2/schema/", REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 200, "the budget is per address"
    keyed = Api(make_key(CompanyFactory.create()))
    assert keyed.get("/api/v2/rewards/").status_code == 200, "a valid key has its own budget"


def test_a_path_that_does_not_resolve_is_a_404_and_costs_nothing(tight):
    for _ in range(4):
        assert_problem(Api(None).get("/api/v2/nowhere/"), 404, "not-found")
    assert Api(None).client.get("/api/v2/schema/").status_code == 200


def test_a_refused_request_is_logged_with_its_route(tight, caplog):
    api = Api(make_key(CompanyFactory.create(rate_tier="free")))
    for _ in range(3):
        api.get("/api/v2/rewards/")
    record = caplog.records[-1]
    assert (record.status, record.route) == (429, "/api/v2/rewards/")
    assert record.company_id is not None


def _answer(response: Any) -> tuple[int, bytes, dict[str, str]]:
    varying = {"X-Request-ID", "X-RateLimit-Reset", "Retry-After"}
    return response.status_code, response.content, {k: v for k, v in response.items() if k not in varying}


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_the_gates_answers_are_the_ones_drf_gave(tight, response_format):
    """The same requests with and without the gate in the stack: same status, body and headers."""
    tight.ZUPY_ANONYMOUS_RATE_LIMIT = 100  # the per-address limit is the gate's own
    answers: dict[bool, list[tuple[int, bytes, dict[str, str]]]] = {}
    for gated in (True, False):
        tight.MIDDLEWARE = [m for m in django_settings.MIDDLEWARE if gated or m != GATE]
        cache.clear()
        company = CompanyFactory.create(rate_tier="free")
        key = Api(make_key(company, response_format=response_format))
        read_only = Api(make_key(company, read_only=True, response_format=response_format))
        responses = [key.get("/api/v2/rewards/") for _ in range(3)]  # 200, 200, 429
        responses += [key.post("/api/v2/customers/", {"name": "x"}), key.client.put("/api/v2/rewards/")]
        responses += [read_only.post("/api/v2/customers/", {"name": "x"})]
        responses += [
            Api(None).get("/api/v2/rewards/"),
            Api("zupy_pk_" + "q" * 32).get("/api/v2/coupons/issued/"),
        ]
        responses += [Api("nonsense").post("/api/v2/customers/", {"name": "x"})]
        answers[gated] = [_answer(r) for r in responses]
    statuses = [status for status, _, _ in answers[True]]
    assert statuses == [200, 200, 429, 429, 429, 403, 401, 401, 401]
    for gated_answer, drf_answer in zip(answers[True][2:], answers[False][2:], strict=True):
        assert gated_answer == drf_answer


@pytest.fixture
def fresh_documents() -> Iterator[None]:
    SchemaView.forget()
    yield
    SchemaView.forget()


def test_the_schema_is_built_once_per_process_and_stays_the_same(fresh_documents, monkeypatch, client):
    built: list[int] = []
    get_schema = SchemaGenerator.get_schema

    def counting(self: SchemaGenerator, *args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return get_schema(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    yaml_answers = [client.get("/api/v2/schema/") for _ in range(3)]
    json_answers = [client.get("/api/v2/schema/?format=json") for _ in range(2)]
    assert len(built) == 2, "once for YAML, once for JSON"
    fresh = client.get("/api/v2/schema/?lang=en")  # built for this request, as drf-spectacular does
    assert len(built) == 3
    for answer in yaml_answers:
        assert answer.status_code == 200 and answer.content == fresh.content
        assert _answer(answer)[2] == _answer(fresh)[2]
    assert json_answers[0].content == json_answers[1].content
    assert json_answers[0]["Content-Type"] == "application/vnd.oai.openapi+json"
    assert json_answers[0].content.startswith(b"{")


def test_once_over_its_limit_a_key_is_refused_without_a_round_trip_to_the_cache(tight, monkeypatch):
    counted: list[str] = []
    count = auth._count

    def counting(key: str) -> int:
        counted.append(key)
        return count(key)

    monkeypatch.setattr(auth, "_count", counting)
    api = Api(make_key(CompanyFactory.create(rate_tier="free")))
    if time.time() % 60 > 50:  # stay inside one one-minute window
        time.sleep(61 - time.time() % 60)
    statuses = [api.get("/api/v2/rewards/").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    assert len(counted) == 3, "the first refusal counts; the ones after it are known to be over"
    tight.ZUPY_RATE_LIMITS = {**tight.ZUPY_RATE_LIMITS, "free": 5}  # a tier raised meanwhile
    assert api.get("/api/v2/rewards/").status_code == 200 and len(counted) == 4, "counted again"
