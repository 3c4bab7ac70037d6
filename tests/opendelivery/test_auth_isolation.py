"""No token reaches another company by any id: every routed OpenDelivery operation, called with a
by_app token for merchant A and the ids of company B's customer, program, reward and coupon (in the
path, the query and the body), answers nothing of B's and changes nothing of B's; naming B as the
merchant is 403. One walk over the routes, so an operation added later is covered too."""

import json
import re

import pytest

from coupons.models import Coupon
from customers.models import LedgerEntry
from opendelivery.discovery import routed_operations
from opendelivery.models import ClientKind
from opendelivery.services import od_merchant_link
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.conftest import MERCHANT_A, make_od_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_company():
    """Company B: linked by another platform (under "b-elsewhere"), not by the client under test."""
    company = CompanyFactory.create()
    customer = CustomerFactory.create(
        company=company, points=5000, phone="+5511988887777", email="b@example.com"
    )
    reward = RewardFactory.create(company=company, points_required=10)
    coupon = CouponFactory.create(customer=customer, reward=reward)
    elsewhere = make_od_client(kind=ClientKind.BY_APP)
    od_merchant_link(client=elsewhere, company=company, merchant_id="b-elsewhere")
    return {
        "company": company,
        "customer": customer.pk,
        "account": customer.pk,
        "program": company.loyalty_program.pk,
        "reward": reward.pk,
        "coupon": coupon.pk,
        "code": coupon.code,
        "external_code": str(company.od_merchant.external_code),
    }


def _path(route, ids):
    def fill(match: re.Match) -> str:
        name = match.group(1).lower()
        return next((str(value) for key, value in ids.items() if key in name), "x")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)


def _state(company):
    return (
        LedgerEntry.objects.filter(customer__company=company).count(),
        sorted(Coupon.objects.filter(customer__company=company).values_list("status", flat=True)),
    )


def test_no_route_reaches_another_company(od_api, od_client_by_app, other_company):
    b = other_company
    secrets = [str(b[key]) for key in ("customer", "program", "reward", "coupon", "code", "external_code")]
    query = {
        "customerId": b["customer"],
        "accountId": b["account"],
        "programId": b["program"],
        "rewardId": b["reward"],
        "couponId": b["coupon"],
        "customerIdentifierType": "phone",
        "customerIdentifierValue": "+5511988887777",
    }
    body = {**query, "quantity": 1, "relatedOrderId": "o-1"}
    api = od_api(od_client_by_app, MERCHANT_A)
    before = _state(b["company"])
    walked = []
    for operation, (method, route, _) in sorted(routed_operations().items()):
        if route.startswith("v2/oauth/"):
            continue
        path = _path(route, b)
        if method == "get":
            response = api.get(path, query)
        else:
            response = api.client.generic(
                method.upper(), path, json.dumps(body), content_type="application/json"
            )
        text = response.content.decode()
        leaked = [value for value in secrets if value in text]
        assert not leaked, (operation, path, response.status_code, text[:500])
        if "<" in route:
            assert response.status_code in (403, 404), (operation, path, response.status_code, text[:500])
        walked.append(operation)
        # Naming company B's merchant (another client's merchantId, or B's externalCode): 403.
        for named in ("b-elsewhere", b["external_code"]):
            refused = od_api(od_client_by_app, named).get(_path(route, b))
            assert refused.status_code == 403, (operation, named, refused.content[:300])
    assert "listMerchants" in walked
    assert _state(b["company"]) == before
