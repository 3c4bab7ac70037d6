"""OWASP API1 (BOLA): walk the URL configuration, so a new endpoint cannot forget the scoping."""

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from coupons.models import Coupon
from customers.models import LedgerEntry
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from wallet.models import PassKind, Platform, WalletPass

pytestmark = pytest.mark.django_db

PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes() -> list[tuple[str, Any]]:
    """(route, view class) for every /api/v2/ pattern."""

    def walk(patterns: Sequence[URLPattern | URLResolver], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), getattr(pattern.callback, "cls", None)

    # The inbound partner webhook's path names an integration slug, not an object id: another
    # company's slug is the 403 integration-not-found (tests/integrations/test_inbound.py).
    not_served = {"/api/v2/webhooks/integrations/<slug:partner>/"}
    return [
        (route, view)
        for route, view in walk(get_resolver().url_patterns, "/")
        if route.startswith("/api/v2/") and route not in not_served
    ]


ID_ROUTES = [(route, view) for route, view in api_routes() if PARAM.search(route) and view is not None]
WRITE_ROUTES = [(route, view) for route, view in api_routes() if view is not None and hasattr(view, "post")]


def test_the_walk_finds_the_routes_it_must():
    assert len(ID_ROUTES) >= 8
    assert any("validate" in route for route, _ in ID_ROUTES)


@pytest.fixture
def victim() -> dict[str, str]:
    company = CompanyFactory.create()
    customer = CustomerFactory.create(company=company, points=1000)
    reward = RewardFactory.create(company=company, points_required=10)
    coupon = CouponFactory.create(customer=customer, reward=reward)
    card = WalletPass.objects.create(
        company=company,
        customer=customer,
        kind=PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=coupon.created_at,
    )
    return {
        "pass_id": card.pk,
        "customer_id": customer.pk,
        "reward_id": reward.pk,
        "coupon_ref": coupon.pk,
        "code": coupon.code,
        "company_id": company.pk,
        "program_id": company.loyalty_program.pk,
    }


@pytest.mark.parametrize(("route", "view"), ID_ROUTES, ids=[route for route, _ in ID_ROUTES])
def test_another_companys_key_gets_404_for_every_object_route(route, view, victim):
    attacker = Api(make_key(CompanyFactory.create()))
    names = PARAM.findall(route)
    assert set(names) <= set(victim), f"{route}: teach this test the id kind {names}"
    url = PARAM.sub(lambda m: victim[m.group(1)], route)
    before = (Coupon.objects.filter(remaining_usages=0).count(), LedgerEntry.objects.count())
    if hasattr(view, "get"):
        assert_problem(attacker.get(url), 404, "not-found")
    if hasattr(view, "post"):
        assert_problem(attacker.post(url, {"amount": 5, "use_z_tokens": False}), 404, "not-found")
    if "coupon_ref" in names:
        by_code = PARAM.sub(lambda m: victim["code" if m.group(1) == "coupon_ref" else m.group(1)], route)
        assert_problem(attacker.post(by_code), 404, "not-found")
    assert (Coupon.objects.filter(remaining_usages=0).count(), LedgerEntry.objects.count()) == before


@pytest.mark.parametrize(("route", "view"), WRITE_ROUTES, ids=[route for route, _ in WRITE_ROUTES])
def test_read_only_keys_are_refused_on_every_write_route(route, view, victim):
    reader = Api(make_key(Coupon.objects.get(pk=victim["coupon_ref"]).company, read_only=True))
    url = PARAM.sub(lambda m: victim[m.group(1)], route)
    before = LedgerEntry.objects.count()
    assert_problem(reader.post(url, {"amount": 5, "identifier": "+5511987654321", "phone": "+5511900000000"}),
                   403, "permission-denied")  # fmt: skip
    assert LedgerEntry.objects.count() == before
