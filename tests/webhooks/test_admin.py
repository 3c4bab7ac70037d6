"""The webhook endpoint in Django admin: it accepts only the URLs the API accepts, and a change made
there (a new URL, webhooks turned off) applies to the next event and to events already waiting."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import Api
from tests.factories import CompanyFactory, CustomerFactory, make_key
from tests.webhooks.conftest import Receiver
from tests.webhooks.test_delivery import deliver_all
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def change(admin_client: Client, endpoint: WebhookEndpoint, url: str, events: str = "[]") -> Any:
    return admin_client.post(
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/", {"url": url, "events": events}
    )


@pytest.fixture
def subscribed(receiver: Receiver) -> dict[str, Any]:
    """A company subscribed to every event through the API, with one event already sent (so its
    subscription is cached) and a customer to award points to."""
    company = CompanyFactory.create()
    api = Api(make_key(company))
    assert (
        api.client.put(
            "/api/v2/integrations/webhooks/", {"webhook_url": receiver.url}, format="json"
        ).status_code
        == 200
    )
    customer = CustomerFactory.create(company=company, points=0)
    points = f"/api/v2/customers/{customer.pk}/points/add/"
    api.post(points, {"amount": 1})
    deliver_all()
    assert receiver.events() == ["points.earned"]
    return {"company": company, "api": api, "points": points, "endpoint": company.webhook}


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/hooks",  # resolves to loopback
        "https://127.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "http://hooks.example.com/zupy",  # not https
        "https://user:secret@hooks.example.com/zupy",
        "https://hooks.example.com:99999/zupy",
    ],
)
def test_the_admin_refuses_what_the_api_refuses(admin_client, url):
    company = CompanyFactory.create()
    endpoint = WebhookEndpoint.objects.create(company=company, url="", secret="whsec_test")
    api = Api(make_key(company))
    by_api = api.client.put("/api/v2/integrations/webhooks/", {"webhook_url": url}, format="json")
    assert by_api.status_code == 422

    response = change(admin_client, endpoint, url)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors["url"] == [by_api.json()["errors"][0]["detail"]]
    endpoint.refresh_from_db()
    assert endpoint.url == ""
    added = admin_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"company": CompanyFactory.create().pk, "url": url, "events": "[]"},
    )
    assert added.status_code == 200 and WebhookEndpoint.objects.count() == 1


def test_an_endpoint_added_in_the_admin_gets_a_secret_and_its_events(admin_client, receiver):
    company = CompanyFactory.create()
    response = admin_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"company": company.pk, "url": receiver.url, "events": '["points.earned"]'},
    )
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get(company=company)
    assert (endpoint.url, endpoint.events) == (receiver.url, ["points.earned"])
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 20
    refused = admin_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"company": CompanyFactory.create().pk, "url": receiver.url, "events": '["points.burnt"]'},
    )
    assert refused.status_code == 200 and "Unknown events: points.burnt." in refused.content.decode()


def test_turning_webhooks_off_in_the_admin_stops_new_and_waiting_events_at_once(
    admin_client, subscribed, receiver
):
    api, points = subscribed["api"], subscribed["points"]
    api.post(points, {"amount": 2})  # written while subscribed: waiting in the outbox
    waiting = WebhookDelivery.objects.get(status="pending")

    assert change(admin_client, subscribed["endpoint"], "").status_code == 302
    api.post(points, {"amount": 3})  # the cached subscription is gone: no row for this one
    deliver_all()

    assert receiver.events() == ["points.earned"], "only the event before the change"
    assert WebhookDelivery.objects.count() == 2
    waiting.refresh_from_db()
    assert waiting.delivered_at is None and waiting.status == "exhausted"
    assert waiting.last_error == "not sent: webhooks are disabled for this company"


def test_a_url_changed_in_the_admin_gets_the_events_already_waiting(
    admin_client, subscribed, receiver, second_receiver
):
    api, points = subscribed["api"], subscribed["points"]
    api.post(points, {"amount": 2})
    assert change(admin_client, subscribed["endpoint"], second_receiver.url).status_code == 302
    api.post(points, {"amount": 3})
    deliver_all()

    assert [item["json"]["data"]["amount"] for item in receiver.received] == [1]
    assert sorted(item["json"]["data"]["amount"] for item in second_receiver.received) == [2, 3]
    assert set(WebhookDelivery.objects.values_list("url", flat=True)) == {receiver.url, second_receiver.url}
    assert WebhookDelivery.objects.filter(url=second_receiver.url).count() == 2
