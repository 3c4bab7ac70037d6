import socket

import pytest

from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, RewardFactory, make_key

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
    api = Api(make_key(CompanyFactory.create(rate_tier=tier)))
    assert api.get("/api/v2/rewards/")["X-RateLimit-Limit"] == str(limit)


def test_over_the_limit_is_429_with_retry_after(settings):
    settings.ZUPY_RATE_LIMITS = {**settings.ZUPY_RATE_LIMITS, "free": 3}
    company = CompanyFactory.create()
    api = Api(make_key(company))
    assert [api.get("/api/v2/rewards/").status_code for _ in range(3)] == [200, 200, 200]
    response = api.get("/api/v2/rewards/")
    assert_problem(response, 429, "rate-limit-exceeded")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Remaining"] == "0"
    other_key = Api(make_key(company))
    assert other_key.get("/api/v2/rewards/").status_code == 200, "the budget is per key"


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The cache is Redis on a loopback port where nothing listens (bound, never listening, so
    connecting is refused at once and no other process can take the port meanwhile)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        monkeypatch.setattr("zupy.api.auth._clients", {})
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/0",
            }
        }
        yield


def test_a_cache_outage_fails_open(api, customer, redis_down, caplog):
    """Tills keep working: the key is looked up in the database, the limit is skipped."""
    response = api.get("/api/v2/rewards/")
    assert response.status_code == 200, response.content
    assert "X-RateLimit-Limit" not in response
    assert "rate-limit cache unavailable; request allowed" in caplog.text
    reward = RewardFactory.create(company=customer.company, points_required=100)
    assert api.redeem(customer.pk, reward.pk).status_code == 200
