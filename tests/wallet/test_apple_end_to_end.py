"""The whole Apple path as a partner, a phone and the till meet it, over HTTP: the partner issues a
coupon's pass, the phone downloads it and registers, the till validates the coupon, the wallet
worker pushes to the loopback APNs, the phone asks what changed and downloads the voided pass, and
the partner's status and wallet-devices say where it is installed."""

import io
import json
import zipfile
from typing import Any

import pytest
import requests

from tests.factories import CouponFactory, make_key
from tests.wallet import apns_receiver
from tests.wallet.apple_certs import configure, make_pki
from wallet.outbox import wallet_deliver_batch

DEVICE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PUSH_TOKEN = "cd" * 32
WALLET_HEADERS = {
    "User-Agent": "PassKit/1.0 CFNetwork/1494.0.7 Darwin/23.4.0 iOS/17.5",
    "Accept-Language": "pt-BR",
}


def pass_json(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        document: dict[str, Any] = json.loads(archive.read("pass.json"))
    return document


@pytest.mark.django_db(transaction=True)
def test_issue_register_validate_push_and_the_voided_pass(apns, settings, live_server, tmp_path):
    # Passes signed with the throwaway Pass Type ID certificate; pushes with APNs token auth to the
    # loopback receiver, on the receiver's topic.
    configure(settings, make_pki(tmp_path, pass_type_id=apns_receiver.PASS_TYPE_ID))
    coupon = CouponFactory.create()
    partner = requests.Session()
    partner.headers["X-API-Key"] = make_key(coupon.company)
    api = f"{live_server.url}/api/v2"

    issued = partner.post(
        f"{api}/wallet/passes/coupons/",
        json={"customer_id": coupon.customer_id, "coupon_id": coupon.pk, "platform": "apple"},
        timeout=30,
    )
    assert issued.status_code == 201, issued.content
    data = issued.json()["data"]
    assert data["pass_url"].startswith(f"{live_server.url}/wallet/apple/") and data["pass_url"].endswith(
        ".pkpass"
    )

    phone = requests.Session()
    phone.headers.update(WALLET_HEADERS)
    download = phone.get(data["pass_url"], timeout=30)
    assert download.status_code == 200
    document = pass_json(download.content)
    assert document["serialNumber"] == data["serial_number"]
    assert document["barcodes"][0]["message"] == coupon.code
    service = document["webServiceURL"] + "v1"
    auth = {"Authorization": f"ApplePass {document['authenticationToken']}"}
    registration = f"{service}/devices/{DEVICE}/registrations/{document['passTypeIdentifier']}"
    registered = phone.post(
        f"{registration}/{document['serialNumber']}", json={"pushToken": PUSH_TOKEN}, headers=auth, timeout=30
    )
    assert registered.status_code == 201
    tag = phone.get(registration, timeout=30).json()["lastUpdated"]
    assert phone.get(registration, params={"passesUpdatedSince": tag}, timeout=30).status_code == 204

    status = partner.get(f"{api}/wallet/passes/{data['id']}/status/", timeout=30).json()["data"]
    assert status["installed_devices"] == 1
    devices = partner.get(f"{api}/customers/{coupon.customer_id}/wallet-devices/", timeout=30)
    assert devices.status_code == 200
    (device,) = devices.json()["data"]["apple_devices"]
    assert (device["device_library_identifier"], device["platform_hint"], device["os_version"]) == (
        DEVICE,
        "ios",
        "17.5",
    )
    assert device["locale"] == "pt-BR"

    validated = partner.post(
        f"{api}/customers/{coupon.customer_id}/coupons/{coupon.code}/validate/", timeout=30
    )
    assert validated.status_code == 200, validated.content

    assert wallet_deliver_batch() == 1
    pushes = apns.pushes_to(PUSH_TOKEN)
    assert len(pushes) == 1
    assert pushes[0].headers["apns-topic"] == apns_receiver.PASS_TYPE_ID

    changed = phone.get(registration, params={"passesUpdatedSince": tag}, timeout=30)
    assert changed.status_code == 200
    assert changed.json()["serialNumbers"] == [document["serialNumber"]]
    latest = phone.get(
        f"{service}/passes/{document['passTypeIdentifier']}/{document['serialNumber']}",
        headers={**auth, "If-Modified-Since": download.headers["Last-Modified"]},
        timeout=30,
    )
    assert latest.status_code == 200
    assert pass_json(latest.content)["voided"] is True
