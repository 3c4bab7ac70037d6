"""Hostile ids in /v2 paths and bodies: a NUL byte, a 5,000-character id, encoded slashes, bytes that
are not UTF-8. Each is a 4xx in the standard's error shape, never a 500 (PostgreSQL refuses NUL in
text, so a NUL must never reach a query)."""

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/v2/loyalty/accounts/{x}",
    "/v2/loyalty/accounts/{x}/transactions",
    "/v2/loyalty/programs/{x}",
    "/v2/customers/{x}/loyalty-accounts",
]
HOSTILE = ["%00abc", "a" * 5000, "%E2%82%AC", "..%2F..", "%ff%fe"]


def _refused(response) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:200])
    body = response.json()
    assert set(body) >= {"code", "message"}, body


@pytest.mark.parametrize("template", PATHS)
def test_a_hostile_id_in_a_path_is_a_4xx_in_the_standards_shape(od_api, od_client_by_merchant, template):
    api = od_api(od_client_by_merchant)
    for raw in HOSTILE:
        _refused(api.get(template.format(x=raw)))
        _refused(api.post(f"/v2/loyalty/coupons/{raw}/use", {"relatedOrderId": "order-1"}))


def test_a_nul_in_a_body_or_query_is_a_400(od_api, od_client_by_merchant):
    api = od_api(od_client_by_merchant)
    query = {"customerIdentifierType": "phone", "customerIdentifierValue": "\x00"}
    assert api.get("/v2/customers", query).status_code == 400
    assert api.post("/v2/loyalty/redemptions", {"accountId": "\x00", "rewardId": "x"}).status_code == 400
    event = {
        "eventType": "order.created",
        "occurredAt": "2026-01-01T00:00:00Z",
        "orderId": "\x00",
        "customerIdentifier": {"type": "phone", "value": "+5511999998888"},
        "payload": {"totalAmount": 1000},
    }
    assert api.post("/v2/customer-events", event).status_code == 400
