"""Redemptions at once, each in its own connection: funds for N give exactly N accepted and N
coupons, the rest 409 at acceptance; the same request sent at once is one redemption; two workers
at once issue each redemption once."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command

from core.errors import DomainError
from coupons.models import Coupon
from opendelivery.models import OdRedemption, RedemptionStatus
from opendelivery.redemptions import od_redemption_request, od_redemptions_process_due
from tests.conftest import run_together
from tests.factories import CustomerFactory, RewardFactory
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import OdApi, make_od_token
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/v2/loyalty/redemptions"


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except DomainError as exc:
        return f"{exc.status} {str(exc.code).lower()}"
    return "202"


def test_ten_at_once_with_funds_for_three_accept_three_and_issue_three_coupons():
    customer = CustomerFactory.create(points=600)
    reward = RewardFactory.create(company=customer.company, points_required=200)
    client = od_client_of(customer.company)

    def redeem() -> str:
        return outcome(
            lambda: od_redemption_request(
                client=client, company=customer.company, account_id=customer.pk, reward_id=reward.pk
            )
        )

    assert sorted(run_together(10, redeem)) == ["202"] * 3 + ["409 insufficient_points"] * 7
    assert sum(run_together(2, od_redemptions_process_due)) == 3, "two workers, each redemption once"
    assert Coupon.objects.filter(customer=customer).count() == 3
    assert OdRedemption.objects.filter(status=RedemptionStatus.ISSUED).count() == 3
    customer.refresh_from_db()
    assert customer.points_balance == 0
    call_command("ledger_check")


def test_the_same_request_ten_times_at_once_is_one_redemption():
    customer = CustomerFactory.create(points=1000)
    reward = RewardFactory.create(company=customer.company, points_required=100)
    client = od_client_of(customer.company)

    def redeem(key: str | None, order: str) -> str:
        accepted = od_redemption_request(
            client=client,
            company=customer.company,
            account_id=customer.pk,
            reward_id=reward.pk,
            idempotency_key=key,
            related_order_id=order,
        )
        return str(accepted.pk)

    assert len(set(run_together(10, lambda: redeem("retry-1", "")))) == 1
    assert len(set(run_together(10, lambda: redeem(None, "order-1")))) == 1
    assert OdRedemption.objects.count() == 2
    od_redemptions_process_due()
    assert Coupon.objects.count() == 2
    call_command("ledger_check")


def test_over_http_twelve_at_once_with_funds_for_four_give_four_coupons(od_company, od_client_by_merchant):
    customer = CustomerFactory.create(company=od_company, points=800)
    reward = RewardFactory.create(company=od_company, points_required=200)
    token = make_od_token(od_client_by_merchant)

    def redeem() -> Any:
        return OdApi(token).post(PATH, {"accountId": customer.pk, "rewardId": reward.pk})

    answers = run_together(12, redeem)
    for answer in answers:
        od_validate_response(answer, "post", PATH)
    assert sorted(a.status_code for a in answers) == [202] * 4 + [409] * 8
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"INSUFFICIENT_POINTS"}
    assert len({a.json()["correlationId"] for a in answers if a.status_code == 202}) == 4
    od_redemptions_process_due()
    assert Coupon.objects.filter(customer=customer).count() == 4
    customer.refresh_from_db()
    assert customer.points_balance == 0
    call_command("ledger_check")


def test_over_http_the_same_idempotency_key_at_once_is_one_correlation_id(od_company, od_client_by_merchant):
    customer = CustomerFactory.create(company=od_company, points=800)
    reward = RewardFactory.create(company=od_company, points_required=200)
    token = make_od_token(od_client_by_merchant)

    def redeem() -> Any:
        body = {"accountId": customer.pk, "rewardId": reward.pk}
        return OdApi(token).post(PATH, body, HTTP_IDEMPOTENCY_KEY="once")

    answers = run_together(8, redeem)
    for answer in answers:
        od_validate_response(answer, "post", PATH)
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["correlationId"] for a in answers}) == 1
    assert OdRedemption.objects.count() == 1
