"""Which merchant a request reaches: a by_app token names exactly one of its linked merchants, a
by_merchant token reaches its own; listMerchants lists what the token reaches, paged."""

import pytest

from opendelivery.models import ClientKind
from opendelivery.services import od_link_set_enabled, od_merchant_link
from tests.factories import CompanyFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import MERCHANT_A, MERCHANT_B, make_od_client

pytestmark = pytest.mark.django_db

MERCHANTS = "/v2/merchants"


def _items(response):
    body = od_validate_response(response, "get", MERCHANTS)
    assert response.status_code == 200, response.content
    return [item["merchantId"] for item in body["items"]]


def _refused(response, status, code):
    body = od_validate_response(response, "get", MERCHANTS)
    assert response.status_code == status, response.content
    assert body["code"] == code
    return body


def test_by_app_lists_every_linked_merchant_with_both_ids(od_api, od_client_by_app, od_app_companies):
    response = od_api(od_client_by_app, None).get(MERCHANTS)
    body = od_validate_response(response, "get", MERCHANTS)
    first, second = od_app_companies
    assert body == {
        "items": [
            {
                "merchantId": MERCHANT_A,
                "externalCode": str(first.od_merchant.external_code),
                "name": first.name,
            },
            {
                "merchantId": MERCHANT_B,
                "externalCode": str(second.od_merchant.external_code),
                "name": second.name,
            },
        ],
        "page": 1,
        "pageSize": 50,
        "total": 2,
    }


@pytest.mark.parametrize(
    "headers, params, expected",
    [
        ({"HTTP_X_APP_MERCHANTID": MERCHANT_B}, {}, [MERCHANT_B]),
        ({}, {"storeId": MERCHANT_B}, [MERCHANT_B]),
        ({"HTTP_X_APP_MERCHANTID": MERCHANT_A}, {"storeId": MERCHANT_A}, [MERCHANT_A]),
    ],
    ids=["header", "storeId", "both-the-same"],
)
def test_by_app_names_its_merchant_by_header_or_store_id(od_api, od_client_by_app, headers, params, expected):
    assert _items(od_api(od_client_by_app, None).get(MERCHANTS, params, **headers)) == expected


@pytest.mark.parametrize(
    "headers, params, code",
    [
        ({"HTTP_X_APP_MERCHANTID": MERCHANT_A}, {"storeId": MERCHANT_B}, "MERCHANT_AMBIGUOUS"),
        ({"HTTP_X_APP_MERCHANTID": "not-linked"}, {}, "MERCHANT_NOT_LINKED"),
        ({}, {"storeId": "not-linked"}, "MERCHANT_NOT_LINKED"),
    ],
    ids=["both-different", "unlinked-header", "unlinked-store"],
)
def test_by_app_naming_a_merchant_it_cannot_reach_is_403(od_api, od_client_by_app, headers, params, code):
    _refused(od_api(od_client_by_app, None).get(MERCHANTS, params, **headers), 403, code)


def test_by_merchant_reaches_its_own_merchant_only(od_api, od_client_by_merchant, od_client_by_app):
    own = od_client_by_merchant.links.get().merchant_id
    api = od_api(od_client_by_merchant)
    assert _items(api.get(MERCHANTS)) == [own]
    assert _items(api.get(MERCHANTS, HTTP_X_APP_MERCHANTID=own)) == [own]
    # Another client's merchantId, or another company's externalCode: not its own.
    other_code = str(od_client_by_app.links.get(merchant_id=MERCHANT_A).company.od_merchant.external_code)
    for named in (MERCHANT_A, other_code):
        _refused(api.get(MERCHANTS, HTTP_X_APP_MERCHANTID=named), 403, "MERCHANT_NOT_LINKED")
        _refused(api.get(MERCHANTS, {"storeId": named}), 403, "MERCHANT_NOT_LINKED")


def test_a_disabled_link_is_cut_off_at_once(od_api, od_client_by_app):
    api = od_api(od_client_by_app, MERCHANT_B)
    assert _items(api.get(MERCHANTS)) == [MERCHANT_B]
    od_link_set_enabled(link=od_client_by_app.links.get(merchant_id=MERCHANT_B), enabled=False)
    _refused(api.get(MERCHANTS), 403, "MERCHANT_NOT_LINKED")
    assert _items(od_api(od_client_by_app, None).get(MERCHANTS)) == [MERCHANT_A]


def test_a_by_merchant_clients_disabled_link_is_403(od_api, od_client_by_merchant):
    api = od_api(od_client_by_merchant)
    od_link_set_enabled(link=od_client_by_merchant.links.get(), enabled=False)
    _refused(api.get(MERCHANTS), 403, "MERCHANT_NOT_LINKED")


def test_another_clients_links_are_not_listed(od_api, od_client_by_app, od_app_companies):
    # A second platform linked by one of the same companies, under its own merchantId.
    other = make_od_client(kind=ClientKind.BY_APP)
    od_merchant_link(client=other, company=od_app_companies[0], merchant_id="theirs")
    assert _items(od_api(other, None).get(MERCHANTS)) == ["theirs"]
    _refused(od_api(other, None).get(MERCHANTS, HTTP_X_APP_MERCHANTID=MERCHANT_A), 403, "MERCHANT_NOT_LINKED")
    assert _items(od_api(od_client_by_app, None).get(MERCHANTS)) == [MERCHANT_A, MERCHANT_B]


@pytest.fixture
def many(od_client_by_app):
    for index in range(3):
        company = CompanyFactory.create()
        od_merchant_link(client=od_client_by_app, company=company, merchant_id=f"extra-{index}")
    return od_client_by_app


@pytest.mark.parametrize(
    "params, expected, page, size",
    [
        ({"pageSize": "2"}, [MERCHANT_A, MERCHANT_B], 1, 2),
        ({"pageSize": "2", "page": "2"}, ["extra-0", "extra-1"], 2, 2),
        ({"pageSize": "2", "page": "3"}, ["extra-2"], 3, 2),
        ({"pageSize": "2", "page": "4"}, [], 4, 2),
        ({"page": "1", "pageSize": "500"}, [MERCHANT_A, MERCHANT_B, "extra-0", "extra-1", "extra-2"], 1, 500),
        ({"page": "", "pageSize": ""}, [MERCHANT_A, MERCHANT_B, "extra-0", "extra-1", "extra-2"], 1, 50),
    ],
    ids=["first", "second", "last", "past-the-end", "largest", "empty-values"],
)
def test_pages_carry_the_real_total(od_api, many, params, expected, page, size):
    response = od_api(many, None).get(MERCHANTS, params)
    body = od_validate_response(response, "get", MERCHANTS)
    assert [item["merchantId"] for item in body["items"]] == expected
    assert (body["page"], body["pageSize"], body["total"]) == (page, size, 5)


@pytest.mark.parametrize(
    "params",
    [{"page": "0"}, {"page": "-1"}, {"page": "abc"}, {"page": "1.5"}, {"pageSize": "0"}, {"pageSize": "501"},
     {"pageSize": "٣"}, {"page": "9" * 30}],
    ids=["page-0", "page-negative", "page-text", "page-decimal", "size-0", "size-over", "size-arabic",
         "page-huge"],
)  # fmt: skip
def test_a_page_that_is_not_such_an_integer_is_400(od_api, od_client_by_app, params):
    body = _refused(od_api(od_client_by_app, None).get(MERCHANTS, params), 400, "INVALID_PARAMETER")
    assert body["details"] == [next(iter(params))]
