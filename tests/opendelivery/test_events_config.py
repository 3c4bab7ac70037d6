"""Setting a client's webhook with ``configure_od_webhook``: the secret is generated with the first
URL and printed once; a URL or event list that cannot work is refused and changes nothing."""

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from opendelivery.events import STANDARD, SUBSCRIBABLE
from opendelivery.models import ClientKind, OdClient
from opendelivery.services import od_client_create
from tests.factories import CompanyFactory
from tests.opendelivery.loyalty_events import standard_event_types

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> OdClient:
    return od_client_create(name="Platform", kind=ClientKind.BY_MERCHANT, company=CompanyFactory.create())[0]


@pytest.fixture
def admin(client: OdClient) -> Client:
    browser = Client()
    browser.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return browser


def configure(*args: str) -> dict:
    out = StringIO()
    call_command("configure_od_webhook", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_secret_comes_with_the_first_url_and_is_shown_once(client, settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
    first = configure(client.application.client_id, "--url", "http://127.0.0.1:9/hook")
    assert first["webhook_secret"] and first["webhook_events"] == []
    client.refresh_from_db()
    assert client.webhook_secret == first["webhook_secret"]
    again = configure(client.pk, "--events", "loyalty.points.earned,loyalty.points.adjusted")
    assert again["webhook_secret"] is None  # not shown again
    assert again["webhook_events"] == ["loyalty.points.adjusted", "loyalty.points.earned"]
    rotated = configure(client.pk, "--rotate-secret")
    assert rotated["webhook_secret"] not in (None, first["webhook_secret"])
    off = configure(client.pk, "--url", "")
    assert off["webhook_url"] == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--url", "http://127.0.0.1/hook"], "webhook_url"),  # https only, public addresses only
        (["--url", "https://10.0.0.1/hook"], "private"),
        (["--url", "https://hooks.example.com/a b"], "webhook_url"),
        (["--events", "points.earned"], "Unknown event types: points.earned"),  # a native name
        (["--events", "loyalty.cashback.earned"], "Unknown event types"),  # no cashback here
    ],
)
def test_what_cannot_work_is_refused_and_changes_nothing(client, args, says):
    with pytest.raises(CommandError, match=says):
        configure(client.pk, *args)
    client.refresh_from_db()
    assert (client.webhook_url, client.webhook_secret, client.webhook_events) == ("", "", [])


def test_an_unknown_client_is_refused():
    with pytest.raises(CommandError, match="No OpenDelivery client"):
        configure("nobody")


def test_every_type_we_send_is_in_the_standards_enum():
    assert set(SUBSCRIBABLE) <= set(standard_event_types())
    assert set(STANDARD.values()) == {
        "loyalty.points.earned",
        "loyalty.redemption.created",
        "loyalty.coupon.used",
        "loyalty.tier.changed",
    }


def change(admin: Client, client: OdClient, **fields: str) -> str:
    form = {"name": client.name, "scopes": client.scopes, "webhook_url": "", "webhook_events": "[]", **fields}
    answer = admin.post(f"/admin/opendelivery/odclient/{client.pk}/change/", form, follow=True)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_admin_generates_the_secret_with_the_first_url_and_shows_it_once(admin, client, settings):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = True
    page = change(admin, client, webhook_url="http://127.0.0.1:9/hook")
    client.refresh_from_db()
    assert client.webhook_url == "http://127.0.0.1:9/hook" and client.webhook_secret
    assert f"Webhook secret {client.webhook_secret}" in page
    page = change(
        admin, client, webhook_url="http://127.0.0.1:9/other", webhook_events='["loyalty.coupon.expired"]'
    )
    client.refresh_from_db()
    assert client.webhook_secret not in page and client.webhook_events == ["loyalty.coupon.expired"]
    assert (
        client.webhook_secret[-4:]
        in admin.get(f"/admin/opendelivery/odclient/{client.pk}/change/").content.decode()
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"webhook_url": "https://10.0.0.1/hook"},
        {"webhook_events": '["points.earned"]'},
        {"webhook_events": '"x"'},
    ],
)
def test_the_admin_refuses_what_cannot_work(admin, client, fields):
    page = change(admin, client, **fields)
    assert "errornote" in page
    client.refresh_from_db()
    assert (client.webhook_url, client.webhook_secret, client.webhook_events) == ("", "", [])
