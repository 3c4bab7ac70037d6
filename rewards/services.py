"""Redemption: turning a customer's points (and optionally Z$) into a coupon."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from coupons.models import Coupon, CouponStatus
from coupons.services import coupon_event_data, coupon_issue
from customers.models import Currency, Customer, EntryKind
from customers.services import Movement, ledger_post
from otp.services import otp_session_check
from rewards.models import Reward
from webhooks.services import webhook_emit
from zupy.db import one_or_none
from zupy.errors import (
    AlreadyRedeemed,
    InsufficientPoints,
    InsufficientZBalance,
    NotFound,
    RewardUnavailable,
    ZGapTooLarge,
)
from zupy.ids import is_ksuid
from zupy.models import ApiKey, Company
from zupy.money import Z_MICRO, exceeds_share, times, z_format


def redemption_price(
    *, cost: int, points_balance: int, z_balance: int, use_z_tokens: bool
) -> tuple[int, int]:
    """(points_used, z_tokens_used in micro-Z$) for a reward of ``cost`` points, by the contract's
    Z$ rules (``z_balance`` in micro-Z$ too).

    Points go first. With ``use_z_tokens`` the remaining gap is paid at 1 point = 1 Z$ plus
    ZUPY_Z_MARKUP, and only if the gap is at most ZUPY_Z_MAX_COVER of the cost. Both are computed
    exactly in integers; the Z$ price is rounded half to even to the micro-Z$ (with a markup of at
    most 6 places, as the default 0.20, nothing is ever rounded).
    Worked example: cost 500, balance 450, Z$ 1150 -> (450, 60.000000).
    """
    if points_balance >= cost:
        return cost, 0
    if not use_z_tokens:
        raise InsufficientPoints(f"The reward costs {cost} points; the customer has {points_balance}.")
    gap = cost - points_balance
    if exceeds_share(gap, cost, settings.ZUPY_Z_MAX_COVER):
        cap = cost * settings.ZUPY_Z_MAX_COVER
        raise ZGapTooLarge(
            f"The gap of {gap} points is more than Z$ may cover for this reward ({cap:f} points)."
        )
    z_needed = times(gap * Z_MICRO, 1 + settings.ZUPY_Z_MARKUP)
    if z_balance < z_needed:
        raise InsufficientZBalance(
            f"Covering the gap needs {z_format(z_needed)} Z$; the customer has {z_format(z_balance)}."
        )
    return points_balance, z_needed


@dataclass(frozen=True)
class Redemption:
    coupon: Coupon
    customer: Customer
    points_used: int
    z_tokens_used: int  # micro-Z$
    use_z_tokens: bool


def reward_redeem(
    *,
    company: Company,
    customer_id: str,
    reward_id: str,
    use_z_tokens: bool,
    api_key: ApiKey | None,
    otp_session: str | None = None,
) -> Redemption:
    """Redeem a reward for a customer: check, take stock, debit, write the ledger, issue the coupon.

    Locks the Customer row first (so that two redemptions by one customer serialise and the second
    sees the first's debit and coupon), then the Reward row (so that stock is taken exactly once).
    Every writer that takes both locks takes them in this order.
    """
    otp_session_check(company=company, customer_id=customer_id, action="redemption", token=otp_session)
    now = timezone.now()
    if not (is_ksuid(customer_id) and is_ksuid(reward_id)):
        raise NotFound("Customer or reward not found.")
    with transaction.atomic():
        customer = one_or_none(Customer.objects.select_for_update().filter(company=company, pk=customer_id))
        if customer is None:
            raise NotFound("Customer not found.")
        reward = one_or_none(Reward.objects.select_for_update().filter(company=company, pk=reward_id))
        if reward is None:
            raise NotFound("Reward not found.")
        if not reward.is_available(now):
            raise RewardUnavailable()
        limit = reward.redemption_limit
        if limit is not None:
            taken = (
                Coupon.objects.filter(customer=customer, reward=reward)
                .exclude(status=CouponStatus.CANCELLED)
                .count()
            )
            if taken >= limit:
                raise AlreadyRedeemed()
        points_used, z_used = redemption_price(
            cost=reward.points_required,
            points_balance=customer.points_balance,
            z_balance=customer.z_balance,
            use_z_tokens=use_z_tokens,
        )
        # NULL - 1 stays NULL: unlimited stock stays unlimited.
        Reward.objects.filter(pk=reward.pk).update(
            quantity_redeemed=F("quantity_redeemed") + 1, quantity_available=F("quantity_available") - 1
        )
        coupon = coupon_issue(
            customer=customer, reward=reward, points_spent=points_used, z_tokens_spent=z_used, now=now
        )
        ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, -points_used, EntryKind.REDEEM),
                Movement(Currency.Z, -z_used, EntryKind.REDEEM),
            ],
            reason=f"Redeemed {reward.name}: {coupon.code}",
            coupon_id=coupon.pk,
            api_key=api_key,
        )
        webhook_emit(
            company_id=company.pk,
            event="reward.redeemed",
            data=coupon_event_data(coupon, points_used=points_used, z_tokens_used=z_format(z_used)),
        )
        if points_used:
            webhook_emit(
                company_id=company.pk,
                event="points.spent",
                data={
                    "customer_id": customer.pk,
                    "amount": points_used,
                    "balance_after": customer.points_balance,
                    "coupon_id": coupon.pk,
                },
            )
    return Redemption(
        coupon=coupon,
        customer=customer,
        points_used=points_used,
        z_tokens_used=z_used,
        use_z_tokens=use_z_tokens,
    )
