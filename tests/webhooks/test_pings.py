"""Test pings within bounds: a small rate per company, one in flight per company, and a cap on how
many of a process's request threads send pings at once."""

import pytest
from django.db import connections

from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)

PING = "/api/v2/integrations/webhooks/test/"


def pinger(url: str) -> Api:
    company = CompanyFactory.create()
    WebhookEndpoint.objects.create(company=company, url=url, secret="whsec_test")
    return Api(make_key(company))


def test_a_company_may_ping_a_few_times_a_minute(receiver, settings):
    settings.WEBHOOK_PING_PER_MINUTE = 2
    api = pinger(receiver.url)
    assert [api.post(PING).status_code for _ in range(2)] == [200, 200]
    refused = api.post(PING)
    assert_problem(refused, 429, "rate-limit-exceeded", "webhook_ping_rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert len(receiver.received) == 2
    assert pinger(receiver.url).post(PING).status_code == 200, "another company has its own budget"


def test_one_ping_in_flight_per_company_and_one_per_process(receiver):
    api, other = pinger(receiver.url), pinger(receiver.url)

    def meanwhile() -> tuple[object, object]:
        """While the receiver holds the first ping, the same company and then another one try theirs."""
        try:
            return api.post(PING), other.post(PING)
        finally:
            connections.close_all()  # this thread's own, before the test database goes

    receiver.during = meanwhile
    assert api.post(PING).json()["data"]["success"] is True
    ((same, another),) = receiver.during_results
    assert_problem(same, 429, "rate-limit-exceeded", "webhook_ping_in_flight")
    assert_problem(another, 503, "service-unavailable", "webhook_pings_busy")
    assert int(same["Retry-After"]) >= 1 and int(another["Retry-After"]) >= 1
    receiver.during = None
    assert [api.post(PING).status_code, other.post(PING).status_code] == [200, 200], "both free again"
    assert len(receiver.received) == 3
