"""createLoyaltyRedemption through HTTP, as an ordering platform calls it: 202 with a correlationId
and the coupon issued by the worker; 400 for what the request gets wrong, 401 without a token, 409
for what the account cannot have; a retry is the same redemption. Every answer is held to the
standard (``od_validate_response``) and a refused request writes nothing."""

from typing import Any

import pytest
from django.core.management import call_command

from coupons.models import Coupon
from opendelivery.models import OdRedemption, RedemptionStatus
from opendelivery.redemptions import od_redemptions_process_due
from tests.factories import CustomerFactory, RewardFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import MERCHANT_B, OdApi

pytestmark = pytest.mark.django_db

PATH = "/v2/loyalty/redemptions"


def redeem(api: OdApi, body: Any, **headers: str) -> Any:
    response = api.post(PATH, body, **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    return response, od_validate_response(response, "post", PATH)


@pytest.fixture
def customer(od_company):
    return CustomerFactory.create(company=od_company, points=500)


@pytest.fixture
def reward(od_company):
    return RewardFactory.create(company=od_company, points_required=200)


@pytest.fixture
def api(od_api, od_client_by_merchant):
    return od_api(od_client_by_merchant)


def test_a_redemption_is_accepted_with_202_and_issued_by_the_worker(api, customer, reward):
    response, body = redeem(
        api, {"accountId": customer.pk, "rewardId": reward.pk, "quantity": 1, "metadata": {"channel": "app"}}
    )
    assert response.status_code == 202
    assert body["status"] == "ACCEPTED"
    redemption = OdRedemption.objects.get(pk=body["correlationId"])
    assert (redemption.status, redemption.metadata) == (RedemptionStatus.ACCEPTED, {"channel": "app"})

    od_redemptions_process_due()
    redemption.refresh_from_db()
    assert redemption.status == RedemptionStatus.ISSUED
    assert Coupon.objects.get().pk == redemption.coupon_id
    customer.refresh_from_db()
    assert customer.points_balance == 300
    call_command("ledger_check")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"rewardId": "R"}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}"}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "quantity": 2}, "QUANTITY_NOT_SUPPORTED"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "quantity": 0}, "QUANTITY_NOT_SUPPORTED"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "quantity": "many"}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "quantity": True}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "metadata": []}, "VALIDATION_ERROR"),
        (
            {"accountId": "{customer}", "rewardId": "{reward}", "metadata": {"a": ["\x00"]}},
            "VALIDATION_ERROR",
        ),
        ({"accountId": "{customer}", "rewardId": "{reward}", "metadata": {"\x00": 1}}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}\x00", "rewardId": "{reward}"}, "VALIDATION_ERROR"),
        ({"accountId": "{customer}", "rewardId": "{reward}", "relatedOrderId": "o\x00"}, "VALIDATION_ERROR"),
        (
            {"accountId": "{customer}", "rewardId": "{reward}", "relatedOrderId": "x" * 101},
            "VALIDATION_ERROR",
        ),
        ({"accountId": 12, "rewardId": "{reward}"}, "VALIDATION_ERROR"),
        ({"accountId": "no-such-account", "rewardId": "{reward}"}, "ACCOUNT_NOT_FOUND"),
        ({"accountId": "{stranger}", "rewardId": "{reward}"}, "ACCOUNT_NOT_FOUND"),
        ({"accountId": "{customer}", "rewardId": "{foreign_reward}"}, "REWARD_NOT_FOUND"),
        (["not", "an", "object"], "VALIDATION_ERROR"),
    ],
)
def test_a_bad_request_is_400_in_the_standards_shape_and_writes_nothing(api, customer, reward, body, code):
    stranger = CustomerFactory.create(points=500)
    foreign_reward = RewardFactory.create(company=stranger.company)
    ids = {
        "customer": customer.pk,
        "reward": reward.pk,
        "stranger": stranger.pk,
        "foreign_reward": foreign_reward.pk,
    }
    if isinstance(body, dict):
        body = {k: v.format(**ids) if isinstance(v, str) else v for k, v in body.items()}
    response, answer = redeem(api, body)
    assert response.status_code == 400, answer
    assert answer["code"] == code
    assert OdRedemption.objects.count() == 0


def test_malformed_json_and_a_bad_idempotency_key_are_400(api, customer, reward):
    response = api.client.post(PATH, b"{not json", content_type="application/json")
    assert od_validate_response(response, "post", PATH)["code"]
    assert response.status_code == 400
    response, answer = redeem(
        api, {"accountId": customer.pk, "rewardId": reward.pk}, **{"Idempotency-Key": "a b"}
    )
    assert (response.status_code, answer["code"]) == (400, "INVALID_IDEMPOTENCY_KEY")
    assert OdRedemption.objects.count() == 0


def test_without_a_valid_token_it_is_401(customer, reward):
    for api in (OdApi(None), OdApi("not-a-token")):
        response, answer = redeem(api, {"accountId": customer.pk, "rewardId": reward.pk})
        assert response.status_code == 401, answer
    assert OdRedemption.objects.count() == 0


def test_what_the_account_cannot_have_is_409_with_the_reason(api, customer, od_company):
    dear = RewardFactory.create(company=od_company, points_required=501)
    sold_out = RewardFactory.create(company=od_company, points_required=1, quantity_available=0)
    for reward, code in ((dear, "INSUFFICIENT_POINTS"), (sold_out, "REWARD_UNAVAILABLE")):
        response, answer = redeem(api, {"accountId": customer.pk, "rewardId": reward.pk})
        assert (response.status_code, answer["code"]) == (409, code), answer
        assert answer["message"]
    assert OdRedemption.objects.count() == 0


def test_a_retry_answers_the_same_correlation_id_and_redeems_nothing_new(api, customer, reward):
    by_key = {"accountId": customer.pk, "rewardId": reward.pk}
    first, body = redeem(api, by_key, **{"Idempotency-Key": "retry-7"})
    od_redemptions_process_due()
    again, replay = redeem(api, by_key, **{"Idempotency-Key": "retry-7"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert replay == body
    other, answer = redeem(api, {**by_key, "relatedOrderId": "o-2"}, **{"Idempotency-Key": "retry-7"})
    assert (other.status_code, answer["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")

    by_order = {**by_key, "relatedOrderId": "order-1"}
    assert redeem(api, by_order)[1] == redeem(api, by_order)[1]
    assert OdRedemption.objects.count() == 2
    od_redemptions_process_due()
    assert Coupon.objects.count() == 2
    call_command("ledger_check")


def test_a_by_app_client_redeems_for_the_merchant_it_names_only(od_api, od_client_by_app, od_app_companies):
    _, second = od_app_companies
    mine = CustomerFactory.create(company=second, points=100)
    reward = RewardFactory.create(company=second, points_required=100)
    response, answer = redeem(
        od_api(od_client_by_app, MERCHANT_B), {"accountId": mine.pk, "rewardId": reward.pk}
    )
    assert response.status_code == 202, answer
    response, answer = redeem(od_api(od_client_by_app), {"accountId": mine.pk, "rewardId": reward.pk})
    assert (response.status_code, answer["code"]) == (400, "ACCOUNT_NOT_FOUND"), (
        "merchant A has no such account"
    )
    assert OdRedemption.objects.get().company_id == second.pk


def test_the_manifest_declares_both_operations_as_served():
    manifest = OdApi(None).get("/.well-known/opendelivery").json()
    customer = manifest["capabilities"]["customer"]
    assert {"createLoyaltyRedemption", "useLoyaltyCoupon"} <= set(customer["supportedOperations"])
    assert not {"createLoyaltyRedemption", "useLoyaltyCoupon"} & set(customer["unsupportedOperations"])


def test_the_issued_coupon_is_in_listLoyaltyCoupons(api, customer, reward):
    _, body = redeem(api, {"accountId": customer.pk, "rewardId": reward.pk})
    od_redemptions_process_due()
    coupon = OdRedemption.objects.get(pk=body["correlationId"]).coupon
    assert coupon is not None
    listing = api.get("/v2/loyalty/coupons", {"customerId": customer.pk})
    items = od_validate_response(listing, "get", "/v2/loyalty/coupons")["items"]
    assert [(item["id"], item["status"], item["metadata"]["rewardId"]) for item in items] == [
        (coupon.pk, "available", reward.pk)
    ]
