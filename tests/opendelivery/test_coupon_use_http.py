"""useLoyaltyCoupon through HTTP: 200 with the coupon as it is now, the same order again 200 and
nothing used, another order or an expired or cancelled coupon 409, an unknown one 404."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from coupons.models import CouponStatus, CouponUse
from opendelivery.models import OdCouponUse
from tests.factories import CouponFactory, CustomerFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import OdApi

pytestmark = pytest.mark.django_db

TEMPLATE = "/v2/loyalty/coupons/{couponId}/use"


def use(api: OdApi, ref: str, body: Any = None) -> tuple[Any, Any]:
    response = api.post(f"/v2/loyalty/coupons/{ref}/use", body)
    return response, od_validate_response(response, "post", TEMPLATE)


@pytest.fixture
def coupon(od_company):
    return CouponFactory.create(customer=CustomerFactory.create(company=od_company))


@pytest.fixture
def api(od_api, od_client_by_merchant):
    return od_api(od_client_by_merchant)


def test_a_use_answers_the_used_coupon_and_the_same_order_again_changes_nothing(api, coupon):
    response, body = use(api, coupon.pk, {"relatedOrderId": "order-1"})
    assert response.status_code == 200, body
    assert (body["id"], body["code"], body["status"], body["customerId"]) == (
        coupon.pk,
        coupon.code,
        "used",
        coupon.customer_id,
    )
    again, same = use(api, coupon.code.lower(), {"relatedOrderId": "order-1"})
    assert again.status_code == 200
    assert same == body
    assert CouponUse.objects.filter(coupon=coupon).count() == 1

    other, answer = use(api, coupon.pk, {"relatedOrderId": "order-2"})
    assert (other.status_code, answer["code"]) == (409, "COUPON_USED")


def test_without_a_body_it_is_a_use(api, coupon):
    response, body = use(api, coupon.pk)
    assert (response.status_code, body["status"]) == (200, "used")
    assert OdCouponUse.objects.get(coupon=coupon).related_order_id == ""


def test_expired_and_cancelled_coupons_are_409(api, coupon):
    expired = CouponFactory.create(
        customer=coupon.customer, reward=coupon.reward, valid_until=timezone.now() - timedelta(minutes=1)
    )
    cancelled = CouponFactory.create(
        customer=coupon.customer, reward=coupon.reward, status=CouponStatus.CANCELLED
    )
    for ref, code in ((expired.pk, "COUPON_EXPIRED"), (cancelled.code, "COUPON_CANCELLED")):
        response, answer = use(api, ref, {"relatedOrderId": "o"})
        assert (response.status_code, answer["code"]) == (409, code)
    assert OdCouponUse.objects.count() == 0


def test_unknown_and_foreign_coupons_are_404(api):
    foreign = CouponFactory.create()
    for ref in (foreign.pk, foreign.code, "CZ-ZZZZZZZZ", "nonsense"):
        response, answer = use(api, ref, {"relatedOrderId": "o"})
        assert (response.status_code, answer["code"]) == (404, "COUPON_NOT_FOUND")
    assert CouponUse.objects.count() == 0


def test_a_bad_body_is_400_and_no_token_401(api, coupon):
    for body in ({"relatedOrderId": 12}, {"relatedOrderId": "x" * 101}, {"relatedOrderId": "o\x00"}, ["o"]):
        response, answer = use(api, coupon.pk, body)
        assert response.status_code == 400, answer
    response, answer = use(OdApi(None), coupon.pk, {"relatedOrderId": "o"})
    assert response.status_code == 401
    assert CouponUse.objects.count() == 0


def test_the_answer_is_the_coupon_as_listLoyaltyCoupons_shows_it(api, coupon):
    response, body = use(api, coupon.pk, {"relatedOrderId": "order-1"})
    assert response.status_code == 200
    listing = api.get("/v2/loyalty/coupons", {"customerId": coupon.customer_id})
    listed = od_validate_response(listing, "get", "/v2/loyalty/coupons")
    assert listed["items"] == [body]
    assert body["metadata"]["remainingUses"] == 0
