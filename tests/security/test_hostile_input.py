"""Hostile and broken input: a clear problem+json every time, never a 500, nothing written."""

from typing import Any

import pytest

from coupons.models import Coupon, CouponUse
from customers.models import Customer, LedgerEntry
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, RewardFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(api: Api, customer: Customer) -> dict[str, str]:
    reward = RewardFactory.create(company=customer.company, points_required=10)
    coupon = CouponFactory.create(customer=customer, reward=reward)
    return {"c": customer.pk, "r": reward.pk, "k": coupon.pk}


def counts() -> tuple[int, ...]:
    return (
        Coupon.objects.count(),
        CouponUse.objects.count(),
        LedgerEntry.objects.count(),
        Customer.objects.count(),
    )


def post_raw(api: Api, path: str, data: str | bytes, content_type: str = "application/json") -> Any:
    # Django's generic() sends bytes as they are (force_bytes); djangorestframework-stubs says str only.
    return api.client.generic("POST", path, data, content_type=content_type)  # type: ignore[arg-type]


def test_a_body_over_the_limit_is_413(api, world):
    before = counts()
    response = post_raw(
        api, f"/api/v2/customers/{world['c']}/points/add/", '{"amount": 1, "reason": "' + "x" * 70_000 + '"}'
    )
    assert_problem(response, 413, "payload-too-large")
    assert counts() == before


@pytest.mark.parametrize(
    ("content_type", "body", "status", "slug"),
    [
        ("text/plain", "amount=1", 415, "unsupported-media-type"),
        ("application/x-www-form-urlencoded", '{"amount": 1}', 415, "unsupported-media-type"),
        ("application/json", "{not json", 400, "validation-error"),
        ("application/json", "[1, 2]", 422, "validation-error"),
        ("application/json", '"just a string"', 422, "validation-error"),
        ("application/json", "null", 422, "validation-error"),
        ("application/json", '{"amount": NaN}', 400, "validation-error"),
        ("application/json", "\udcff", 400, "validation-error"),
        ("application/json", "[" * 30_000, 400, "validation-error"),
        ("application/json", '{"a":' * 5_000, 400, "validation-error"),
        ("application/json", '{"amount": 1, "a":' + "[" * 33 + "]" * 33 + "}", 400, "validation-error"),
    ],
)
def test_bad_bodies_get_problems(api, world, content_type, body, status, slug):
    before = counts()
    path = f"/api/v2/customers/{world['c']}/points/add/"
    data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    assert_problem(
        post_raw(api, path, data, content_type), status, slug, "malformed_body" if status == 400 else None
    )
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 1, "reason": "nul\x00byte"},
        {"amount": 1, "reason": "x" * 10_000},
        {"amount": -1},
        {"amount": 0},
        {"amount": 2**63},
        {"amount": -(2**63)},
        {"amount": "1e400"},
        {"amount": True},
        {"amount": [1]},
        {"amount": {"$gt": 0}},
    ],
)
def test_hostile_values_are_422(api, world, body):
    before = counts()
    assert_problem(api.post(f"/api/v2/customers/{world['c']}/points/add/", body), 422, "validation-error")
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"phone": "+55\x0011987654321"},
        {"email": "a\x00@example.com"},
        {"name": "x" * 10_000, "phone": "+5511987654321"},
        {"cpf": "9" * 10_000},
        {"email": "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com"},  # 260 characters: valid, too long
        {"phone": ["+5511987654321"]},
    ],
)
def test_hostile_enrolments_are_422(api, body):
    before = counts()
    assert_problem(api.post("/api/v2/customers/", body), 422, "validation-error")
    assert counts() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/customers/{c}/coupons/%00/validate/",
        "/api/v2/customers/{c}/coupons/CZ-%00%00%00%00%00%00%00%00/validate/",
        "/api/v2/customers/{c}/coupons/" + "A" * 3000 + "/validate/",  # longer: 414, test_edge_errors
        "/api/v2/customers/%27%20OR%201=1--/coupons/{k}/validate/",
        "/api/v2/customers/{c}/rewards/..%2F..%2Fadmin/redeem/",
    ],
)
def test_malformed_ids_in_paths_are_404(api, world, path):
    before = counts()
    assert_problem(api.post(path.format(**world)), 404, "not-found")
    assert counts() == before


@pytest.mark.parametrize(
    "params",
    [
        {"page_size": str(10**9)},
        {"page_size": "-5"},
        {"page_size": "1.5"},
        {"page_size": "²"},
        {"page_size": "¹"},
        {"page_size": "①"},
        {"page_size": "٣"},
        {"cursor": "\x00"},
        {"customer_id": "x" * 3000},  # longer lines are 414 (test_edge_errors)
        {"search": "a\x00b"},
        {"search": "s" * 3000},
        {"status": "active'; DROP TABLE coupons_coupon; --"},
    ],
)
def test_hostile_query_parameters_are_422(api, world, params):
    path = "/api/v2/customers/" if "search" in params else "/api/v2/coupons/issued/"
    assert_problem(api.get(path, **params), 422, "validation-error")


def test_unknown_query_parameters_are_ignored_but_known_ones_checked(api):
    assert api.get("/api/v2/rewards/", staus="used", limit="5", _="1").status_code == 200
    body = assert_problem(
        api.get("/api/v2/coupons/issued/", status="nonsense", _="1"), 422, "validation-error"
    )
    assert [e["field"] for e in body["errors"]] == ["status"]


def test_brackets_inside_strings_do_not_count_towards_the_nesting_limit(api, world):
    reason = "[{" * 1000 + '\\"]' * 10
    response = api.post(f"/api/v2/customers/{world['c']}/points/add/", {"amount": 1, "reason": reason})
    assert_problem(response, 422, "validation-error")  # too long, but parsed: not a 400
    nested = api.post(f"/api/v2/customers/{world['c']}/points/add/", {"amount": 1, "a": [[[[1]]]]})
    assert nested.status_code == 200


@pytest.mark.parametrize("amount", ["\u0661\u0660", "²", "10", 10])
def test_amounts_are_ascii_digits(api, world, amount):
    response = api.post(f"/api/v2/customers/{world['c']}/points/add/", {"amount": amount})
    if amount in ("10", 10):
        assert response.status_code == 200
    else:
        assert_problem(response, 422, "validation-error")
