"""The PassKit web service as Wallet uses it, over HTTP (the live test server) with Wallet's
headers: download the pass, register the device, ask what changed, validate the coupon through
the partner API, ask again, download the voided pass, unregister."""

import io
import json
import logging
import time
import zipfile
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone
from django.utils.http import http_date

from tests.conftest import assert_problem, run_together
from tests.factories import CouponFactory, CustomerFactory, make_key
from tests.wallet.apple_certs import PASS_TYPE_ID, apple_configured, apple_pki
from wallet.models import (
    AppleDevice,
    AppleRegistration,
    JobKind,
    PassKind,
    Platform,
    WalletJob,
    WalletPass,
)
from wallet.passkit.services import last_modified_of, locale_of, user_agent_hints

__all__ = ["apple_configured", "apple_pki"]  # fixtures, used by name

DEVICE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PUSH_TOKEN = "ab" * 32
WALLET_HEADERS = {
    "User-Agent": "PassKit/1.0 CFNetwork/1494.0.7 Darwin/23.4.0 iOS/17.5",
    "Accept-Language": "pt-BR,pt;q=0.9",
}


def coupon_pass(**coupon: Any) -> WalletPass:
    found = CouponFactory.create(**coupon)
    return WalletPass.objects.create(
        company=found.company,
        customer=found.customer,
        coupon=found,
        kind=PassKind.COUPON,
        platform=Platform.APPLE,
        # Issued a while ago, as a pass is before the till uses its coupon.
        changed_at=timezone.now() - timedelta(minutes=5),
    )


def card_pass() -> WalletPass:
    owner = CustomerFactory.create(points=500)
    return WalletPass.objects.create(
        company=owner.company,
        customer=owner,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=timezone.now() - timedelta(minutes=5),
    )


def pass_json(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        document: dict[str, Any] = json.loads(archive.read("pass.json"))
    return document


class Wallet:
    """What the Wallet app of one device sends, to the webServiceURL of one pass."""

    def __init__(self, web_service_url: str, token: str, serial: str) -> None:
        self.base = web_service_url.rstrip("/") + "/v1"
        self.token = token
        self.serial = serial
        self.session = requests.Session()
        self.session.headers.update(WALLET_HEADERS)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"ApplePass {token or self.token}"}

    def registration(self) -> str:
        return f"{self.base}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{self.serial}"

    def register(self, token: str | None = None) -> requests.Response:
        return self.session.post(
            self.registration(), json={"pushToken": PUSH_TOKEN}, headers=self.auth(token), timeout=30
        )

    def unregister(self) -> requests.Response:
        return self.session.delete(self.registration(), headers=self.auth(), timeout=30)

    def updated_since(self, tag: str | None) -> requests.Response:
        params = {"passesUpdatedSince": tag} if tag else {}
        url = f"{self.base}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
        return self.session.get(url, params=params, timeout=30)

    def latest(self, if_modified_since: str | None = None, token: str | None = None) -> requests.Response:
        headers = self.auth(token)
        if if_modified_since:
            headers["If-Modified-Since"] = if_modified_since
        return self.session.get(
            f"{self.base}/passes/{PASS_TYPE_ID}/{self.serial}", headers=headers, timeout=30
        )

    def log(self, lines: list[str]) -> requests.Response:
        return self.session.post(f"{self.base}/log", json={"logs": lines}, timeout=30)


@pytest.mark.django_db(transaction=True)
def test_from_register_to_the_voided_pass_after_the_till_validates(apple_configured, live_server):
    wallet_pass = coupon_pass()
    coupon = wallet_pass.coupon
    assert coupon is not None
    # The customer opens pass_url: the .pkpass, with what Wallet needs to keep it current.
    download = requests.get(f"{live_server.url}/wallet/apple/{wallet_pass.download_token}.pkpass", timeout=30)
    assert download.status_code == 200, download.content
    assert download.headers["Content-Type"] == "application/vnd.apple.pkpass"
    first_modified = download.headers["Last-Modified"]
    document = pass_json(download.content)
    assert document["webServiceURL"] == f"{live_server.url}/passkit/"
    assert "voided" not in document
    wallet = Wallet(document["webServiceURL"], document["authenticationToken"], document["serialNumber"])

    assert wallet.register().status_code == 201
    assert wallet.register().status_code == 200
    registration = AppleRegistration.objects.select_related("device").get(
        device__device_library_identifier=DEVICE
    )
    assert (
        registration.device.push_token,
        registration.platform_hint,
        registration.os_version,
        registration.locale,
    ) == (
        PUSH_TOKEN,
        "ios",
        "17.5",
        "pt-BR",
    )

    listed = wallet.updated_since(None)
    assert listed.status_code == 200
    assert listed.json()["serialNumbers"] == [str(wallet_pass.serial_number)]
    tag = listed.json()["lastUpdated"]
    assert wallet.updated_since(tag).status_code == 204  # nothing changed since

    # The till validates the coupon through the partner API.
    key = make_key(wallet_pass.company)
    validated = requests.post(
        f"{live_server.url}/api/v2/customers/{coupon.customer_id}/coupons/{coupon.code}/validate/",
        headers={"X-API-Key": key},
        json={},
        timeout=30,
    )
    assert validated.status_code == 200, validated.content
    # The push that tells the device is in the outbox, for this device's registration.
    push = WalletJob.objects.get(kind=JobKind.APPLE_PUSH, wallet_pass=wallet_pass)
    assert push.registration is not None and push.registration.device_id == registration.device_id

    changed = wallet.updated_since(tag)
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [str(wallet_pass.serial_number)]
    assert int(changed.json()["lastUpdated"]) > int(tag)
    assert wallet.updated_since(changed.json()["lastUpdated"]).status_code == 204

    latest = wallet.latest(if_modified_since=first_modified)
    assert latest.status_code == 200
    assert latest.headers["Content-Type"] == "application/vnd.apple.pkpass"
    assert "Last-Modified" in latest.headers
    assert pass_json(latest.content)["voided"] is True
    # A copy from this second or later is current.
    assert wallet.latest(if_modified_since=http_date(time.time())).status_code == 304

    assert wallet.latest(token="0" * 64).status_code == 401
    assert wallet.register(token="0" * 64).status_code == 401

    assert wallet.unregister().status_code == 200
    registration.refresh_from_db()
    assert registration.unregistered_at is not None
    assert wallet.updated_since(None).status_code == 204
    assert wallet.unregister().status_code == 200  # twice: nothing more to do
    assert wallet.register().status_code == 201  # back again
    assert wallet.log(["[2026-12-01] Web service error for pass.com.example: 500"]).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_doubled_slash_after_the_web_service_url_reaches_the_service(apple_configured, live_server):
    wallet_pass = card_pass()
    url = f"{live_server.url}/passkit//v1/passes/{PASS_TYPE_ID}/{wallet_pass.serial_number}"
    response = requests.get(url, headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"}, timeout=30)
    assert response.status_code == 200


pytestmark = pytest.mark.django_db


def passkit(path: str) -> str:
    return f"/passkit/v1/{path}"


def test_register_is_refused_401_for_a_wrong_token_an_unknown_serial_or_pass_type(apple_configured):
    wallet_pass = card_pass()
    client = Client()
    body = json.dumps({"pushToken": PUSH_TOKEN})
    cases = [
        (PASS_TYPE_ID, wallet_pass.serial_number, "ApplePass " + "f" * 64),
        (PASS_TYPE_ID, wallet_pass.serial_number, wallet_pass.auth_token),  # no scheme
        (PASS_TYPE_ID, "0b7e6f5c-3d1a-4b2c-9e8f-7a6b5c4d3e2f", f"ApplePass {wallet_pass.auth_token}"),
        ("pass.com.other", wallet_pass.serial_number, f"ApplePass {wallet_pass.auth_token}"),
    ]
    for pass_type, serial, authorization in cases:
        response = client.post(
            passkit(f"devices/{DEVICE}/registrations/{pass_type}/{serial}"),
            body,
            content_type="application/json",
            headers={"Authorization": authorization},
        )
        assert_problem(response, 401, "authentication-required", "pass_not_authorized")
        assert response["WWW-Authenticate"] == "ApplePass"
    assert not AppleRegistration.objects.exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [('{"pushToken": "not hex"}', 422), ("{}", 422), ('{"pushToken": ', 400), ("[1, 2]", 422)],
    ids=["not-hex", "missing", "malformed", "not-an-object"],
)
def test_a_bad_registration_body_is_a_4xx_and_writes_nothing(apple_configured, body, status):
    wallet_pass = card_pass()
    response = Client().post(
        passkit(f"devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
        body,
        content_type="application/json",
        headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"},
    )
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not AppleDevice.objects.exists()


def test_a_path_that_is_not_wallets_does_not_resolve(apple_configured):
    client = Client()
    assert client.get(passkit(f"passes/{PASS_TYPE_ID}/not-a-uuid")).status_code == 404
    assert client.get(passkit("devices/" + "x" * 101 + f"/registrations/{PASS_TYPE_ID}")).status_code == 404


def test_the_download_of_an_unknown_token_is_404_problem_json(apple_configured):
    response = Client().get("/wallet/apple/" + "A" * 43 + ".pkpass")
    assert_problem(response, 404, "not-found")


def test_without_apple_credentials_downloads_answer_503_with_retry_after(settings):
    settings.WALLET_APPLE_CERT_FILE = ""
    wallet_pass = card_pass()
    response = Client().get(f"/wallet/apple/{wallet_pass.download_token}.pkpass")
    assert_problem(response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable")
    assert response["Retry-After"] == "30"


def test_without_apple_credentials_the_web_service_pass_download_answers_503(apple_configured, settings):
    wallet_pass = card_pass()
    settings.WALLET_APPLE_KEY_FILE = "/nonexistent/pass-key.pem"
    response = Client().get(
        passkit(f"passes/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
        headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"},
    )
    assert_problem(response, 503, "wallet-temporarily-unavailable", "wallet_temporarily_unavailable")


def test_the_web_service_needs_no_api_key_and_is_not_counted_by_the_anonymous_gate(
    apple_configured, settings
):
    """The API gate counts requests without a key under /api/v2/ only: Wallet's requests are not
    refused by it, however many a device sends."""
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 2
    wallet_pass = card_pass()
    client = Client()
    assert client.get("/api/v2/rewards/").status_code == 401  # the gate is on
    for _ in range(4):
        response = client.get(
            passkit(f"passes/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
            headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"},
        )
        assert response.status_code == 200
    assert [client.get("/api/v2/rewards/").status_code for _ in range(2)] == [401, 429]


def test_the_device_log_is_bounded(apple_configured, settings, caplog):
    settings.WALLET_PASSKIT_MAX_LOGS = 3
    settings.WALLET_PASSKIT_MAX_LOG_CHARS = 20
    with caplog.at_level(logging.WARNING, logger="zupy.wallet.passkit"):
        response = Client().post(
            passkit("log"), json.dumps({"logs": ["x" * 1000] * 10}), content_type="application/json"
        )
    assert response.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "zupy.wallet.passkit"]
    assert len(lines) == 4
    assert all(len(line) < 60 for line in lines[:3])
    assert "7 more lines dropped" in lines[3]


def test_a_log_body_that_is_not_a_list_of_lines_is_422():
    response = Client().post(passkit("log"), json.dumps({"logs": "one"}), content_type="application/json")
    assert response.status_code == 422


def test_last_modified_is_a_second_early_while_the_second_of_the_change_lasts():
    changed = timezone.now().replace(microsecond=400_000)
    assert last_modified_of(changed, changed + timedelta(milliseconds=300)) == changed.replace(
        microsecond=0
    ) - timedelta(seconds=1)
    assert last_modified_of(changed, changed + timedelta(seconds=1)) == changed.replace(microsecond=0)


@pytest.mark.parametrize(
    ("agent", "hints"),
    [
        ("PassKit/1.0 CFNetwork/1494.0.7 Darwin/23.4.0 iOS/17.5", ("ios", "17.5")),
        ("Passbook/1.0 watchOS/10.4.1", ("watchos", "10.4.1")),
        ("PassKit/1.0 CFNetwork/1494 Darwin/23.4.0 iPadOS/17.4", ("ios", "17.4")),
        ("PassKit/1.0 macOS/14.5", ("macos", "14.5")),
        ("PassKit/1.0 CFNetwork/1494.0.7 Darwin/23.4.0", ("", "")),
        ("", ("", "")),
    ],
)
def test_the_user_agent_names_the_platform_and_os(agent, hints):
    assert user_agent_hints(agent) == hints


@pytest.mark.parametrize(
    ("header", "locale"),
    [("pt-BR,pt;q=0.9", "pt-BR"), ("en", "en"), ("", ""), ("<script>", ""), ("*", "")],
)
def test_the_locale_is_the_first_accept_language_tag(header, locale):
    assert locale_of(header) == locale


@pytest.mark.django_db(transaction=True)
def test_two_identical_registrations_at_once_make_one_201_and_one_200(apple_configured):
    wallet_pass = card_pass()

    def register() -> int:
        response = Client().post(
            passkit(f"devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
            json.dumps({"pushToken": PUSH_TOKEN}),
            content_type="application/json",
            headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"},
        )
        return response.status_code

    assert sorted(run_together(2, register)) == [200, 201]
    assert AppleDevice.objects.count() == 1
    assert AppleRegistration.objects.count() == 1
