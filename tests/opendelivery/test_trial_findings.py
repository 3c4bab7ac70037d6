"""What an outside trial of the surface found, each held here: a deeply nested token body, a
storeId sent twice with different values, and a SUSPENDED account redeeming or using a coupon
(the standard's account table: MUST NOT)."""

from typing import Any

import pytest

from coupons.models import Coupon, CouponStatus
from opendelivery.models import OdRedemption
from tests.factories import CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import MERCHANT_A, MERCHANT_B

pytestmark = pytest.mark.django_db


def test_a_deeply_nested_token_body_is_400_not_500(client: Any) -> None:
    for body in ("[" * 1000 + "]" * 1000, '{"client_id": ' + "[" * 1000 + "]" * 1000 + "}"):
        response = client.post("/v2/oauth/token", body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "INVALID_JSON"


def test_a_store_id_sent_twice_with_different_values_is_ambiguous(od_api: Any, od_client_by_app: Any) -> None:
    api = od_api(od_client_by_app, merchant_id=None)
    response = api.get(f"/v2/loyalty/programs?storeId={MERCHANT_B}&storeId={MERCHANT_A}")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "MERCHANT_AMBIGUOUS"
    same = api.get(f"/v2/loyalty/programs?storeId={MERCHANT_A}&storeId={MERCHANT_A}")
    assert same.status_code == 200, same.content


def test_a_suspended_account_cannot_redeem(od_api: Any, od_client_by_merchant: Any, od_company: Any) -> None:
    customer = CustomerFactory.create(company=od_company, points=500, is_active=False)
    reward = RewardFactory.create(company=od_company, points_required=100)
    api = od_api(od_client_by_merchant)
    response = api.post("/v2/loyalty/redemptions", {"accountId": customer.pk, "rewardId": reward.pk})
    body = od_validate_response(response, "post", "/v2/loyalty/redemptions")
    assert (response.status_code, body["code"]) == (409, "ACCOUNT_SUSPENDED")
    assert not OdRedemption.objects.exists()


def test_a_suspended_account_cannot_use_a_coupon(
    od_api: Any, od_client_by_merchant: Any, od_company: Any
) -> None:
    customer = CustomerFactory.create(company=od_company, points=500, is_active=False)
    coupon = CouponFactory.create(customer=customer, reward=RewardFactory.create(company=od_company))
    api = od_api(od_client_by_merchant)
    path = f"/v2/loyalty/coupons/{coupon.pk}/use"
    response = api.post(path, {"relatedOrderId": "order-1"})
    body = od_validate_response(response, "post", "/v2/loyalty/coupons/{couponId}/use")
    assert (response.status_code, body["code"]) == (409, "ACCOUNT_SUSPENDED")
    assert Coupon.objects.get().status == CouponStatus.ACTIVE
