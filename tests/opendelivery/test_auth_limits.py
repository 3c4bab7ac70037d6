"""Rate limits as per API key: the targeted company's tier, counted per client and company, 429 in
the standard's shape with Retry-After and X-RateLimit-*; no usable token: counted per address."""

import pytest

from companies.services import company_save
from opendelivery.models import ClientKind
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import MERCHANT_A, MERCHANT_B, OdApi, make_od_client

pytestmark = pytest.mark.django_db

MERCHANTS = "/v2/merchants"


@pytest.fixture
def tight(settings):
    settings.ZUPY_RATE_LIMITS = {"free": 2, "standard": 4, "enterprise": 6}
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 3


def _limited(response):
    body = od_validate_response(response, "get", MERCHANTS)
    assert response.status_code == 429, response.content
    assert body["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(response["Retry-After"]) >= 1
    assert response["X-RateLimit-Remaining"] == "0"
    return response


def test_a_client_is_limited_by_its_companys_tier(tight, od_api, od_client_by_merchant):
    api = od_api(od_client_by_merchant)
    first = api.get(MERCHANTS)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert api.get(MERCHANTS).status_code == 200
    assert _limited(api.get(MERCHANTS))["X-RateLimit-Limit"] == "2"


def test_a_higher_tier_has_a_higher_limit(tight, od_api, od_client_by_merchant):
    company = od_client_by_merchant.company
    company.rate_tier = "standard"
    company_save(company=company)
    api = od_api(od_client_by_merchant)
    assert [api.get(MERCHANTS).status_code for _ in range(4)] == [200] * 4
    _limited(api.get(MERCHANTS))


def test_each_merchant_of_a_by_app_client_has_its_own_budget(tight, od_api, od_client_by_app):
    on_a, on_b = od_api(od_client_by_app, MERCHANT_A), od_api(od_client_by_app, MERCHANT_B)
    assert [on_a.get(MERCHANTS).status_code for _ in range(2)] == [200, 200]
    _limited(on_a.get(MERCHANTS))
    # Another token of the same client counts on the same budget.
    _limited(od_api(od_client_by_app, MERCHANT_A).get(MERCHANTS))
    assert on_b.get(MERCHANTS).status_code == 200


def test_another_client_of_the_same_company_has_its_own_budget(tight, od_api, od_client_by_merchant):
    api = od_api(od_client_by_merchant)
    for _ in range(2):
        api.get(MERCHANTS)
    _limited(api.get(MERCHANTS))
    other = make_od_client(
        kind=ClientKind.BY_MERCHANT, company=od_client_by_merchant.company, merchant_id="pos-2"
    )
    assert od_api(other).get(MERCHANTS).status_code == 200


def test_requests_without_a_usable_token_are_counted_per_address(tight):
    statuses = [OdApi(token).get(MERCHANTS).status_code for token in (None, "unknown", None)]
    assert statuses == [401, 401, 401]
    _limited(OdApi(None).get(MERCHANTS))
