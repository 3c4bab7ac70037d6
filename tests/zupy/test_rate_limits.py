import pytest

from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key

pytestmark = pytest.mark.django_db


def test_every_answer_carries_the_rate_limit_headers(api):
    first = api.get("/api/v2/rewards/")
    second = api.get("/api/v2/coupons/issued/")
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("60", "59")
    assert second["X-RateLimit-Remaining"] == "58"
    assert 1 <= int(first["X-RateLimit-Reset"]) <= 60
    refused = api.get("/api/v2/rewards/nope/")
    assert refused.status_code == 404 and refused["X-RateLimit-Remaining"] == "57"


@pytest.mark.parametrize(("tier", "limit"), [("free", 60), ("standard", 300), ("enterprise", 3000)])
def test_limit_follows_the_companys_tier(tier, limit):
    api = Api(make_key(CompanyFactory(rate_tier=tier)))
    assert api.get("/api/v2/rewards/")["X-RateLimit-Limit"] == str(limit)


def test_over_the_limit_is_429_with_retry_after(settings):
    settings.ZUPY_RATE_LIMITS = {**settings.ZUPY_RATE_LIMITS, "free": 3}
    company = CompanyFactory()
    api = Api(make_key(company))
    assert [api.get("/api/v2/rewards/").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/api/v2/rewards/")
    assert_problem(response, 429, "rate-limit-exceeded")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Remaining"] == "0"
    other_key = Api(make_key(company))
    assert other_key.get("/api/v2/rewards/").status_code == 200, "the budget is per key"


def test_a_cache_outage_fails_open(api, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("zupy.api.throttling.cache.incr", broken)
    response = api.get("/api/v2/rewards/")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response
