"""GET /.well-known/opendelivery: public, the manifest as discovery.openapi.yaml defines it, and
nothing declared that does not answer."""

import re

import pytest
import yaml

from opendelivery.discovery import CUSTOMER_OPERATIONS, routed_operations
from tests.factories import CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.conformance import REFERENCE, od_validate_response

pytestmark = pytest.mark.django_db

MANIFEST = "/.well-known/opendelivery"
APP_ID = "98790000-9879-8000-9879-000098790000"


def _manifest(client, **extra):
    response = client.get(MANIFEST, **extra)
    body = od_validate_response(response, "get", MANIFEST)
    assert response.status_code == 200
    return response, body


def test_the_manifest_is_public_and_conforms(client, settings):
    settings.OPENDELIVERY_APP_ID = APP_ID
    response, body = _manifest(client)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "public, max-age=300"
    assert body["appId"] == APP_ID
    assert body["openDelivery"] == {"currentVersion": "2.0", "supportedVersions": ["2.0", "2.0.0-rc"]}
    assert body["authentication"] == {
        "supportedGrantTypes": ["client_credentials"],
        "clientIdGeneration": ["by_app", "by_merchant"],
    }
    assert list(body["capabilities"]) == ["customer"]
    assert body["capabilities"]["customer"]["supported"] is True


def test_the_endpoint_is_the_public_base_url_and_v2(client, settings):
    settings.WALLET_PUBLIC_URL = "https://fidelidade.example.com"
    assert _manifest(client)[1]["capabilities"]["customer"]["endpoint"] == "https://fidelidade.example.com/v2"
    settings.WALLET_PUBLIC_URL = ""
    _, body = _manifest(client, secure=True)
    assert body["capabilities"]["customer"]["endpoint"] == "https://testserver/v2"


def test_the_operations_are_what_is_routed(client):
    customer = _manifest(client)[1]["capabilities"]["customer"]
    routed = routed_operations()
    assert customer["supportedOperations"] == [name for name in CUSTOMER_OPERATIONS if name in routed]
    assert customer["unsupportedOperations"] == [name for name in CUSTOMER_OPERATIONS if name not in routed]
    assert "listMerchants" in routed  # served, but not one of the Customer document's operations


def test_the_customer_operations_are_the_documents():
    document = yaml.safe_load((REFERENCE / "customer.openapi.yaml").read_text())
    declared = [
        op["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        if "operationId" in op
    ]
    assert sorted(CUSTOMER_OPERATIONS) == sorted(declared)


def test_every_routed_view_names_operations_of_the_standard():
    for operation, (method, route, view) in routed_operations().items():
        # Served beside the Customer document's paths: the merchants a token reaches, and the
        # standard's customerEvent webhook received here (the upstream guide's accrual from orders).
        served_beside = ("listMerchants", "receiveCustomerEvent")
        assert operation in (*CUSTOMER_OPERATIONS, *served_beside), (operation, route)
        assert hasattr(view, method), (operation, route, method)
        assert route.startswith("v2/"), route


def test_every_declared_operation_answers(client, od_api, od_client_by_merchant):
    """Each supported operation, called with real ids of the caller's company: never 404/405/501."""
    company = od_client_by_merchant.company
    customer = CustomerFactory.create(company=company, points=100)
    reward = RewardFactory.create(company=company)
    coupon = CouponFactory.create(customer=customer, reward=reward)
    ids = {
        "customer": customer.pk,
        "account": customer.pk,
        "program": company.loyalty_program.pk,
        "reward": reward.pk,
        "coupon": coupon.pk,
    }

    def fill(match: re.Match) -> str:
        name = match.group(1).lower()
        return next((value for key, value in ids.items() if key in name), "x")

    api = od_api(od_client_by_merchant)
    declared = _manifest(client)[1]["capabilities"]["customer"]["supportedOperations"]
    routed = routed_operations()
    for operation in declared:
        method, route, _ = routed[operation]
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)
        response = api.post(path, {}) if method == "post" else api.get(path)
        assert response.status_code not in (404, 405, 501), (operation, path, response.content)


def test_the_manifest_answers_head(client):
    assert client.head(MANIFEST).status_code == 200


def test_another_method_is_405_in_the_discovery_error_shape(client):
    response = client.post(MANIFEST, {}, content_type="application/json")
    body = od_validate_response(response, "post", MANIFEST)
    assert response.status_code == 405
    assert body["error"]["code"] == "method_not_allowed"


def test_the_manifest_is_counted_per_address(client, settings):
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 2
    assert [client.get(MANIFEST).status_code for _ in range(2)] == [200, 200]
    response = client.get(MANIFEST)
    body = od_validate_response(response, "get", MANIFEST)
    assert response.status_code == 429
    assert body["error"]["code"] == "rate_limit_exceeded" and body["error"]["retryable"] is True
    assert int(response["Retry-After"]) >= 1
    assert response["X-RateLimit-Remaining"] == "0"


def test_a_path_below_the_manifest_is_404_in_the_discovery_error_shape(client):
    response = client.get(MANIFEST + "/more")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
