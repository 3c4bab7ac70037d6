"""The read operations of the Customer capability through HTTP, as an ordering platform calls them:
every answer (successes and refusals) validated against the standard with ``od_validate``."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from companies.models import Company
from coupons.models import CouponStatus
from customers.services import points_add
from opendelivery.models import OdClient
from rewards.models import DiscountType
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import MERCHANT_B, OdApi

pytestmark = pytest.mark.django_db

# operationId -> the standard's path template (ours is it under /v2).
TEMPLATES = {
    "listCustomers": "/customers",
    "listLoyaltyPrograms": "/loyalty/programs",
    "getLoyaltyProgramById": "/loyalty/programs/{programId}",
    "listCustomerLoyaltyAccounts": "/customers/{customerId}/loyalty-accounts",
    "getLoyaltyAccountById": "/loyalty/accounts/{accountId}",
    "listLoyaltyTransactions": "/loyalty/accounts/{accountId}/transactions",
    "listLoyaltyRewards": "/loyalty/rewards",
    "listLoyaltyCoupons": "/loyalty/coupons",
}


def call(api: OdApi, operation: str, params: dict[str, Any] | None = None, /, **ids: str) -> tuple[int, Any]:
    """GET the operation (its path ids filled in), validated against the standard; (status, body)."""
    template = TEMPLATES[operation]
    response = api.get("/v2" + template.format(**ids), params)
    return response.status_code, od_validate_response(response, "get", template)


def refused(
    api: OdApi, operation: str, status: int, params: dict[str, Any] | None = None, /, **ids: str
) -> Any:
    got, body = call(api, operation, params, **ids)
    assert got == status, body
    assert body["code"] and body["message"]
    return body


@pytest.fixture
def api(od_api: Any, od_client_by_merchant: OdClient) -> OdApi:
    return od_api(od_client_by_merchant)


# --- listCustomers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("phone", "(11) 98765-4321"),
        ("phone", "+55 11 98765 4321"),
        ("email", " Ana@Example.COM "),
        ("document", "529.982.247-25"),
        ("PHONE", "11987654321"),
    ],
)
def test_a_customer_is_found_by_any_spelling_of_an_identifier(
    api, od_company, od_client_by_merchant, kind, value
):
    ana = CustomerFactory.create(
        company=od_company, phone="+5511987654321", email="ana@example.com", cpf="52998224725"
    )
    CustomerFactory.create(company=od_company)
    status, body = call(
        api, "listCustomers", {"customerIdentifierType": kind, "customerIdentifierValue": value}
    )
    assert status == 200
    assert (body["page"], body["pageSize"], body["total"]) == (1, 50, 1)
    [item] = body["items"]
    assert item["id"] == ana.id
    assert item["identifier"] == {"type": "phone", "value": "+5511987654321"}
    assert item["merchantId"] == od_client_by_merchant.links.get().merchant_id


def test_nobody_found_is_an_empty_page(api, od_company):
    CustomerFactory.create(company=od_company, phone="+5511987654321")
    for params in (
        {"customerIdentifierType": "phone", "customerIdentifierValue": "+5511912345678"},
        {"customerIdentifierType": "phone", "customerIdentifierValue": "0000000000"},  # possible, unassigned
        {"customerIdentifierType": "email", "customerIdentifierValue": "nobody@example.com"},
    ):
        status, body = call(api, "listCustomers", params)
        assert (status, body["items"], body["total"]) == (200, [], 0)


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"customerIdentifierType": "external_id", "customerIdentifierValue": "x"}, "customerIdentifierType"),
        ({"customerIdentifierType": "fax", "customerIdentifierValue": "x"}, "customerIdentifierType"),
        (
            {"customerIdentifierType": "phone", "customerIdentifierValue": "call me"},
            "customerIdentifierValue",
        ),
        ({"customerIdentifierType": "email", "customerIdentifierValue": "ana@"}, "customerIdentifierValue"),
        (
            {"customerIdentifierType": "document", "customerIdentifierValue": "111.111.111-11"},
            "customerIdentifierValue",
        ),
        ({"customerIdentifierType": "phone"}, "customerIdentifierValue"),
        ({"customerIdentifierValue": "+5511987654321"}, "customerIdentifierType"),
        ({"externalId": "pos-123"}, "externalId"),
        ({"updatedFrom": "yesterday"}, "updatedFrom"),
        ({"updatedFrom": "2026-02-01T00:00:00Z", "updatedTo": "2026-01-01T00:00:00Z"}, "updatedFrom"),
        ({"merchantId": "another-merchant"}, "merchantId"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"pageSize": "501"}, "pageSize"),
    ],
)
def test_a_parameter_that_cannot_be_honoured_is_400_naming_it(api, od_company, params, names):
    body = refused(api, "listCustomers", 400, params)
    assert any(names in text for text in [body["message"], *body.get("details", [])]), body


def test_customers_are_paged_with_the_real_total(api, od_company):
    made = sorted(CustomerFactory.create(company=od_company).id for _ in range(3))
    CustomerFactory.create()  # another company's
    status, body = call(api, "listCustomers", {"pageSize": "2", "page": "2"})
    assert (status, [c["id"] for c in body["items"]], body["total"], body["pageSize"]) == (
        200,
        made[2:],
        3,
        2,
    )
    status, body = call(api, "listCustomers", {"pageSize": "2", "page": "9"})
    assert (status, body["items"], body["total"], body["page"]) == (200, [], 3, 9)
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert call(api, "listCustomers", {"updatedFrom": later})[1]["total"] == 0


# --- Programs and accounts ----------------------------------------------------------------------------
def test_the_merchants_one_program(api, od_company):
    program = od_company.loyalty_program
    status, body = call(api, "listLoyaltyPrograms")
    assert (status, body["total"], [p["id"] for p in body["items"]]) == (200, 1, [program.id])
    status, item = call(api, "getLoyaltyProgramById", programId=program.id)
    assert (status, item["name"], item["ownerType"], item["status"]) == (200, program.name, "store", "active")
    refused(api, "listLoyaltyPrograms", 400, {"pageSize": "0"})


def test_another_companys_program_is_404(api):
    refused(api, "getLoyaltyProgramById", 404, programId=CompanyFactory.create().loyalty_program.id)
    refused(api, "getLoyaltyProgramById", 404, programId="not-a-program")


def test_a_customers_account_and_its_status(api, od_company):
    customer = CustomerFactory.create(company=od_company)
    status, body = call(api, "listCustomerLoyaltyAccounts", customerId=customer.id)
    assert status == 200
    [account] = body["items"]
    assert (account["id"], account["customerId"], account["balance"]) == (customer.id, customer.id, 0)
    assert (account["programId"], account["metadata"]["status"]) == (
        od_company.loyalty_program.id,
        "ENROLLED",
    )
    points_add(company=od_company, customer_id=customer.id, amount=250, reason="order", api_key=None)
    status, account = call(api, "getLoyaltyAccountById", accountId=customer.id)
    assert (status, account["balance"], account["metadata"]["status"]) == (200, 250, "ACTIVE")
    program = od_company.loyalty_program.id
    assert call(api, "listCustomerLoyaltyAccounts", {"programId": program}, customerId=customer.id)[1][
        "items"
    ]
    status, body = call(api, "listCustomerLoyaltyAccounts", {"programId": "other"}, customerId=customer.id)
    assert (status, body) == (200, {"items": []})


def test_another_companys_customer_has_no_account_here(api):
    stranger = CustomerFactory.create()
    refused(api, "listCustomerLoyaltyAccounts", 404, customerId=stranger.id)
    refused(api, "getLoyaltyAccountById", 404, accountId=stranger.id)
    refused(api, "listLoyaltyTransactions", 404, accountId=stranger.id)
    refused(api, "getLoyaltyAccountById", 404, accountId="nobody")


# --- Transactions ---------------------------------------------------------------------------------------
def test_transactions_are_the_ledger_newest_first(api, od_company):
    customer = CustomerFactory.create(company=od_company, points=100)
    points_add(company=od_company, customer_id=customer.id, amount=40, reason="order 7", api_key=None)
    status, body = call(api, "listLoyaltyTransactions", accountId=customer.id)
    assert status == 200
    assert [(t["type"], t["amount"]) for t in body["items"]] == [("earn", 40), ("adjust", 100)]
    assert body["total"] == 2 and body["items"][0]["metadata"]["reason"] == "order 7"
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    status, body = call(api, "listLoyaltyTransactions", {"createdFrom": later}, accountId=customer.id)
    assert (status, body["total"]) == (200, 0)
    status, body = call(api, "listLoyaltyTransactions", {"pageSize": "1", "page": "2"}, accountId=customer.id)
    assert (body["total"], [t["amount"] for t in body["items"]]) == (2, [100])
    refused(api, "listLoyaltyTransactions", 400, {"createdTo": "2026-13-01T00:00:00Z"}, accountId=customer.id)
    refused(api, "listLoyaltyTransactions", 400, {"merchantId": "another-merchant"}, accountId=customer.id)


# --- Rewards ----------------------------------------------------------------------------------------------
def test_rewards_are_what_may_be_redeemed_now(api, od_company):
    dessert = RewardFactory.create(
        company=od_company, discount_type=DiscountType.FREE_ITEM, monetary_value=Decimal("9.90")
    )
    RewardFactory.create(company=od_company, is_active=False)
    RewardFactory.create()  # another company's
    status, body = call(api, "listLoyaltyRewards")
    assert (status, body["total"]) == (200, 1)
    [item] = body["items"]
    assert (item["id"], item["type"], item["cost"], item["metadata"]["monetaryValue"]) == (
        dessert.id,
        "product",
        200,
        990,
    )
    assert item["programId"] == od_company.loyalty_program.id
    assert call(api, "listLoyaltyRewards", {"programId": "other"})[1]["total"] == 0
    refused(api, "listLoyaltyRewards", 400, {"pageSize": "x"})


# --- Coupons ----------------------------------------------------------------------------------------------
def test_coupons_by_customer_and_status(api, od_company):
    ana, bia = CustomerFactory.create(company=od_company), CustomerFactory.create(company=od_company)
    available = CouponFactory.create(customer=ana)
    used = CouponFactory.create(customer=ana, status=CouponStatus.USED, remaining_usages=0)
    lapsed = CouponFactory.create(customer=bia, valid_until=timezone.now() - timedelta(minutes=1))
    stranger = CouponFactory.create()
    status, body = call(api, "listLoyaltyCoupons")
    assert (status, body["total"]) == (200, 3)
    assert [(c["id"], c["status"]) for c in body["items"]] == [
        (lapsed.id, "expired"),
        (used.id, "used"),
        (available.id, "available"),
    ]
    assert body["items"][2]["code"] == available.code
    assert [c["id"] for c in call(api, "listLoyaltyCoupons", {"customerId": ana.id})[1]["items"]] == [
        used.id,
        available.id,
    ]
    by_status = call(api, "listLoyaltyCoupons", {"customerId": ana.id, "status": "AVAILABLE"})[1]
    assert [c["id"] for c in by_status["items"]] == [available.id]
    assert call(api, "listLoyaltyCoupons", {"status": "expired"})[1]["total"] == 1
    assert call(api, "listLoyaltyCoupons", {"status": "applied"})[1]["total"] == 0
    # Another company's customer filters to nothing: the operation declares no 404.
    assert call(api, "listLoyaltyCoupons", {"customerId": stranger.customer_id})[1]["total"] == 0
    refused(api, "listLoyaltyCoupons", 400, {"status": "redeemed"})
    refused(api, "listLoyaltyCoupons", 400, {"merchantId": "another-merchant"})


# --- Authentication and tenants ---------------------------------------------------------------------------
@pytest.mark.parametrize("operation", sorted(TEMPLATES))
@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_every_read_needs_a_token(operation, token):
    customer = CustomerFactory.create()
    ids = {
        "programId": customer.company.loyalty_program.id,
        "customerId": customer.id,
        "accountId": customer.id,
    }
    refused(OdApi(token), operation, 401, **ids)


def test_a_by_app_token_reaches_only_the_merchant_it_names(od_api, od_client_by_app, od_app_companies):
    first, second = od_app_companies
    mine = CustomerFactory.create(company=first, phone="+5511987654321")
    theirs = CustomerFactory.create(company=second, phone="+5511912345678")
    CouponFactory.create(customer=mine)
    their_coupon = CouponFactory.create(customer=theirs)
    as_a, as_b = od_api(od_client_by_app), od_api(od_client_by_app, MERCHANT_B)
    lookup = {"customerIdentifierType": "phone", "customerIdentifierValue": "+5511912345678"}
    assert call(as_a, "listCustomers", lookup)[1]["total"] == 0
    assert [c["id"] for c in call(as_b, "listCustomers", lookup)[1]["items"]] == [theirs.id]
    assert [c["id"] for c in call(as_a, "listCustomers")[1]["items"]] == [mine.id]
    coupons_a = call(as_a, "listLoyaltyCoupons")[1]["items"]
    assert [c["customerId"] for c in coupons_a] == [mine.id]
    assert call(as_a, "listLoyaltyCoupons", {"customerId": theirs.id})[1]["total"] == 0
    assert [c["id"] for c in call(as_b, "listLoyaltyCoupons")[1]["items"]] == [their_coupon.id]
    refused(as_a, "getLoyaltyAccountById", 404, accountId=theirs.id)
    refused(as_a, "listLoyaltyTransactions", 404, accountId=theirs.id)
    refused(as_a, "getLoyaltyProgramById", 404, programId=second.loyalty_program.id)
    assert call(as_b, "getLoyaltyAccountById", accountId=theirs.id)[0] == 200
    assert call(as_a, "listCustomers", {"merchantId": "merchant-a"})[0] == 200
    refused(as_a, "listCustomers", 400, {"merchantId": MERCHANT_B})


# --- Query budget -----------------------------------------------------------------------------------------
def statements(api: OdApi, operation: str, **ids: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        status, _ = call(api, operation, **ids)
    assert status == 200
    return len(queries)


LISTS = ["listCustomers", "listLoyaltyTransactions", "listLoyaltyRewards", "listLoyaltyCoupons"]


def fill(company: Company, customer_id: str, count: int) -> None:
    for _ in range(count):
        other = CustomerFactory.create(company=company)
        points_add(company=company, customer_id=customer_id, amount=5, reason="order", api_key=None)
        CouponFactory.create(customer=other, reward=RewardFactory.create(company=company))


@pytest.mark.parametrize("operation", LISTS)
def test_a_list_costs_the_same_statements_for_one_row_or_many(
    api, od_company, operation, django_assert_max_num_queries
):
    customer = CustomerFactory.create(company=od_company)
    fill(od_company, customer.id, 1)
    few = statements(api, operation, accountId=customer.id)
    fill(od_company, customer.id, 12)
    with django_assert_max_num_queries(few):
        status, body = call(api, operation, accountId=customer.id)
    assert status == 200 and len(body["items"]) > 10


def test_the_manifest_declares_every_read_and_a_trailing_slash_is_tolerated(api, od_company):
    manifest = OdApi(None).get("/.well-known/opendelivery").json()
    assert set(TEMPLATES) <= set(manifest["capabilities"]["customer"]["supportedOperations"])
    response = api.get("/v2/loyalty/rewards/")
    assert response.status_code == 200
    assert od_validate_response(response, "get", "/loyalty/rewards")["total"] == 0
    customer = CustomerFactory.create(company=od_company)
    refused(api, "listCustomerLoyaltyAccounts", 400, {"merchantId": "another"}, customerId=customer.id)
