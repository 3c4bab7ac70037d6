"""The redemption's services, called as the views and the worker call them: acceptance checks what
``coupon_redeem`` would refuse, against what is already accepted; the worker issues through
``coupon_redeem`` and records the coupon or the refusal; a retry is the same redemption."""

from collections.abc import Callable

import pytest
from django.core.management import call_command

from core.errors import DomainError
from core.events import published
from coupons.models import Coupon
from coupons.services import coupon_redeem
from customers.models import LedgerEntry
from opendelivery.errors import (
    AccountNotFound,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    QuantityNotSupported,
    RewardNotFound,
)
from opendelivery.models import OdRedemption, RedemptionStatus
from opendelivery.redemptions import (
    od_redemption_correlation,
    od_redemption_request,
    od_redemptions_process_due,
)
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db


def request(client, customer, reward, **extra):
    return od_redemption_request(
        client=client, company=customer.company, account_id=customer.pk, reward_id=reward.pk, **extra
    )


def refusal_code(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return f"{caught.value.status} {str(caught.value.code).lower()}"


@pytest.fixture
def customer():
    return CustomerFactory.create(points=500)


@pytest.fixture
def client(customer):
    return od_client_of(customer.company)


def test_an_accepted_redemption_is_issued_by_the_worker_through_coupon_redeem(client, customer):
    reward = RewardFactory.create(company=customer.company, points_required=200)

    accepted = request(client, customer, reward, related_order_id="order-1", metadata={"channel": "app"})
    assert (accepted.status, accepted.coupon_id) == (RedemptionStatus.ACCEPTED, None)
    assert Coupon.objects.count() == 0, "nothing is issued in the request"

    assert od_redemptions_process_due() == 1
    accepted.refresh_from_db()
    coupon = Coupon.objects.get()
    assert (accepted.status, accepted.coupon_id, accepted.attempts) == (RedemptionStatus.ISSUED, coupon.pk, 1)
    assert (accepted.lease, accepted.locked_until) == ("", None)
    assert (coupon.customer_id, coupon.reward_id, coupon.points_spent) == (customer.pk, reward.pk, 200)
    customer.refresh_from_db()
    assert customer.points_balance == 300
    assert od_redemption_correlation(coupon_id=coupon.pk) == accepted.pk
    assert od_redemptions_process_due() == 0, "an issued redemption is never taken again"
    call_command("ledger_check")


def test_unknown_or_foreign_accounts_and_rewards_are_400_naming_the_field(client, customer):
    reward = RewardFactory.create(company=customer.company)
    stranger = CustomerFactory.create(points=500)
    foreign_reward = RewardFactory.create(company=stranger.company)
    for account_id, reward_id, refusal in [
        ("nope", reward.pk, AccountNotFound),
        (stranger.pk, reward.pk, AccountNotFound),
        (customer.pk, "nope", RewardNotFound),
        (customer.pk, foreign_reward.pk, RewardNotFound),
    ]:
        with pytest.raises(refusal) as caught:
            od_redemption_request(
                client=client, company=customer.company, account_id=account_id, reward_id=reward_id
            )
        assert caught.value.status == 400
    with pytest.raises(QuantityNotSupported):
        request(client, customer, reward, quantity=2)
    with pytest.raises(IdempotencyKeyInvalid):
        request(client, customer, reward, idempotency_key="with space")
    assert OdRedemption.objects.count() == 0


def test_what_coupon_redeem_would_refuse_is_409_at_acceptance_with_its_code(client, customer):
    company = customer.company
    dear = RewardFactory.create(company=company, points_required=501)
    inactive = RewardFactory.create(company=company, points_required=1, is_active=False)
    sold_out = RewardFactory.create(company=company, points_required=1, quantity_available=0)
    free = RewardFactory.create(company=company, points_required=0)
    CouponFactory.create(customer=customer, reward=free)

    assert refusal_code(lambda: request(client, customer, dear)) == "409 insufficient_points"
    assert refusal_code(lambda: request(client, customer, inactive)) == "409 reward_unavailable"
    assert refusal_code(lambda: request(client, customer, sold_out)) == "409 reward_unavailable"
    assert refusal_code(lambda: request(client, customer, free)) == "409 already_redeemed"
    assert OdRedemption.objects.count() == 0


def test_a_company_that_asks_otp_for_redemptions_refuses_them_with_409(client, customer):
    company = customer.company
    company.require_otp_for_redemption, company.trust_partner_validation = True, False
    company.save()
    reward = RewardFactory.create(company=company, points_required=1)
    assert refusal_code(lambda: request(client, customer, reward)) == "409 otp_required"


def test_accepted_redemptions_hold_the_points_stock_and_limit_they_will_take(client, customer):
    company = customer.company
    reward = RewardFactory.create(company=company, points_required=200)
    request(client, customer, reward)
    request(client, customer, reward)
    assert refusal_code(lambda: request(client, customer, reward)) == "409 insufficient_points", "100 left"

    once = RewardFactory.create(company=company, points_required=10, max_redemptions_per_customer=1)
    request(client, customer, once)
    assert refusal_code(lambda: request(client, customer, once)) == "409 already_redeemed"

    last = RewardFactory.create(company=company, points_required=1, quantity_available=1)
    other = CustomerFactory.create(company=company, points=10)
    request(client, other, last)
    assert refusal_code(lambda: request(client, customer, last)) == "409 reward_unavailable"

    assert od_redemptions_process_due() == 4
    assert set(OdRedemption.objects.values_list("status", flat=True)) == {RedemptionStatus.ISSUED}
    customer.refresh_from_db()
    assert customer.points_balance == 500 - 400 - 10
    call_command("ledger_check")


def test_a_balance_spent_meanwhile_makes_the_worker_record_the_refusal_and_move_nothing(client, customer):
    reward = RewardFactory.create(company=customer.company, points_required=400)
    accepted = request(client, customer, reward)
    coupon_redeem(
        company=customer.company,
        customer_id=customer.pk,
        reward_id=reward.pk,
        use_z_tokens=False,
        api_key=None,
    )

    od_redemptions_process_due()
    accepted.refresh_from_db()
    assert (accepted.status, accepted.coupon_id) == (RedemptionStatus.REFUSED, None)
    assert accepted.refusal.startswith("insufficient_points: ")
    assert Coupon.objects.count() == 1
    assert LedgerEntry.objects.filter(customer=customer, kind="redeem").count() == 1
    call_command("ledger_check")


def test_a_retry_is_the_same_redemption_by_key_or_by_order(client, customer):
    reward = RewardFactory.create(company=customer.company, points_required=300)
    by_key = request(client, customer, reward, idempotency_key="k-1")
    assert request(client, customer, reward, idempotency_key="k-1").pk == by_key.pk
    od_redemptions_process_due()
    again = request(client, customer, reward, idempotency_key="k-1")
    assert (again.pk, again.status) == (by_key.pk, RedemptionStatus.ISSUED), "not refused: nothing new"
    with pytest.raises(IdempotencyKeyReused):
        request(client, customer, reward, idempotency_key="k-1", related_order_id="order-9")

    cheap = RewardFactory.create(company=customer.company, points_required=100)
    by_order = request(client, customer, cheap, related_order_id="order-2")
    assert request(client, customer, cheap, related_order_id="order-2").pk == by_order.pk
    assert OdRedemption.objects.count() == 2


def test_a_retry_reaches_only_its_own_client_and_company(customer):
    reward = RewardFactory.create(company=customer.company, points_required=100)
    one, two = od_client_of(customer.company, name="One"), od_client_of(customer.company, name="Two")
    first = request(one, customer, reward, idempotency_key="same")
    second = request(two, customer, reward, idempotency_key="same")
    assert first.pk != second.pk
    elsewhere = CustomerFactory.create(company=CompanyFactory.create(), points=100)
    other_reward = RewardFactory.create(company=elsewhere.company, points_required=100)
    assert request(
        od_client_of(elsewhere.company), elsewhere, other_reward, idempotency_key="same"
    ).pk not in {
        first.pk,
        second.pk,
    }


def test_the_reward_redeemed_event_can_name_its_correlation_id_while_it_is_published(client, customer):
    """A subscriber to ``reward.redeemed`` runs inside coupon_redeem, before the coupon is recorded
    on the redemption: it finds the correlationId all the same."""
    reward = RewardFactory.create(company=customer.company, points_required=100)
    accepted = request(client, customer, reward)
    seen: list[object] = []

    def subscriber(*, event: str, data: dict[str, object], **kwargs: object) -> None:
        if event == "reward.redeemed":
            seen.append(od_redemption_correlation(coupon_id=str(data["coupon_id"])))

    published.connect(subscriber)
    try:
        od_redemptions_process_due()
        coupon_redeem(
            company=customer.company,
            customer_id=customer.pk,
            reward_id=reward.pk,
            use_z_tokens=False,
            api_key=None,
        )
    finally:
        published.disconnect(subscriber)
    assert seen == [accepted.pk, None], "a redemption on /api/v2 has none"
