"""Every served path and every write, walked with hostile values: never a 5xx, every refusal is
problem+json, and a refusal writes nothing.

The routes and operations are read from the URL resolver and the OpenAPI document, so a path or a
body field added later is walked too without anyone remembering to add it here.
"""

import json
import re
from functools import partial
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from coupons.models import Coupon, CouponUse
from customers.models import Customer, LedgerEntry
from otp.models import OtpChallenge
from tests.conftest import Api
from tests.factories import CouponFactory, RewardFactory
from tests.wallet.fake_platforms import install_fake_platforms
from wallet.models import PassKind, Platform, WalletNotification, WalletPass
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")

# Already percent-encoded: they go into the URL as they are.
ODD_IDS = [
    "%00",
    "A" * 26 + "%00",
    "CZ-%00%00%00%00%00%00%00%00",
    "%C0%80",  # overlong NUL
    "%FF%FE",  # not UTF-8
    "%E2%80%AE" + "A" * 24,  # right-to-left override
    "%0A",
    "A" * 27 + "%0A",
    "%20" + "A" * 27,
    "..",
    "..%2F..%2Fadmin",
    "A" * 65,
    "A" * 5000,
    "%27%20OR%201=1--",
    "-",
    "%F0%9F%92%A5",
]


# Valid for every write that takes an id in its path, so a request gets as far as the id's lookup.
BODY_FOR_ANY_WRITE = json.dumps({"amount": 1, "use_z_tokens": False})


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and _PARAM.search(route):
            found.append(route)
    return found


# The inbound partner webhook's path names an integration slug, not an object id; its own tests are
# tests/integrations/.
NOT_SERVED_ROUTES = {"api/v2/webhooks/integrations/<slug:partner>/"}
SERVED_ROUTES = [
    route
    for route in _routes(get_resolver().url_patterns)
    if route.startswith("api/") and route not in NOT_SERVED_ROUTES
]


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count()
        for model in (
            Customer,
            LedgerEntry,
            Coupon,
            CouponUse,
            OtpChallenge,
            WebhookEndpoint,
            WalletPass,
            WalletNotification,
        )
    )


def assert_refused_cleanly(response: Any, before: tuple[int, ...]) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json", response.content
        assert counts() == before


def _fill(values: dict[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


@pytest.fixture
def world(api: Api, customer: Customer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    install_fake_platforms(monkeypatch)  # the wallet's writes get past "platform not configured"
    reward = RewardFactory.create(company=customer.company, points_required=10)
    coupon = CouponFactory.create(customer=customer, reward=reward)
    card = WalletPass.objects.create(
        company=customer.company,
        customer=customer,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=coupon.created_at,
    )
    return {"customer_id": customer.pk, "reward_id": reward.pk, "coupon_ref": coupon.pk, "pass_id": card.pk}


def test_the_walk_covers_every_route_with_an_id():
    assert len(SERVED_ROUTES) >= 8
    assert "api/v2/customers/<id:customer_id>/points/add/" in SERVED_ROUTES


@pytest.mark.parametrize("route", SERVED_ROUTES)
def test_odd_ids_in_every_path_are_refused_cleanly(api, world, route):
    names = _PARAM.findall(route)
    before = counts()
    for odd in ODD_IDS:
        # Each id odd in turn with the others real (to get past the first lookup), then all odd.
        for odd_names in [[name] for name in names] + [names]:
            values = {name: odd if name in odd_names else world.get(name, odd) for name in names}
            path = "/" + _PARAM.sub(partial(_fill, values), route)
            for method in ("GET", "POST", "PUT"):
                response = api.client.generic(
                    method, path, BODY_FOR_ANY_WRITE, content_type="application/json"
                )
                assert_refused_cleanly(response, before)
                assert response.status_code != 200 or method == "GET", (method, path)


def _write_operations() -> list[tuple[str, str, str, list[str]]]:
    """(method, path, operationId, string properties of the body) for every write in the document."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            properties = components[ref.rsplit("/", 1)[-1]].get("properties", {}) if ref else {}
            strings = [name for name, prop in properties.items() if prop.get("type") == "string"]
            found.append((method.upper(), path, operation["operationId"], strings))
    return found


WRITES = _write_operations()
# A body each write accepts, so that only the field under test is wrong.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "customers_enrol": {"phone": "+5511912345678"},
    "customers_points_add": {"amount": 1},
    "rewards_redeem": {"use_z_tokens": False},
    "coupons_validate": {},
    "auth_request_otp": {"identifier": "+5511987654321"},
    "auth_verify_otp": {"identifier": "+5511987654321", "otp_code": "123456"},
    "webhooks_config_update": {"webhook_events": []},
    # "{name}": the world's object of that name (the walk's customer and coupon).
    "wallet_passes_loyalty_create": {"customer_id": "{customer_id}", "platform": "apple"},
    "wallet_passes_coupons_create": {
        "customer_id": "{customer_id}",
        "coupon_id": "{coupon_ref}",
        "platform": "google",
    },
    "wallet_notifications_create": {"customer_id": "{customer_id}", "type": "points_update", "message": "hi"},
}
# Makes an outbound request by design: covered by the webhook tests with a local receiver; and the
# inbound partner webhook, which stores any JSON raw for a configured integration (tests/integrations/).
NOT_WALKED = {"webhooks_test", "webhooks_integration_receive"}


def over_long_values() -> list[str]:
    """Longer than any column, each in a shape that passes a format check (so it reaches the
    database unless a length check stops it first), plus NUL and non-BMP characters."""
    email = "a" * 64 + "@" + ("b" * 63 + ".") * 3 + "com"  # 260 characters, valid by Django's rules
    return [
        email,
        "A" * 250 + "@example.com",
        "x" * 201,
        "x" * 256,
        "x" * 501,
        "é" * 300,
        "\U0001f4a5" * 300,
        "x" * 10_000,
        "https://" + "a" * 600 + ".example/",
        "+55" + "9" * 300,
        "x\x00y",
    ]


def test_the_write_walk_covers_every_write():
    operation_ids = {operation_id for _, _, operation_id, _ in WRITES}
    assert operation_ids - NOT_WALKED == set(VALID_BODIES)


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "strings"),
    [write for write in WRITES if write[2] not in NOT_WALKED],
    ids=[write[2] for write in WRITES if write[2] not in NOT_WALKED],
)
def test_over_long_strings_in_every_write_are_refused_cleanly(
    api, world, settings, method, path, operation_id, strings
):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # no DNS lookup of generated host names
    url = re.sub(r"\{(\w+)\}", lambda m: world[m.group(1)], path)
    # Every string field, and the fields a view reads that the body schema may not list as strings.
    fields = sorted({*strings, *VALID_BODIES[operation_id]} - {"amount", "use_z_tokens", "webhook_events"})
    for field in fields:
        for value in over_long_values():
            before = counts()
            valid = {k: _placed(v, world) for k, v in VALID_BODIES[operation_id].items()}
            body = {**valid, field: value}
            response = api.client.generic(method, url, json.dumps(body), content_type="application/json")
            assert_refused_cleanly(response, before)
            if response.status_code < 300:
                _assert_stored_whole(field, value)


def _placed(value: Any, world: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return world[value[1:-1]]
    return value


def _assert_stored_whole(field: str, value: str) -> None:
    """Nothing is cut to fit a column: an accepted value is stored as it was sent."""
    column = {"name": "full_name", "full_name": "full_name", "reason": "reason", "message": "message"}.get(
        field
    )
    if column == "full_name":
        assert Customer.objects.filter(full_name=value).exists()
    elif column == "message":
        assert WalletNotification.objects.filter(message=value).exists()
    elif column == "reason":
        assert LedgerEntry.objects.filter(reason=value).exists()


@pytest.mark.parametrize("path", ["/api/v2/rewards/", "/api/v2/coupons/issued/", "/api/v2/customers/"])
def test_odd_query_values_are_refused_cleanly(api, world, path):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    names = [p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"]
    before = counts()
    for name in names:
        for value in ["\x00", "²", "①", "٣", "x" * 10_000, "-1", "0", "1e3", " ", "%00", "\U0001f4a5"]:
            response = api.get(path, **{name: value})
            assert_refused_cleanly(response, before)
