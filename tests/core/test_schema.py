import inspect
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

from core.views import ApiView, WriteView

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

OPERATIONS = {
    ("/api/v2/rewards/", "get"),
    ("/api/v2/rewards/{reward_id}/", "get"),
    ("/api/v2/rewards/coupons/", "get"),
    ("/api/v2/coupons/issued/", "get"),
    ("/api/v2/coupons/issued/stats/", "get"),
    ("/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/", "post"),
    ("/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/", "post"),
    ("/api/v2/customers/", "get"),
    ("/api/v2/customers/", "post"),
    ("/api/v2/customers/{customer_id}/", "get"),
    ("/api/v2/customers/{customer_id}/points/", "get"),
    ("/api/v2/customers/{customer_id}/points/add/", "post"),
    ("/api/v2/customers/{customer_id}/points/history/", "get"),
    ("/api/v2/customers/{customer_id}/z-balance/", "get"),
    ("/api/v2/auth/request-otp/", "post"),
    ("/api/v2/auth/verify-otp/", "post"),
}
WRITES_WITH_IDEMPOTENCY = {
    "/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/",
    "/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/",
    "/api/v2/customers/{customer_id}/points/add/",
    "/api/v2/customers/",
    "/api/v2/wallet/passes/loyalty/",
    "/api/v2/wallet/passes/coupons/",
    "/api/v2/wallet/notifications/",
    "/api/v2/webhooks/integrations/{partner}/",
}
OTP_GUARDED = {
    "/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/",
    "/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/",
    "/api/v2/customers/",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "openapi.yaml").read_text())


def test_committed_openapi_yaml_is_current(tmp_path):
    fresh = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(fresh), "--validate", "--fail-on-warn")
    assert fresh.read_text() == (ROOT / "openapi.yaml").read_text(), (
        "openapi.yaml is stale: regenerate it with `DEBUG=true .venv/bin/python manage.py spectacular "
        "--file openapi.yaml` and commit it"
    )


def test_served_schema_is_public_and_lists_every_operation_with_the_key_scheme(schema):
    response = Client().get("/api/v2/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    served = response.json()
    found = {(path, method) for path, item in served["paths"].items() for method in item}
    assert found >= OPERATIONS
    assert served["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert served == json.loads(json.dumps(schema))


def test_docs_page_is_served():
    assert Client().get("/api/v2/docs/").status_code == 200


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_success_is_enveloped_and_lists_carry_the_cursor_meta(schema):
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith("2") or "content" not in response:
                continue
            body = response["content"]["application/json"]["schema"]
            assert body["required"] == ["data", "meta"], (path, method)
            if body["properties"]["data"].get("type") == "array":
                assert body["properties"]["meta"] == {"$ref": "#/components/schemas/ListMeta"}
                params = {p["name"] for p in operation.get("parameters", [])}
                assert {"cursor", "page_size"} <= params, path
            assert set(response["headers"]) >= {
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            }


def test_every_operation_documents_its_problem_answers(schema):
    for path, method, operation in _operations(schema):
        expected = {"401", "404", "422", "429", "500", "503"} | (
            {"400", "409", "415"} if method == "post" else set()
        )
        assert expected <= set(operation["responses"]), (path, method)
        for status in expected:
            content = operation["responses"][status]["content"]
            assert content == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_headers_are_documented_where_they_apply(schema):
    for path, method, operation in _operations(schema):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (method == "post" and path in WRITES_WITH_IDEMPOTENCY), path
        assert ("X-OTP-Session" in headers) == (method == "post" and path in OTP_GUARDED), path


def test_an_operation_is_never_described_by_the_kits_base_views(schema):
    """A view without a docstring of its own gets no description, not ApiView's or WriteView's (they
    describe the kit to its developers, not the operation to a partner)."""
    kit_docs = [inspect.cleandoc(view.__doc__ or "") for view in (ApiView, WriteView)]
    described = [
        operation["description"]
        for item in schema["paths"].values()
        for operation in item.values()
        if "description" in operation
    ]
    assert described, "the views' own docstrings still describe their operations"
    assert not [text for text in described if any(text.startswith(doc[:40]) for doc in kit_docs)]
