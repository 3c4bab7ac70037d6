"""Accrual from orders through HTTP, as an ordering platform meets it: ``POST /v2/customer-events``
with its bearer token. Every answer is held to the standard: 204/202 without a body, errors as its
``ErrorResponse``; every envelope sent that should be accepted is a valid ``CustomerEventEnvelope``."""

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from openapi_schema_validator import OAS31Validator

from companies.models import Company
from core.events import published
from customers.models import Customer, LedgerEntry
from customers.services import customer_adjust_balance
from opendelivery.models import OdClient, OdOrder, OrderStatus
from opendelivery.orders import CUSTOMER_EVENT_TYPES, od_merchant_configure
from tests.conftest import run_together
from tests.factories import CompanyFactory, CustomerFactory
from tests.opendelivery.conformance import document, od_validate_response
from tests.opendelivery.conftest import MERCHANT_A, MERCHANT_B, OdApi, make_od_client, make_od_token

pytestmark = pytest.mark.django_db

PATH = "/v2/customer-events"
PHONE = "+5511999998888"


def schema(name: str) -> dict[str, Any]:
    spec = document("customer").spec
    return {**spec["components"]["schemas"][name], "components": spec["components"]}


def created(order_id: str, cents: Any = 5000, kind: str = "phone", value: str = PHONE) -> dict[str, Any]:
    return {
        "id": f"evt-{order_id}",
        "eventType": "order.created",
        "occurredAt": "2026-07-19T12:00:00Z",
        "customerIdentifier": {"type": kind, "value": value},
        "orderId": order_id,
        "payload": {"id": order_id, "totalAmount": cents},
    }


def cancelled(order_id: str) -> dict[str, Any]:
    return {
        "id": f"evt-{order_id}-x",
        "eventType": "order.cancelled",
        "occurredAt": "2026-07-19T13:00:00Z",
        "orderId": order_id,
    }


def send(api: OdApi, body: Any, path: str = PATH) -> Any:
    """Post ``body`` and check the answer against the standard; answers the response."""
    response = api.post(path, body)
    conforms(response)
    return response


def conforms(response: Any, *, validate: bool = True) -> None:
    """The standard's answer (od_validate: the customerEvent webhook's 204, errors as its
    ErrorResponse), and no body on an acknowledgement."""
    if validate:
        od_validate_response(response, "post", PATH)
    if response.status_code in (202, 204):
        assert response.content == b"", response.content
        return
    assert response["Content-Type"].split(";")[0] == "application/json"
    errors = list(OAS31Validator(schema("ErrorResponse")).iter_errors(response.json()))
    assert errors == [], errors


def accepted(api: OdApi, body: dict[str, Any]) -> None:
    assert list(OAS31Validator(schema("CustomerEventEnvelope")).iter_errors(body)) == []
    response = send(api, body)
    assert response.status_code == 204, response.content


@pytest.fixture
def platform(od_client_by_merchant: OdClient, od_company: Company, od_api: Callable[..., OdApi]) -> OdApi:
    od_merchant_configure(company=od_company, points_per_unit=Decimal(1), rounding="down")
    return od_api(od_client_by_merchant)


def balance(company: Company, phone: str = PHONE) -> int:
    return Customer.objects.get(company=company, phone=phone).points_balance


def test_the_event_types_are_the_standards():
    assert list(CUSTOMER_EVENT_TYPES) == schema("CustomerEventType")["enum"]


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(*, event: str, data: dict[str, Any], **kwargs: Any) -> None:
        seen.append((event, data))

    published.connect(record, dispatch_uid="test.od_orders_http")
    yield seen
    published.disconnect(dispatch_uid="test.od_orders_http")


def test_an_order_credits_its_points_once_and_its_cancel_takes_them_back(platform, od_company, events):
    for _ in range(2):
        accepted(platform, created("order-abc123"))
    assert balance(od_company) == 50
    earned = [data for name, data in events if name == "points.earned"]
    assert [(e["points_added"], e["source"], e["reference_id"]) for e in earned] == [
        (50, "opendelivery", "order-abc123")
    ]
    for _ in range(2):
        accepted(platform, cancelled("order-abc123"))
    assert balance(od_company) == 0
    spent = [data for name, data in events if name == "points.spent"]
    assert [(e["points_spent"], e["source"], e["reference_id"]) for e in spent] == [
        (50, "opendelivery", "order-abc123")
    ]
    order = OdOrder.objects.get(company=od_company)
    assert (order.status, order.points_awarded, order.points_reversed) == (OrderStatus.CANCELLED, 50, 50)
    call_command("ledger_check")


def test_the_path_with_a_trailing_slash_is_the_same(platform, od_company):
    assert send(platform, created("order-1"), PATH + "/").status_code == 204
    assert balance(od_company) == 50


def test_a_cancel_after_the_points_were_spent_takes_back_what_the_balance_holds(platform, od_company):
    accepted(platform, created("order-1", 10000))
    customer = Customer.objects.get(company=od_company, phone=PHONE)
    customer_adjust_balance(customer_id=customer.pk, points=-70, reason="redeemed at the till")
    accepted(platform, cancelled("order-1"))
    customer.refresh_from_db()
    assert customer.points_balance == 0
    order = OdOrder.objects.get(company=od_company)
    assert (order.points_awarded, order.points_reversed) == (100, 30)
    assert "70 points" in order.reason
    reversal = LedgerEntry.objects.filter(customer=customer).order_by("-id")[0]
    assert (reversal.amount, reversal.balance_after, reversal.reason) == (
        -30,
        0,
        "OpenDelivery order order-1 cancelled",
    )
    call_command("ledger_check")


def test_an_order_by_email_credits_the_customer_with_that_email(platform, od_company):
    known = CustomerFactory.create(company=od_company, email="maria@example.com")
    accepted(platform, created("order-1", kind="email", value="MARIA@example.com"))
    known.refresh_from_db()
    assert known.points_balance == 50


def test_a_customer_named_by_a_document_only_is_skipped(platform, od_company):
    known = CustomerFactory.create(company=od_company, cpf="52998224725")
    accepted(platform, created("order-1", kind="document", value="529.982.247-25"))
    known.refresh_from_db()
    assert known.points_balance == 0
    order = OdOrder.objects.get(company=od_company)
    assert (order.status, order.customer_id) == (OrderStatus.NOTHING, None)
    assert "document" in order.reason


def test_without_a_rate_an_order_is_accepted_and_awards_nothing(od_client_by_merchant, od_company, od_api):
    accepted(od_api(od_client_by_merchant), created("order-1"))
    order = OdOrder.objects.get(company=od_company)
    assert (order.status, order.points_awarded) == (OrderStatus.NOTHING, 0)
    assert not Customer.objects.filter(company=od_company).exists()


@pytest.mark.parametrize("event_type", CUSTOMER_EVENT_TYPES[2:])
def test_the_standards_other_events_are_acknowledged_and_ignored(platform, event_type):
    response = send(platform, {**created("order-1"), "eventType": event_type})
    assert response.status_code == 202
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


def test_an_unknown_event_type_is_422_and_writes_nothing(platform):
    response = send(platform, {**created("order-1"), "eventType": "order.refunded"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "UNKNOWN_EVENT_TYPE" and "order.refunded" in body["message"]
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        [created("order-1")],
        "order.created",
        {},
        {**created("order-1"), "occurredAt": "not a date"},
        {**created("order-1"), "payload": {"id": "order-1"}},
        {**created("order-1"), "payload": {"id": "order-1", "totalAmount": "50.00"}},
        {**created("order-1"), "orderId": None, "payload": {"totalAmount": 5000}},
        {**created("order-1"), "customerIdentifier": {"type": "phone", "value": "12"}},
        {**created("order-1"), "orderId": "x" * 101},
    ],
)
def test_a_malformed_envelope_is_400_and_writes_nothing(platform, body):
    response = send(platform, body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_EVENT"
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff", b'{"eventType": "order.created", "id": NaN}'])
def test_a_body_that_is_not_json_is_400_and_writes_nothing(platform, raw):
    response = platform.client.post(PATH, raw, content_type="application/json")
    conforms(response)
    assert response.status_code == 400, response.content
    assert not OdOrder.objects.exists()


def test_without_a_token_nothing_is_written(od_company):
    response = OdApi(None).post(PATH, created("order-1"))
    conforms(response)
    assert response.status_code == 401
    assert not OdOrder.objects.exists()


def test_a_by_app_token_credits_only_the_merchant_it_names(od_client_by_app, od_app_companies, od_api):
    first, second = od_app_companies
    for company in od_app_companies:
        od_merchant_configure(company=company, points_per_unit=Decimal(1))
    theirs = CustomerFactory.create(company=second, phone=PHONE, points=5)
    accepted(od_api(od_client_by_app, MERCHANT_A), created("order-1"))
    theirs.refresh_from_db()
    assert theirs.points_balance == 5
    assert balance(first) == 50
    # The same order id at merchant B is B's own order.
    accepted(od_api(od_client_by_app, MERCHANT_B), created("order-1"))
    theirs.refresh_from_db()
    assert theirs.points_balance == 55
    # A cancel at A takes back A's award only.
    accepted(od_api(od_client_by_app, MERCHANT_A), cancelled("order-1"))
    theirs.refresh_from_db()
    assert (balance(first), theirs.points_balance) == (0, 55)


@pytest.mark.parametrize("merchant_id", [None, "merchant-unlinked"])
def test_a_by_app_token_without_its_merchant_is_403_and_writes_nothing(od_client_by_app, od_api, merchant_id):
    response = send(od_api(od_client_by_app, merchant_id), created("order-1"))
    assert response.status_code == 403
    assert not OdOrder.objects.exists() and not Customer.objects.exists()


def test_another_companys_by_merchant_token_reaches_its_own_company_only(platform, od_company):
    other = CompanyFactory.create()
    od_merchant_configure(company=other, points_per_unit=Decimal(1))
    theirs = CustomerFactory.create(company=other, phone=PHONE)
    accepted(OdApi(make_od_token(make_od_client(kind="by_merchant", company=other))), created("order-1"))
    accepted(platform, cancelled("order-1"))  # od_company never saw order-1: nothing moves at other
    theirs.refresh_from_db()
    assert theirs.points_balance == 50


def test_the_standards_order_upsert_is_not_served_and_says_so(platform, client):
    response = platform.post("/v2/orders", {"items": [{"id": "order-1", "totalAmount": 5000}]})
    conforms(response, validate=False)  # a path not routed: its 404 is the standard's ErrorResponse
    assert response.status_code in (404, 405)
    assert not OdOrder.objects.exists()
    manifest = client.get("/.well-known/opendelivery").json()
    customer = manifest["capabilities"]["customer"]
    assert "upsertOrders" in customer["unsupportedOperations"]
    assert "upsertOrders" not in customer["supportedOperations"]


@pytest.mark.django_db(transaction=True)
def test_twenty_identical_order_created_at_once_credit_once(od_client_by_merchant, od_company):
    od_merchant_configure(company=od_company, points_per_unit=Decimal(1))
    token = make_od_token(od_client_by_merchant)
    body = created("order-1")

    results = run_together(20, lambda: OdApi(token).post(PATH, body))

    assert [getattr(r, "status_code", r) for r in results] == [204] * 20
    customers = Customer.objects.filter(company=od_company)
    assert [c.points_balance for c in customers] == [50]
    assert LedgerEntry.objects.filter(customer__company=od_company).count() == 1
    assert OdOrder.objects.get(company=od_company).status == OrderStatus.CREDITED
    call_command("ledger_check")


def test_another_method_is_405_in_the_standards_shape(platform):
    response = platform.get(PATH)
    conforms(response, validate=False)  # the webhook defines POST only
    assert response.status_code == 405
    assert "POST" in response["Allow"]


def test_the_platform_reads_the_award_and_the_reversal_in_the_accounts_transactions(platform, od_company):
    accepted(platform, created("order-1"))
    accepted(platform, cancelled("order-1"))
    customer = Customer.objects.get(company=od_company, phone=PHONE)
    response = platform.get(f"/v2/loyalty/accounts/{customer.pk}/transactions")
    assert response.status_code == 200, response.content
    rows = [(t["type"], t["amount"], t["metadata"]["reason"]) for t in response.json()["items"]]
    assert sorted(rows) == [
        ("adjust", -50, "OpenDelivery order order-1 cancelled"),
        ("earn", 50, "OpenDelivery order order-1"),
    ]
