"""The public wallet paths under attack: a flood from one address, a pass's token registering a
crowd of devices, a body sent without the pass's token, tags and device ids Wallet never sends, and
one device seen by two companies."""

import json
import logging
from typing import Any

import pytest
from django.test import Client

from tests.conftest import assert_problem, run_together
from tests.factories import make_key
from tests.wallet.apple_certs import PASS_TYPE_ID, apple_configured, apple_pki
from tests.wallet.test_passkit import DEVICE, PUSH_TOKEN, card_pass, passkit
from wallet.models import AppleRegistration, WalletPass

__all__ = ["apple_configured", "apple_pki"]  # fixtures, used by name

pytestmark = pytest.mark.django_db

IOS_17 = "PassKit/1.0 CFNetwork/1494.0.7 Darwin/23.4.0 iOS/17.5"
IOS_18 = "PassKit/1.0 CFNetwork/1568 Darwin/24.0.0 iOS/18.0"


def register(
    wallet_pass: WalletPass,
    device: str = DEVICE,
    push_token: str = PUSH_TOKEN,
    *,
    client: Client | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    return (client or Client()).post(
        passkit(f"devices/{device}/registrations/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
        json.dumps({"pushToken": push_token}),
        content_type="application/json",
        headers={"Authorization": f"ApplePass {wallet_pass.auth_token}", **(headers or {})},
    )


def active(wallet_pass: WalletPass) -> list[str]:
    return sorted(
        AppleRegistration.objects.filter(wallet_pass=wallet_pass, unregistered_at__isnull=True).values_list(
            "device__device_library_identifier", flat=True
        )
    )


# --- One address, one budget ---------------------------------------------------------------------
def test_one_address_is_answered_429_past_its_minute_on_every_public_wallet_path(
    apple_configured, settings, caplog
):
    settings.WALLET_PUBLIC_RATE_LIMIT = 3
    wallet_pass = card_pass()
    client = Client(REMOTE_ADDR="198.51.100.7")
    log_body = json.dumps({"logs": ["x" * 100] * 10})
    with caplog.at_level(logging.WARNING, logger="zupy.wallet.passkit"):
        statuses = [
            client.post(passkit("log"), log_body, content_type="application/json").status_code
            for _ in range(3)
        ]
        refused = client.post(passkit("log"), log_body, content_type="application/json")
    assert statuses == [200] * 3
    assert_problem(refused, 429, "rate-limit-exceeded", "wallet_rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # The refused request wrote nothing to the log: 3 requests of 10 lines, no more.
    assert len([r for r in caplog.records if r.name == "zupy.wallet.passkit"]) == 30

    # The same budget for the download (which signs) and the registration.
    download = client.get(f"/wallet/apple/{wallet_pass.download_token}.pkpass")
    assert_problem(download, 429, "rate-limit-exceeded", "wallet_rate_limited")
    assert register(wallet_pass, client=client).status_code == 429
    assert not AppleRegistration.objects.exists()
    # Another address has its own.
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.get(f"/wallet/apple/{wallet_pass.download_token}.pkpass").status_code == 200


def test_without_the_shared_cache_the_wallet_paths_are_served(apple_configured, settings, monkeypatch):
    settings.WALLET_PUBLIC_RATE_LIMIT = 1

    def down(key: str, *, ttl: int) -> int:
        raise ConnectionError("cache down")

    monkeypatch.setattr("core.ratelimit.counter_incr", down)
    log_body = json.dumps({"logs": ["one line"]})
    statuses = [
        Client().post(passkit("log"), log_body, content_type="application/json").status_code for _ in range(3)
    ]
    assert statuses == [200] * 3


# --- The pass's token before the body ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{}", "application/json"),
        ('{"pushToken": ', "application/json"),
        ("pushToken=ab", "application/x-www-form-urlencoded"),
    ],
    ids=["empty-object", "malformed-json", "form"],
)
def test_a_registration_without_the_pass_token_is_401_whatever_its_body(apple_configured, body, content_type):
    wallet_pass = card_pass()
    response = Client().post(
        passkit(f"devices/{DEVICE}/registrations/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
        body,
        content_type=content_type,
    )
    assert_problem(response, 401, "authentication-required", "pass_not_authorized")
    assert response["WWW-Authenticate"] == "ApplePass"


# --- Devices per pass ------------------------------------------------------------------------------------
def test_a_pass_takes_its_cap_of_devices_and_refuses_the_next_until_one_leaves(apple_configured, settings):
    settings.WALLET_MAX_DEVICES_PER_PASS = 2
    wallet_pass = card_pass()
    assert register(wallet_pass, "dev1", "01" * 32).status_code == 201
    assert register(wallet_pass, "dev2", "02" * 32).status_code == 201
    refused = register(wallet_pass, "dev3", "03" * 32)
    assert_problem(refused, 409, "conflict", "pass_device_limit")
    assert active(wallet_pass) == ["dev1", "dev2"]
    assert not AppleRegistration.objects.filter(device__device_library_identifier="dev3").exists()
    # A device already registered is not a new one.
    assert register(wallet_pass, "dev2", "02" * 32).status_code == 200
    # One removes the pass: its place is free.
    removed = Client().delete(
        passkit(f"devices/dev1/registrations/{PASS_TYPE_ID}/{wallet_pass.serial_number}"),
        headers={"Authorization": f"ApplePass {wallet_pass.auth_token}"},
    )
    assert removed.status_code == 200
    assert register(wallet_pass, "dev3", "03" * 32).status_code == 201
    assert active(wallet_pass) == ["dev2", "dev3"]


def test_a_flood_of_device_ids_with_one_push_token_leaves_one_registration_and_one_push(
    apple_configured, settings
):
    settings.WALLET_MAX_DEVICES_PER_PASS = 3
    wallet_pass = card_pass()
    statuses = [register(wallet_pass, f"flood{i}").status_code for i in range(20)]
    # Each new id replaces the one before: never over the cap, never refused.
    assert statuses == [201] * 20
    assert active(wallet_pass) == ["flood19"]


def test_the_customer_devices_list_holds_the_cap_after_a_flood(apple_configured, settings):
    settings.WALLET_MAX_DEVICES_PER_PASS = 3
    wallet_pass = card_pass()
    for i in range(10):
        register(wallet_pass, f"flood{i}", f"{i:02d}" * 32)
    partner = Client(headers={"X-API-Key": make_key(wallet_pass.company)})
    body = partner.get(f"/api/v2/customers/{wallet_pass.customer_id}/wallet-devices/").json()["data"]
    assert body["summary"]["apple"]["device_count"] == 3


# --- What one company sees of a device -------------------------------------------------------------
def test_a_device_shows_each_company_only_what_its_own_registration_sent(apple_configured):
    first, second = card_pass(), card_pass()
    assert first.company_id != second.company_id
    assert (
        register(first, headers={"User-Agent": IOS_17, "Accept-Language": "pt-BR,pt;q=0.9"}).status_code
        == 201
    )
    assert register(second, headers={"User-Agent": IOS_18}).status_code == 201

    def seen_by(wallet_pass: WalletPass) -> tuple[str, str | None, str | None]:
        partner = Client(headers={"X-API-Key": make_key(wallet_pass.company)})
        answer = partner.get(f"/api/v2/customers/{wallet_pass.customer_id}/wallet-devices/")
        assert answer.status_code == 200, answer.content
        (device,) = answer.json()["data"]["apple_devices"]
        return device["platform_hint"], device["os_version"], device["locale"]

    assert seen_by(first) == ("ios", "17.5", "pt-BR")
    assert seen_by(second) == ("ios", "18.0", None)


# --- What Wallet never sends -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "tag", ["abc", "9223372036854775808", "999999999999999999", "-1", "12.5", "\u0661\u0662"]
)
def test_a_passes_updated_since_that_is_no_tag_of_ours_is_400(apple_configured, tag):
    wallet_pass = card_pass()
    assert register(wallet_pass).status_code == 201
    response = Client().get(
        passkit(f"devices/{DEVICE}/registrations/{PASS_TYPE_ID}"), {"passesUpdatedSince": tag}
    )
    assert_problem(response, 400, "validation-error", "bad_update_tag")


def test_an_empty_passes_updated_since_lists_every_pass_as_none_does(apple_configured):
    wallet_pass = card_pass()
    assert register(wallet_pass).status_code == 201
    response = Client().get(
        passkit(f"devices/{DEVICE}/registrations/{PASS_TYPE_ID}"), {"passesUpdatedSince": ""}
    )
    assert response.status_code == 200
    assert response.json()["serialNumbers"] == [str(wallet_pass.serial_number)]


@pytest.mark.parametrize("device", [".", "..", "dev.1", "dev-1", "dev_1", "dev%201"])
def test_a_device_id_of_anything_but_letters_and_digits_is_not_served(apple_configured, device):
    wallet_pass = card_pass()
    response = register(wallet_pass, device)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert not AppleRegistration.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_devices_registering_one_pass_at_once_get_only_the_cap(apple_configured, settings):
    settings.WALLET_MAX_DEVICES_PER_PASS = 2
    wallet_pass = card_pass()
    devices = iter(range(6))

    def one() -> int:
        i = next(devices)
        return int(register(wallet_pass, f"dev{i}", f"{i:02d}" * 32).status_code)

    assert sorted(run_together(6, one)) == [201, 201, 409, 409, 409, 409]
    assert len(active(wallet_pass)) == 2
