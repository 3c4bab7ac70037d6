"""Test pings within bounds: a small rate per company, one in flight per company, and a cap on how
many of a process's request threads send pings at once; and an answer cut off at the deadline
counts as a timeout however much of it had arrived."""

import pytest
from django.db import connections

from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key
from tests.webhooks.conftest import TrickleReceiver
from tests.webhooks.test_delivery import outbox_row
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_deliver_next

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


def test_an_answer_cut_off_at_the_deadline_is_a_timeout_even_if_its_status_line_arrived(settings):
    # Fast enough that the status line is complete long before the deadline, then header after
    # header: http.client would take the cut (end of file) for the end of the headers.
    trickle = TrickleReceiver(interval=0.01)
    try:
        settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
        settings.WEBHOOK_TIMEOUT = 1.0
        row = outbox_row(trickle.url)
        webhook_deliver_next()
        row.refresh_from_db()
        assert (row.attempts, row.last_status_code) == (1, None)
        assert row.last_error.startswith("timed out"), row.last_error
        assert trickle.connections[0].sent > len("HTTP/1.1 200 OK\r\n")
    finally:
        trickle.shutdown()
