"""The upstream operations not served yet answer 501 problem+json naming the operation,
behind the same key, permission and rate-limit checks as every other operation."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from core.unserved import UNSERVED
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, make_key

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = json.loads((ROOT / "docs/reference/zupy-openapi.json").read_text())["paths"]
SAMPLE_ID = "2" + "0" * 26


def upstream_route(operation_id: str) -> tuple[str, str]:
    (found,) = [
        (method, path)
        for path, item in UPSTREAM.items()
        for method, op in item.items()
        if op["operationId"] == operation_id
    ]
    return found


def ours(operation_id: str) -> tuple[str, str]:
    method, route = UNSERVED[operation_id]
    return method, "/api/v2/" + re.sub(r"<\w+:(\w+)>", r"{\1}", route)


def call(api: Api, operation_id: str, path: str | None = None) -> Any:
    method, template = upstream_route(operation_id)
    url = path or re.sub(r"\{[^}]+\}", SAMPLE_ID, template)
    return api.client.post(url, {}, format="json") if method == "post" else api.client.get(url)


def test_the_routes_are_the_upstream_documents_own():
    inbound = {
        op["operationId"]
        for path, item in UPSTREAM.items()
        for op in item.values()
        if path.startswith("/api/v2/webhooks/")
    }
    assert set(UNSERVED) == inbound
    for operation_id in UNSERVED:
        method, path = upstream_route(operation_id)
        assert ours(operation_id)[0] == method
        assert re.sub(r"\{\w+\}", "{}", ours(operation_id)[1]) == re.sub(r"\{\w+\}", "{}", path)


@pytest.mark.parametrize("operation_id", sorted(UNSERVED))
def test_each_answers_501_naming_its_operation(operation_id):
    body = assert_problem(
        call(Api(make_key(CompanyFactory.create())), operation_id), 501, "not-implemented", "not_implemented"
    )
    assert operation_id in body["detail"] and "not served yet" in body["detail"]


@pytest.mark.parametrize("operation_id", sorted(UNSERVED))
def test_a_key_is_still_required(operation_id):
    assert_problem(call(Api(None), operation_id), 401, "authentication-required")


def test_the_inbound_webhook_takes_a_partner_slug_and_other_methods_are_405():
    api = Api(make_key(CompanyFactory.create()))
    response = call(api, "webhooks_integration_receive", "/api/v2/webhooks/integrations/my_pos-2/")
    assert_problem(response, 501, "not-implemented", "not_implemented")
    assert api.client.get("/api/v2/webhooks/integrations/my_pos-2/").status_code == 405


@pytest.mark.parametrize(
    "operation_id", sorted(op for op, (method, _) in UNSERVED.items() if method == "post")
)
def test_a_read_only_key_may_not_post_to_them(operation_id):
    api = Api(make_key(CompanyFactory.create(), read_only=True))
    assert_problem(call(api, operation_id), 403, "permission-denied")
