"""Which receivers a company may configure, checked at PUT and again before every attempt."""

import pytest
from pytest_django.fixtures import Settings

from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key
from webhooks.transport import address_refusal

pytestmark = pytest.mark.django_db

PUT = "/api/v2/integrations/webhooks/"


@pytest.fixture
def api(settings: Settings) -> Api:
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOW_PRIVATE = False, False
    return Api(make_key(CompanyFactory.create()))


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/a b",
        "https://93.184.216.34/a\r\nX-Injected: 1",
        "https://93.184.216.34/a\nb",
        "https://93.184.216.34/a\x01b",
        "https://93.184.216.34/a\x7fb",
        "https://93.184.216.34/caf\u00e9",
        "https://93.184.216.34/a%zz",
        "https://93.184.216.34:99999/hook",
        "https://93.184.216.34:0/hook",
        "https://93.184.216.34:/hook",
        "https://93.184.216.34:http/hook",
        "https://93.184.216.34/hook#fragment",
        "https:///hook",
        "https://exa_mple.com/hook",
        "https://[not-v6]/hook",
        "https://93.184.216.34/" + "a" * 480,
        "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped
        "https://[::7f00:1]/hook",  # IPv4-compatible
        "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of 169.254.169.254
        "https://[2002:a9fe:a9fe::]/hook",  # 6to4 of 169.254.169.254
        "https://[2001:0:a9fe:a9fe::]/hook",  # Teredo
        "https://100.64.0.1/hook",  # carrier-grade NAT
        "https://0.0.0.0/hook",
        "https://[::]/hook",
    ],
)
def test_a_malformed_or_internal_url_is_refused_at_configuration(api, url):
    body = assert_problem(api.client.put(PUT, {"webhook_url": url}, format="json"), 422, "validation-error")
    assert [error["field"] for error in body["errors"]] == ["webhook_url"]
    assert api.get(PUT).json()["data"]["webhook_url"] is None


def test_a_public_address_is_accepted(api):
    response = api.client.put(PUT, {"webhook_url": "https://93.184.216.34:8443/hooks?x=1"}, format="json")
    assert response.status_code == 200, response.content


def test_a_name_that_does_not_resolve_is_refused(api):
    body = assert_problem(
        api.client.put(PUT, {"webhook_url": "https://hooks.example/zupy"}, format="json"),
        422,
        "validation-error",
    )
    assert "resolve" in body["errors"][0]["detail"]


@pytest.mark.parametrize(
    "address",
    [
        # is_global says True for these on Python 3.11; the deny-list refuses them.
        "64:ff9b::a00:1",
        "64:ff9b:1::1",
        "2002:a00:1::",
        "::7f00:1",
        "::ffff:0:a00:1",
        "5f00::1",
        "3fff::1",
        "192.88.99.1",
        "192.0.0.9",
        # and the plainly private ones
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "2001:0:a00:1::",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_non_global_addresses_are_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946"])
def test_global_addresses_are_allowed(address):
    assert address_refusal(address) is None


# --- PUT keeps what it does not mention --------------------------------------------------------
def test_rotating_the_secret_keeps_the_url_and_events(api):
    first = api.client.put(
        PUT, {"webhook_url": "https://93.184.216.34/hooks", "webhook_events": ["coupon.used"]}, format="json"
    ).json()["data"]
    rotated = api.client.put(PUT, {"rotate_secret": True}, format="json").json()["data"]
    assert rotated["webhook_url"] == "https://93.184.216.34/hooks"
    assert rotated["webhook_events"] == ["coupon.used"]
    assert (
        rotated["webhook_secret"].startswith("whsec_")
        and rotated["webhook_secret"] != first["webhook_secret"]
    )


def test_an_events_only_body_keeps_the_url(api):
    api.client.put(PUT, {"webhook_url": "https://93.184.216.34/hooks"}, format="json")
    changed = api.client.put(PUT, {"webhook_events": ["points.earned"]}, format="json").json()["data"]
    assert (changed["webhook_url"], changed["webhook_events"]) == (
        "https://93.184.216.34/hooks",
        ["points.earned"],
    )


def test_a_url_only_body_keeps_the_events(api):
    api.client.put(
        PUT, {"webhook_url": "https://93.184.216.34/a", "webhook_events": ["coupon.used"]}, format="json"
    )
    changed = api.client.put(PUT, {"webhook_url": "https://93.184.216.34/b"}, format="json").json()["data"]
    assert (changed["webhook_url"], changed["webhook_events"]) == ("https://93.184.216.34/b", ["coupon.used"])


@pytest.mark.parametrize("off", [None, ""])
def test_a_null_or_empty_url_turns_webhooks_off(api, off):
    api.client.put(PUT, {"webhook_url": "https://93.184.216.34/hooks"}, format="json")
    cleared = api.client.put(PUT, {"webhook_url": off}, format="json").json()["data"]
    assert cleared["webhook_url"] is None
    assert api.get(PUT).json()["data"]["webhook_url"] is None
