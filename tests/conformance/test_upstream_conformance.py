"""Real responses, checked field for field against the upstream OpenAPI document.

Every operation we serve that the upstream document also describes is called through Django's test
client, for its success and for each documented error status we can provoke; openapi-core validates
the answer against the upstream document (``docs/reference/zupy-openapi.json``). Every difference is a
*deviation* ``(operation, status, JSON pointer, validator keyword)``; each must be listed in
``allowlist.toml`` with its reason, and each listed one must still occur, so the allowlist is exactly
the list of today's differences (what we still owe). docs/conformance.md explains it.

The whole walk runs twice, once per response format of the API key: ``envelope``
answers are unwrapped (``data`` is the body) before validation, ``root`` answers are validated as
they are. An allowlist entry with a ``format`` applies to that format only.
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import override_settings
from django.urls import Resolver404, resolve
from django.utils import timezone
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_core import OpenAPI
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

from companies.services import company_save, loyalty_program_save
from coupons.models import CouponStatus
from integrations.models import Adapter
from integrations.services import integration_configure
from rewards.models import OriginType
from tests.conftest import Api
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from tests.wallet.fake_platforms import FakePlatform, install_fake_platforms
from tests.webhooks.conftest import Receiver
from wallet.models import AppleDevice, AppleRegistration, WalletPass

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "docs" / "reference" / "zupy-openapi.json"
ALLOWLIST = Path(__file__).with_name("allowlist.toml")
HOST = "https://api.zupy.com"  # the document's server: openapi-core matches paths under it

# Our route -> the upstream operation it answers. Explicit on purpose: the upstream names its path
# parameters differently ({id}, {coupon_id}), and /rewards/coupons/ would otherwise match
# /rewards/{id}/. operationId: (method, our path template, upstream path template).
SERVED: dict[str, tuple[str, str, str]] = {
    "auth_request_otp": ("post", "/api/v2/auth/request-otp/", "/api/v2/auth/request-otp/"),
    "auth_verify_otp": ("post", "/api/v2/auth/verify-otp/", "/api/v2/auth/verify-otp/"),
    "companies_list": ("get", "/api/v2/companies/", "/api/v2/companies/"),
    "companies_retrieve": ("get", "/api/v2/companies/{company_id}/", "/api/v2/companies/{id}/"),
    "loyalty_programs_list": ("get", "/api/v2/loyalty/programs/", "/api/v2/loyalty/programs/"),
    "loyalty_programs_retrieve": (
        "get",
        "/api/v2/loyalty/programs/{program_id}/",
        "/api/v2/loyalty/programs/{id}/",
    ),
    "coupons_issued_list": ("get", "/api/v2/coupons/issued/", "/api/v2/coupons/issued/"),
    "coupons_issued_stats": ("get", "/api/v2/coupons/issued/stats/", "/api/v2/coupons/issued/stats/"),
    "customers_list": ("get", "/api/v2/customers/", "/api/v2/customers/"),
    "customers_retrieve": ("get", "/api/v2/customers/{customer_id}/", "/api/v2/customers/{id}/"),
    "customers_coupons_validate_create": (
        "post",
        "/api/v2/customers/{customer_id}/coupons/{coupon_ref}/validate/",
        "/api/v2/customers/{id}/coupons/{coupon_id}/validate/",
    ),
    "customers_points_retrieve": (
        "get",
        "/api/v2/customers/{customer_id}/points/",
        "/api/v2/customers/{id}/points/",
    ),
    "customers_points_add_create": (
        "post",
        "/api/v2/customers/{customer_id}/points/add/",
        "/api/v2/customers/{id}/points/add/",
    ),
    "customers_points_history_retrieve": (
        "get",
        "/api/v2/customers/{customer_id}/points/history/",
        "/api/v2/customers/{id}/points/history/",
    ),
    "customers_rewards_redeem_create": (
        "post",
        "/api/v2/customers/{customer_id}/rewards/{reward_id}/redeem/",
        "/api/v2/customers/{id}/rewards/{reward_id}/redeem/",
    ),
    "customers_z_balance_retrieve": (
        "get",
        "/api/v2/customers/{customer_id}/z-balance/",
        "/api/v2/customers/{id}/z-balance/",
    ),
    "rewards_list": ("get", "/api/v2/rewards/", "/api/v2/rewards/"),
    "rewards_retrieve": ("get", "/api/v2/rewards/{reward_id}/", "/api/v2/rewards/{id}/"),
    "integrations_webhooks_retrieve": (
        "get",
        "/api/v2/integrations/webhooks/",
        "/api/v2/integrations/webhooks/",
    ),
    "integrations_webhooks_update": (
        "put",
        "/api/v2/integrations/webhooks/",
        "/api/v2/integrations/webhooks/",
    ),
    "integrations_webhooks_test": (
        "post",
        "/api/v2/integrations/webhooks/test/",
        "/api/v2/integrations/webhooks/test/",
    ),
    "wallet_passes_loyalty_create": (
        "post",
        "/api/v2/wallet/passes/loyalty/",
        "/api/v2/wallet/passes/loyalty/",
    ),
    "wallet_passes_coupons_create": (
        "post",
        "/api/v2/wallet/passes/coupons/",
        "/api/v2/wallet/passes/coupons/",
    ),
    "wallet_passes_retrieve": ("get", "/api/v2/wallet/passes/", "/api/v2/wallet/passes/"),
    "wallet_passes_status_retrieve": (
        "get",
        "/api/v2/wallet/passes/{pass_id}/status/",
        "/api/v2/wallet/passes/{pass_id}/status/",
    ),
    "customers_wallet_devices_retrieve": (
        "get",
        "/api/v2/customers/{customer_id}/wallet-devices/",
        "/api/v2/customers/{id}/wallet-devices/",
    ),
    "wallet_notifications_create": ("post", "/api/v2/wallet/notifications/", "/api/v2/wallet/notifications/"),
    "webhooks_integration_receive": (
        "post",
        "/api/v2/webhooks/integrations/{partner}/",
        "/api/v2/webhooks/integrations/{partner}/",
    ),
}
# Ours, not in the upstream document: nothing to validate them against. Every operation of our
# openapi.yaml is in SERVED or here (tested), so a new route cannot slip past this test.
OURS_ONLY = {
    ("post", "/api/v2/customers/"): "enrolment: the seed guide's, the upstream document lacks it",
    ("get", "/api/v2/rewards/coupons/"): "the seed guide's coupon listing (upstream: /coupons/issued/)",
    ("get", "/api/v2/schema/"): "our own OpenAPI document",
}

# Documented statuses no request can provoke here, and why. Every other documented status is sent.
UNPROVOKABLE_403_ON_READ = "a read-only key may read; another company's object is 404, never 403"
UNPROVOKABLE: dict[tuple[str, str], str] = {
    **{(op, "403"): UNPROVOKABLE_403_ON_READ for op, (method, _, _) in SERVED.items() if method == "get"},
    ("integrations_webhooks_test", "400"): "the ping takes no body, so no body can be malformed",
    (
        "wallet_passes_status_retrieve",
        "422",
    ): "its one input is the path's pass id, and a malformed id is a 404",
}


@dataclass(frozen=True)
class Deviation:
    operation: str
    status: str
    pointer: str
    kind: str
    message: str = field(compare=False, hash=False, default="")

    def __str__(self) -> str:
        return f"{self.operation} {self.status} {self.pointer or '/'} [{self.kind}] {self.message}"


@dataclass
class Shop:
    """One company's world, seen with a read-write key, a read-only key and no key."""

    response_format: str
    api: Api
    read_only: Api
    anonymous: Api
    customer: Any
    reward: Any
    coupon: Any
    used_coupon: Any
    poor: Any  # 10 points, no Z$
    poor_coupon: Any
    topup: Any  # 450 points and Z$ 1150: the guide's top-up example
    dear_reward: Any  # 500 points
    receiver: Receiver
    other_company: Any
    otp_codes: Callable[[], list[str]]  # the console sender's log lines, as an operator reads them
    on_commit: Callable[..., Any]  # pytest-django's capture: OTP codes are sent after the commit
    wallet_coupon: Any  # an active coupon the walk issues a wallet pass for
    fakes: dict[str, FakePlatform]  # the wallet platforms (tests/wallet/fake_platforms.py)


# (operation, status, variant) -> the request that provokes it; each answers exactly that status
# (asserted). They run in this order: variants show other states (nulls, Z$, an empty config).
def _scenarios(shop: Shop) -> dict[tuple[str, str, str], Callable[[], Any]]:
    c, r = shop.customer.pk, shop.reward.pk
    company, program = shop.customer.company, shop.customer.company.loyalty_program
    unknown = "2" + "0" * 26  # a well-formed KSUID nobody has
    api, ro = shop.api, shop.read_only
    cases: dict[tuple[str, str, str], Callable[[], Any]] = {
        ("auth_request_otp", "200", ""): lambda: _request_otp(shop),
        ("auth_request_otp", "400", ""): lambda: _malformed(api, "post", "/api/v2/auth/request-otp/"),
        ("auth_request_otp", "403", ""): lambda: ro.post("/api/v2/auth/request-otp/", {"identifier": PHONE}),
        ("auth_verify_otp", "200", ""): lambda: _verify_with_real_code(shop),
        # After verify (which reads the walk's last code): the request's optional channel.
        ("auth_request_otp", "200", "channel sms"): lambda: api.post(
            "/api/v2/auth/request-otp/", {"identifier": "+5511955554444", "channel": "sms"}
        ),
        ("auth_request_otp", "200", "channel whatsapp"): lambda: api.post(
            "/api/v2/auth/request-otp/", {"identifier": "+5511955553333", "channel": "whatsapp"}
        ),
        ("auth_request_otp", "422", "channel not offered"): lambda: api.post(
            "/api/v2/auth/request-otp/", {"identifier": "+5511955554444", "channel": "fax"}
        ),
        ("auth_verify_otp", "400", ""): lambda: _malformed(api, "post", "/api/v2/auth/verify-otp/"),
        ("auth_verify_otp", "403", ""): lambda: ro.post(
            "/api/v2/auth/verify-otp/", {"identifier": PHONE, "otp_code": "123456"}
        ),
        ("auth_verify_otp", "404", ""): lambda: api.post(
            "/api/v2/auth/verify-otp/", {"identifier": "+5511911112222", "otp_code": "123456"}
        ),
        ("companies_list", "200", ""): lambda: api.get("/api/v2/companies/"),
        ("companies_retrieve", "200", ""): lambda: api.get(f"/api/v2/companies/{company.pk}/"),
        ("companies_retrieve", "404", ""): lambda: api.get(f"/api/v2/companies/{shop.other_company.pk}/"),
        ("loyalty_programs_list", "200", ""): lambda: api.get("/api/v2/loyalty/programs/"),
        ("loyalty_programs_retrieve", "200", ""): lambda: api.get(f"/api/v2/loyalty/programs/{program.pk}/"),
        ("loyalty_programs_retrieve", "200", "tiers on, profile filled"): lambda: _with_profile(shop),
        ("loyalty_programs_retrieve", "404", ""): lambda: api.get(
            f"/api/v2/loyalty/programs/{shop.other_company.loyalty_program.pk}/"
        ),
        ("coupons_issued_list", "200", ""): lambda: api.get("/api/v2/coupons/issued/"),
        ("coupons_issued_list", "200", "origin_type=marketing"): lambda: api.get(
            "/api/v2/coupons/issued/", origin_type="marketing"
        ),
        ("coupons_issued_list", "200", "origin_type=loyalty_reward"): lambda: api.get(
            "/api/v2/coupons/issued/", origin_type="loyalty_reward"
        ),
        ("coupons_issued_list", "422", "unknown origin_type"): lambda: api.get(
            "/api/v2/coupons/issued/", origin_type="promo"
        ),
        ("coupons_issued_stats", "200", ""): lambda: api.get("/api/v2/coupons/issued/stats/"),
        ("coupons_issued_stats", "200", "origin_type=marketing"): lambda: api.get(
            "/api/v2/coupons/issued/stats/", origin_type="marketing"
        ),
        ("coupons_issued_stats", "422", "unknown origin_type"): lambda: api.get(
            "/api/v2/coupons/issued/stats/", origin_type="promo"
        ),
        ("customers_list", "200", ""): lambda: api.get("/api/v2/customers/"),
        ("customers_retrieve", "200", ""): lambda: api.get(f"/api/v2/customers/{c}/"),
        ("customers_retrieve", "404", ""): lambda: api.get(f"/api/v2/customers/{unknown}/"),
        ("customers_coupons_validate_create", "200", ""): lambda: api.validate(c, shop.coupon.code),
        ("customers_coupons_validate_create", "200", "no Z$"): lambda: api.validate(
            shop.poor.pk, shop.poor_coupon.code
        ),
        ("customers_coupons_validate_create", "403", ""): lambda: ro.validate(c, shop.coupon.code),
        ("customers_coupons_validate_create", "404", ""): lambda: api.validate(c, unknown),
        ("customers_coupons_validate_create", "409", ""): lambda: api.validate(c, shop.used_coupon.code),
        ("customers_points_retrieve", "200", ""): lambda: api.get(f"/api/v2/customers/{c}/points/"),
        ("customers_points_retrieve", "404", ""): lambda: api.get(f"/api/v2/customers/{unknown}/points/"),
        ("customers_points_add_create", "200", ""): lambda: api.post(
            f"/api/v2/customers/{c}/points/add/", {"amount": 50, "reason": "visit"}
        ),
        ("customers_points_add_create", "403", ""): lambda: ro.post(
            f"/api/v2/customers/{c}/points/add/", {"amount": 50}
        ),
        ("customers_points_add_create", "404", ""): lambda: api.post(
            f"/api/v2/customers/{unknown}/points/add/", {"amount": 50}
        ),
        ("customers_points_add_create", "422", ""): lambda: api.post(
            f"/api/v2/customers/{c}/points/add/", {"amount": 0}
        ),
        ("customers_points_history_retrieve", "200", ""): lambda: api.get(
            f"/api/v2/customers/{c}/points/history/"
        ),
        ("customers_points_history_retrieve", "404", ""): lambda: api.get(
            f"/api/v2/customers/{unknown}/points/history/"
        ),
        ("customers_rewards_redeem_create", "200", ""): lambda: api.redeem(c, r),
        ("customers_rewards_redeem_create", "200", "Z$ top-up"): lambda: api.redeem(
            shop.topup.pk, shop.dear_reward.pk, use_z_tokens=True
        ),
        ("customers_rewards_redeem_create", "403", ""): lambda: ro.redeem(c, r),
        ("customers_rewards_redeem_create", "404", ""): lambda: api.redeem(c, unknown),
        ("customers_rewards_redeem_create", "422", ""): lambda: api.redeem(shop.poor.pk, r),
        ("customers_z_balance_retrieve", "200", ""): lambda: api.get(f"/api/v2/customers/{c}/z-balance/"),
        ("customers_z_balance_retrieve", "404", ""): lambda: api.get(
            f"/api/v2/customers/{unknown}/z-balance/"
        ),
        ("rewards_list", "200", ""): lambda: api.get("/api/v2/rewards/", customer_id=c),
        ("rewards_list", "200", "no customer"): lambda: api.get("/api/v2/rewards/"),
        ("rewards_retrieve", "200", ""): lambda: api.get(f"/api/v2/rewards/{r}/"),
        ("rewards_retrieve", "404", ""): lambda: api.get(f"/api/v2/rewards/{unknown}/"),
        ("integrations_webhooks_retrieve", "200", "never configured"): lambda: api.get(
            "/api/v2/integrations/webhooks/"
        ),
        ("integrations_webhooks_update", "200", ""): lambda: api.client.put(
            "/api/v2/integrations/webhooks/",
            {"webhook_url": shop.receiver.url, "webhook_events": []},
            format="json",
        ),
        ("integrations_webhooks_update", "400", ""): lambda: _malformed(
            api, "put", "/api/v2/integrations/webhooks/"
        ),
        ("integrations_webhooks_retrieve", "200", ""): lambda: api.get("/api/v2/integrations/webhooks/"),
        ("integrations_webhooks_test", "200", ""): lambda: api.post("/api/v2/integrations/webhooks/test/"),
        **_wallet_scenarios(shop, unknown),
        ("webhooks_integration_receive", "200", ""): lambda: api.post(INBOUND, REPEDIU_ORDERS),
        ("webhooks_integration_receive", "200", "duplicate"): lambda: api.post(INBOUND, REPEDIU_ORDERS),
        ("webhooks_integration_receive", "400", ""): lambda: _malformed(api, "post", INBOUND),
        ("webhooks_integration_receive", "403", ""): lambda: api.post(
            "/api/v2/webhooks/integrations/nobody/", REPEDIU_ORDERS
        ),
        ("webhooks_integration_receive", "403", "read-only key"): lambda: ro.post(INBOUND, REPEDIU_ORDERS),
    }
    # 401 (no key) everywhere; 429 is provoked separately, with a limit of zero.
    for op, (method, ours, _) in SERVED.items():
        path = ours.format(
            customer_id=c,
            reward_id=r,
            coupon_ref=shop.coupon.code,
            company_id=company.pk,
            program_id=program.pk,
            pass_id=unknown,
            partner="repediu",
        )
        cases[(op, "401", "")] = _bound(shop.anonymous, method, path)
    return cases


PHONE = "+5511987654321"
INBOUND = "/api/v2/webhooks/integrations/repediu/"
REPEDIU_ORDERS = [
    {"cliente": "Maria Santos", "Celular": "+55 11 98765-4321", "Valor": "89.90", "id_venda": 123456789}
]
LOYALTY_PASSES = "/api/v2/wallet/passes/loyalty/"
COUPON_PASSES = "/api/v2/wallet/passes/coupons/"


def _wallet_scenarios(shop: Shop, unknown: str) -> dict[tuple[str, str, str], Callable[[], Any]]:
    """The wallet operations, in order: passes issued first, then read, then notified."""
    api, ro, c = shop.api, shop.read_only, shop.customer.pk
    card = {"customer_id": c, "platform": "apple"}
    coupon = {"customer_id": c, "coupon_id": shop.wallet_coupon.pk, "platform": "google"}
    notification = {"customer_id": c, "type": "points_update", "message": "Você ganhou 50 pontos!"}
    return {
        ("wallet_passes_loyalty_create", "201", ""): lambda: api.post(LOYALTY_PASSES, card),
        ("wallet_passes_loyalty_create", "200", "issued before"): lambda: api.post(LOYALTY_PASSES, card),
        ("wallet_passes_loyalty_create", "403", ""): lambda: ro.post(LOYALTY_PASSES, card),
        ("wallet_passes_loyalty_create", "404", ""): lambda: api.post(
            LOYALTY_PASSES, {**card, "customer_id": unknown}
        ),
        ("wallet_passes_loyalty_create", "422", ""): lambda: api.post(
            LOYALTY_PASSES, {**card, "platform": "x"}
        ),
        ("wallet_passes_loyalty_create", "503", ""): lambda: _unconfigured(
            shop, lambda: api.post(LOYALTY_PASSES, {**card, "platform": "google"})
        ),
        ("wallet_passes_coupons_create", "201", ""): lambda: api.post(COUPON_PASSES, coupon),
        ("wallet_passes_coupons_create", "200", "issued before"): lambda: api.post(COUPON_PASSES, coupon),
        ("wallet_passes_coupons_create", "403", ""): lambda: ro.post(COUPON_PASSES, coupon),
        ("wallet_passes_coupons_create", "404", ""): lambda: api.post(
            COUPON_PASSES, {**coupon, "coupon_id": unknown}
        ),
        ("wallet_passes_coupons_create", "409", ""): lambda: api.post(
            COUPON_PASSES, {**coupon, "coupon_id": shop.used_coupon.pk}
        ),
        ("wallet_passes_coupons_create", "422", ""): lambda: api.post(COUPON_PASSES, {"customer_id": c}),
        ("wallet_passes_coupons_create", "503", ""): lambda: _unconfigured(
            shop, lambda: api.post(COUPON_PASSES, {**coupon, "platform": "apple"}), "apple"
        ),
        ("wallet_passes_retrieve", "200", ""): lambda: api.get("/api/v2/wallet/passes/", customer_id=c),
        ("wallet_passes_retrieve", "200", "no pass"): lambda: api.get(
            "/api/v2/wallet/passes/", customer_id=shop.poor.pk
        ),
        ("wallet_passes_retrieve", "404", ""): lambda: api.get("/api/v2/wallet/passes/", customer_id=unknown),
        ("wallet_passes_retrieve", "422", ""): lambda: api.get("/api/v2/wallet/passes/"),
        ("wallet_passes_status_retrieve", "200", ""): lambda: api.get(
            f"/api/v2/wallet/passes/{_pass_of(shop, 'loyalty').pk}/status/"
        ),
        ("wallet_passes_status_retrieve", "200", "installed"): lambda: _installed(
            shop, lambda: api.get(f"/api/v2/wallet/passes/{_pass_of(shop, 'coupon').pk}/status/")
        ),
        ("wallet_passes_status_retrieve", "404", ""): lambda: api.get(
            f"/api/v2/wallet/passes/{unknown}/status/"
        ),
        ("customers_wallet_devices_retrieve", "200", ""): lambda: api.get(
            f"/api/v2/customers/{c}/wallet-devices/"
        ),
        ("customers_wallet_devices_retrieve", "200", "nothing installed"): lambda: api.get(
            f"/api/v2/customers/{shop.poor.pk}/wallet-devices/"
        ),
        ("customers_wallet_devices_retrieve", "404", ""): lambda: api.get(
            f"/api/v2/customers/{unknown}/wallet-devices/"
        ),
        ("wallet_notifications_create", "202", ""): lambda: api.post(
            "/api/v2/wallet/notifications/", notification
        ),
        ("wallet_notifications_create", "202", "no pass"): lambda: api.post(
            "/api/v2/wallet/notifications/", {**notification, "customer_id": shop.poor.pk}
        ),
        ("wallet_notifications_create", "403", ""): lambda: ro.post(
            "/api/v2/wallet/notifications/", notification
        ),
        ("wallet_notifications_create", "404", ""): lambda: api.post(
            "/api/v2/wallet/notifications/", {**notification, "customer_id": unknown}
        ),
        ("wallet_notifications_create", "422", ""): lambda: api.post(
            "/api/v2/wallet/notifications/", {**notification, "message": ""}
        ),
    }


def _unconfigured(shop: Shop, send: Callable[[], Any], name: str = "google") -> Any:
    shop.fakes[name].is_configured = False
    try:
        return send()
    finally:
        shop.fakes[name].is_configured = True


def _pass_of(shop: Shop, kind: str) -> WalletPass:
    return WalletPass.objects.get(customer=shop.customer, kind=kind)


def _installed(shop: Shop, send: Callable[[], Any]) -> Any:
    """Every pass of the walk's customer installed: the card on an iPhone (pushed once), the coupon
    in Google Wallet; then ``send``."""
    now = timezone.now()
    device = AppleDevice.objects.create(
        device_library_identifier="5defd6b5d63fd0c3ed16690bbbce9709",
        push_token="ab" * 32,
        last_registered_at=now,
    )
    AppleRegistration.objects.create(
        device=device,
        wallet_pass=_pass_of(shop, "loyalty"),
        registered_at=now,
        last_push_at=now,
        platform_hint="ios",
        os_version="17.4",
        locale="pt-BR",
    )
    WalletPass.objects.filter(pk=_pass_of(shop, "coupon").pk).update(
        added_at=now, google_object_id="3388.coupon"
    )
    return send()


def _bound(api: Api, method: str, path: str) -> Callable[[], Any]:
    def send() -> Any:
        return getattr(api.client, method)(path, {} if method == "get" else None, format="json")

    return send


def _malformed(api: Api, method: str, path: str) -> Any:
    return getattr(api.client, method)(path, '{"identifier": ', content_type="application/json")


def _with_profile(shop: Shop) -> Any:
    """Every optional profile field given, tiers on: the answer shows each in its filled form."""
    company = shop.customer.company
    company.email, company.website, company.logo_uuid = "ola@example.com", "https://example.com", uuid.uuid4()
    company.instagram_url = company.menu_url = "https://example.com/x"
    company_save(company=company)
    program = company.loyalty_program
    program.tiers_enabled, program.description = True, "A cada R$1, 1 ponto."
    loyalty_program_save(program=program)
    return shop.api.get(f"/api/v2/loyalty/programs/{program.pk}/")


def _request_otp(shop: Shop) -> Any:
    with shop.on_commit(execute=True):
        return shop.api.post("/api/v2/auth/request-otp/", {"identifier": PHONE})


def _verify_with_real_code(shop: Shop) -> Any:
    """Needs the code sent by the ``auth_request_otp`` 200 scenario, which runs before it."""
    code = shop.otp_codes()[-1]
    return shop.api.post("/api/v2/auth/verify-otp/", {"identifier": PHONE, "otp_code": code})


# --- Validation: one response in, its deviations out -------------------------------------------


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _success_schema(doc: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    answer = operation["responses"].get(status, {})
    return _resolve(doc, answer.get("content", {}).get("application/json", {}).get("schema", {}))


def _pointer(path: Any) -> str:
    # Array indexes become "*": one allowlist line covers every item of a list.
    return "".join(f"/{'*' if isinstance(part, int) else part}" for part in path)


def _explain(exc: Exception) -> Iterator[tuple[str, str, str]]:
    """(pointer, kind, message) for each thing openapi-core found; kind is the JSON Schema keyword
    that failed (type, required, format, enum, ...), or the finder's complaint."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    for link in chain:
        if isinstance(link, ResponseNotFound):
            yield "", "undocumented-status", str(link)
            return
        if isinstance(link, MediaTypeNotFound):
            yield "", "media-type", str(link)
            return
        if isinstance(link, InvalidSchemaValue):
            for error in link.schema_errors:
                assert isinstance(error, SchemaError)
                pointer = _pointer(error.absolute_path)
                if error.validator == "required":
                    missing = re.match(r"'(.+)' is a required property", error.message)
                    pointer += f"/{missing.group(1) if missing else '?'}"
                yield pointer, str(error.validator), error.message
            return
    yield "", type(exc).__name__, str(exc)


def deviations(
    openapi: OpenAPI,
    doc: dict[str, Any],
    operation_id: str,
    status: str,
    path: str,
    payload: Any,
    content_type: str,
    response_format: str = "envelope",
) -> set[Deviation]:
    """Validate one answer as the upstream document describes it.

    In the ``envelope`` format the success envelope is unwrapped (``data`` is the body) unless the
    upstream answer is itself ``{data, meta}`` (its paginated lists are); a ``root`` answer is
    validated as it is. Two adaptations keep the rest of the body checked
    after a first, recorded, difference: a problem+json answer is re-read as application/json (the
    document's error media type), and a list answered where the document wants
    ``{count, next, previous, results}`` is re-checked item by item inside that shape.
    """
    method, _, upstream_path = SERVED[operation_id]
    operation = doc["paths"][upstream_path][method]
    schema = _success_schema(doc, operation, status)
    envelope = response_format == "envelope"
    if envelope and status.startswith("2") and not {"data", "meta"} <= set(schema.get("required", [])):
        payload = payload["data"]
    request = MockRequest(HOST, method, path, path_pattern=upstream_path)

    def check(body: Any, media_type: str) -> set[Deviation]:
        response = MockResponse(json.dumps(body).encode(), int(status), content_type=media_type)
        return {
            Deviation(operation_id, status, pointer, kind, message)
            for exc in openapi.response_validator.iter_errors(request, response)
            for pointer, kind, message in _explain(exc)
        }

    found = check(payload, content_type)
    if any(d.kind == "media-type" for d in found):
        content_type = "application/json"
        found |= check(payload, content_type)
    if isinstance(payload, list) and "results" in schema.get("properties", {}):
        found |= check(
            {"count": len(payload), "next": None, "previous": None, "results": payload}, content_type
        )
    return found


# --- The allowlist --------------------------------------------------------------------------------


def _allowlist() -> dict[str, list[dict[str, str]]]:
    listed = tomllib.loads(ALLOWLIST.read_text())
    for entry in listed.get("deviation", []) + listed.get("unserved", []):
        assert ("todo" in entry) != ("accepted" in entry), f"one of todo/accepted, with its reason: {entry}"
        assert entry.get("format", "envelope") in ("envelope", "root"), f"format is envelope or root: {entry}"
    return listed


def _applies(entry: dict[str, str], response_format: str) -> bool:
    return entry.get("format", response_format) == response_format


def _matches(entry: dict[str, str], found: Deviation) -> bool:
    return (
        fnmatchcase(found.operation, entry["operation"])
        and fnmatchcase(found.status, entry["status"])
        and fnmatchcase(found.pointer, entry["pointer"])
        and found.kind == entry["kind"]
    )


def _as_toml(found: Deviation) -> str:
    return (
        f'[[deviation]]\noperation = "{found.operation}"\nstatus = "{found.status}"\n'
        f'pointer = "{found.pointer}"\nkind = "{found.kind}"  # {found.message[:100]}\n'
        'todo = "what is to fix: ..."  # or accepted = "why this difference is right"\n'
    )


# --- The tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(UPSTREAM.read_text())


@pytest.fixture(scope="module")
def openapi(doc: dict[str, Any]) -> OpenAPI:
    # openapi-core also validates the document itself here; the upstream copy passes as it is.
    return OpenAPI.from_dict(doc)


@pytest.fixture(params=["envelope", "root"])
def shop(
    request: Any,
    settings: Any,
    caplog: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Shop]:
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_TIMEOUT = 1.0
    caplog.set_level("WARNING", logger="zupy.otp")
    # SMS offered (through the console sender), so request-otp's channel sms can be walked.
    settings.OTP_SENDERS = {**settings.OTP_SENDERS, "sms": "otp.senders.ConsoleSender"}
    # Enterprise: the walk sends more than a free key's 60 requests a minute (429 is provoked below).
    company = CompanyFactory.create(rate_tier="enterprise")
    integration_configure(company=company, slug="repediu", adapter=Adapter.REPEDIU)
    customer = CustomerFactory.create(company=company, phone=PHONE, points=1000, z=Decimal("100"))
    reward = RewardFactory.create(company=company, points_required=200)
    # No e-mail and no CPF on file: the strings the document declares non-nullable come back "".
    poor = CustomerFactory.create(company=company, points=10, email=None, cpf=None)
    # A marketing coupon (a free reward, claimed without points) beside the loyalty ones.
    welcome = RewardFactory.create(
        company=company, name="Welcome drink", points_required=0, origin_type=OriginType.MARKETING
    )
    CouponFactory.create(customer=customer, reward=welcome)
    receiver = Receiver()
    fmt = request.param
    yield Shop(
        response_format=fmt,
        api=Api(make_key(company, response_format=fmt)),
        read_only=Api(make_key(company, read_only=True, response_format=fmt)),
        anonymous=Api(None),
        customer=customer,
        reward=reward,
        coupon=CouponFactory.create(customer=customer, reward=reward),
        used_coupon=CouponFactory.create(
            customer=customer, reward=reward, status=CouponStatus.USED, remaining_usages=0
        ),
        poor=poor,
        poor_coupon=CouponFactory.create(customer=poor, reward=reward),
        topup=CustomerFactory.create(company=company, points=450, z=Decimal("1150")),
        dear_reward=RewardFactory.create(company=company, points_required=500),
        receiver=receiver,
        other_company=CompanyFactory.create(),
        otp_codes=lambda: [
            m.group(1) for r in caplog.records if (m := re.search(r"OTP for \S+: (\d{6})$", r.getMessage()))
        ],
        on_commit=django_capture_on_commit_callbacks,
        wallet_coupon=CouponFactory.create(customer=customer, reward=reward),
        fakes=install_fake_platforms(monkeypatch),
    )
    receiver.shutdown()


def _answered(shop: Shop, method: str, path: str) -> bool:
    """Whether we serve this upstream path: a route exists and does not answer 404/405/501."""
    try:
        resolve(path)
    except Resolver404:
        return False
    return _bound(shop.api, method, path)().status_code not in (404, 405, 501)


def test_every_served_operation_answers_as_the_upstream_document_says(shop, openapi, doc):
    upstream = {
        op["operationId"]: (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    assert set(SERVED) <= set(upstream), "SERVED names an operationId the upstream document lacks"
    cases = _scenarios(shop)
    provoked = {(op, status) for op, status, _ in cases}
    missing_cases = {
        (op, status)
        for op in SERVED
        for status in upstream[op][2]["responses"]
        if status != "429" and (op, status) not in provoked and (op, status) not in UNPROVOKABLE
    }
    assert not missing_cases, f"documented statuses with no scenario and no reason: {sorted(missing_cases)}"

    found: set[Deviation] = set()

    def record(op: str, status: str, response: Any) -> None:
        assert str(response.status_code) == status, (op, status, response.content)
        content = response.json() if response.content else None
        found.update(
            deviations(
                openapi,
                doc,
                op,
                status,
                response.request["PATH_INFO"],
                content,
                response["Content-Type"],
                shop.response_format,
            )
        )

    for (op, status, _), send in cases.items():
        record(op, status, send())
    # 429: a limit of zero refuses every request with a key, before anything else happens.
    nothing = {"free": 0, "standard": 0, "enterprise": 0}
    with override_settings(ZUPY_RATE_LIMITS=nothing, ZUPY_INBOUND_RATE_LIMITS=nothing):
        for op, (method, ours, _) in SERVED.items():
            path = ours.format(
                customer_id=shop.customer.pk,
                reward_id=shop.reward.pk,
                coupon_ref="x",
                company_id=shop.customer.company_id,
                program_id=shop.customer.company.loyalty_program.pk,
                pass_id="2" + "0" * 26,
                partner="repediu",
            )
            record(op, "429", _bound(shop.api, method, path)())

    listed = _allowlist()
    entries = [e for e in listed["deviation"] if _applies(e, shop.response_format)]
    unexpected = sorted((d for d in found if not any(_matches(e, d) for e in entries)), key=str)
    stale = [e for e in entries if not any(_matches(e, d) for d in found)]

    not_served = {op for op in upstream if op not in SERVED}
    listed_unserved = {e["operation"] for e in listed.get("unserved", [])}
    now_served = sorted(
        op
        for op in not_served
        if _answered(shop, upstream[op][0], re.sub(r"\{[^}]+\}", "2" + "0" * 26, upstream[op][1]))
    )
    report = "\n".join(
        [
            f"{shop.response_format} format: {len(found)} deviations found, "
            f"{len(entries)} deviation entries in the allowlist apply, "
            f"{len(SERVED)} operations checked, {len(cases) + len(SERVED)} answers validated.",
            "Not in the allowlist (add with a reason, or fix the response):",
            *(_as_toml(d) for d in unexpected),
            "Allowlist entries that no longer occur (delete them: the list only shrinks):",
            *(f"  {e}" for e in stale),
            f"Upstream operations not served here: {sorted(not_served)}",
            f"Unserved in the allowlist but answered now (move them to SERVED): {now_served}",
            f"Unserved, missing from the allowlist: {sorted(not_served - listed_unserved)}",
            f"In the allowlist's unserved list but served or unknown: {sorted(listed_unserved - not_served)}",
        ]
    )
    assert not unexpected and not stale and not now_served and listed_unserved == not_served, report


def test_every_operation_we_serve_is_checked_or_not_upstream():
    ours = yaml.safe_load((ROOT / "openapi.yaml").read_text())["paths"]
    served = {(method, path) for path, item in ours.items() for method in item}
    assert served == {(method, path) for method, path, _ in SERVED.values()} | set(OURS_ONLY)


def test_the_validator_catches_a_missing_field_and_a_wrong_type(shop, openapi, doc):
    """The check is not vacuous: a Customer without ``phone`` and a string balance are caught."""
    body = shop.api.get(f"/api/v2/customers/{shop.customer.pk}/").json()
    customer = body["data"] if shop.response_format == "envelope" else body
    del customer["phone"]
    customer["points_balance"] = "1000"
    path = f"/api/v2/customers/{shop.customer.pk}/"
    found = deviations(
        openapi, doc, "customers_retrieve", "200", path, body, "application/json", shop.response_format
    )
    assert {(d.pointer, d.kind) for d in found} >= {("/phone", "required"), ("/points_balance", "type")}


def test_a_null_where_the_document_wants_a_string_is_caught(shop, openapi, doc):
    """Stays fixed: a customer with nothing on file answers "" (the
    walk's ``poor`` customer), and a null in its place is a deviation no allowlist entry covers."""
    path = f"/api/v2/customers/{shop.poor.pk}/"
    body = shop.api.get(path).json()
    customer = body["data"] if shop.response_format == "envelope" else body
    assert (customer["email"], customer["cpf"], customer["avatar_url"], customer["birth_date"]) == (
        "",
        "",
        "",
        "",
    )
    customer["cpf"] = None
    found = deviations(
        openapi, doc, "customers_retrieve", "200", path, body, "application/json", shop.response_format
    )
    assert {(d.pointer, d.kind) for d in found} == {("/cpf", "type")}
