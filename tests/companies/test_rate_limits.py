import threading

import pytest
from django.db import connections

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


def test_a_cache_outage_fails_open(api, customer, redis_down, caplog):
    """Tills keep working: the key is looked up in the database, the limit is skipped."""
    response = api.get("/api/v2/rewards/")
    assert response.status_code == 200, response.content
    assert "X-RateLimit-Limit" not in response
    assert "rate-limit cache unavailable; request allowed" in caplog.text
    reward = RewardFactory.create(company=customer.company, points_required=100)
    assert api.redeem(customer.pk, reward.pk).status_code == 200


@pytest.mark.django_db(transaction=True)  # the request runs in a thread, on its own connection
def test_a_hung_cache_is_given_up_on_and_the_request_served(api, customer, redis_silent):
    """A Redis that accepts and never answers: the socket timeout ends the wait and the request is
    served (without the timeout this test never returns)."""
    outcome: list[int] = []

    def call() -> None:
        try:
            outcome.append(api.get("/api/v2/rewards/").status_code)
        finally:
            connections.close_all()  # this thread's own connection

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=60)
    assert outcome == [200]
