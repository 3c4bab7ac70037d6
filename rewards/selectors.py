from datetime import datetime
from typing import Any

from django.db.models import Expression, F, IntegerField, Q, QuerySet, Value

from companies.models import Company
from core.db import one_or_none
from core.errors import NotFound
from core.ids import is_ksuid
from customers.models import Customer
from rewards.models import Reward


def available_q(now: datetime) -> Q:
    """The queryset form of ``Reward.is_available``."""
    return (
        Q(is_active=True)
        & (Q(start_date__isnull=True) | Q(start_date__lte=now))
        & (Q(end_date__isnull=True) | Q(end_date__gt=now))
        & (Q(quantity_available__isnull=True) | Q(quantity_available__gt=0))
    )


def reward_catalog(
    *,
    company: Company,
    now: datetime,
    coupons_taken_count: Expression | None = None,
    redeemable_by: Customer | None = None,
    columns: tuple[str, ...] | None = None,
) -> QuerySet[Reward, Any]:
    """The company's rewards, each annotated with ``coupons_taken_count``: the given expression over the
    reward row, counting one customer's coupons of it, or 0 without one. The count is the coupons
    app's rule (``coupons.selectors.coupons_taken_count``), handed in by the caller because rewards/
    depends on nothing in coupons/ (coupons depend on rewards).

    ``redeemable_by`` keeps what that customer (the one counted) can afford with points now and may
    still redeem under the reward's ``redemption_limit``.

    With ``columns``, the rewards come as rows of those columns (``values_list(named=True)``), not as
    instances: what a list renders with ``FastOutput.render_rows``.
    """
    qs = Reward.objects.filter(company=company).annotate(
        coupons_taken_count=Value(0, output_field=IntegerField())
        if coupons_taken_count is None
        else coupons_taken_count
    )
    if redeemable_by is not None:
        under_limit = Q(redemption_limit__isnull=True) | Q(coupons_taken_count__lt=F("redemption_limit"))
        qs = qs.filter(available_q(now), under_limit, points_required__lte=redeemable_by.points_balance)
    return qs if columns is None else qs.values_list(*columns, named=True)


def reward_get(
    *, company: Company, now: datetime, reward_id: str, coupons_taken_count: Expression | None = None
) -> Reward:
    """One reward of the catalog (annotated as there), or 404: another company's does not exist."""
    reward: Reward | None = (
        one_or_none(
            reward_catalog(company=company, now=now, coupons_taken_count=coupons_taken_count).filter(
                pk=reward_id
            )
        )
        if is_ksuid(reward_id)
        else None
    )
    if reward is None:
        raise NotFound("Reward not found.")
    return reward
