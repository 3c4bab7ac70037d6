import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v2/rewards/", "get"),
    ("/api/v2/rewards/{reward_id}/", "get"),
    ("/api/v2/rewards/coupons/", "get"),
    ("/api/v2/coupons/issued/", "get"),
    ("/api/v2/coupons/issued/stats/", "get"),
    ("/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/", "post"),
    ("/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/", "post"),
}


def test_schema_is_public_and_lists_every_operation_with_the_key_scheme():
    response = Client().get("/api/v2/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    found = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert found >= OPERATIONS
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
    }  # fmt: skip
    catalog_params = {p["name"] for p in schema["paths"]["/api/v2/rewards/"]["get"]["parameters"]}
    assert {"customer_id", "redeemable"} <= catalog_params


def test_docs_page_is_served():
    assert Client().get("/api/v2/docs/").status_code == 200
