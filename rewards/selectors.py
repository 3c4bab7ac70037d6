from datetime import datetime

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from coupons.models import Coupon, CouponStatus
from customers.models import Customer
from rewards.models import Reward
from zupy.models import Company


def available_q(now: datetime) -> Q:
    """The queryset form of ``Reward.is_available``."""
    return (
        Q(is_active=True)
        & (Q(start_date__isnull=True) | Q(start_date__lte=now))
        & (Q(end_date__isnull=True) | Q(end_date__gt=now))
        & (Q(quantity_available__isnull=True) | Q(quantity_available__gt=0))
    )


def reward_catalog(
    *, company: Company, now: datetime, customer: Customer | None = None, redeemable: bool = False
) -> QuerySet[Reward]:
    """The company's rewards, each annotated with ``redeemed_count`` for ``customer`` (0 without one).

    ``redeemable`` keeps what the customer can afford with points now and may still redeem.
    """
    qs = Reward.objects.filter(company=company)
    if customer is None:
        return qs.annotate(redeemed_count=Value(0, output_field=IntegerField()))
    taken = (
        Coupon.objects.filter(customer=customer, reward=OuterRef("pk"))
        .exclude(status=CouponStatus.CANCELLED)
        .values("reward")
        .annotate(n=Count("id"))
        .values("n")
    )
    qs = qs.annotate(redeemed_count=Coalesce(Subquery(taken, output_field=IntegerField()), 0))
    if redeemable:
        under_limit = (
            Q(
                max_redemptions_per_customer__isnull=False,
                redeemed_count__lt=F("max_redemptions_per_customer"),
            )
            | Q(max_redemptions_per_customer__isnull=True, points_required__gt=0)
            | Q(max_redemptions_per_customer__isnull=True, points_required=0, redeemed_count=0)
        )
        qs = qs.filter(available_q(now), under_limit, points_required__lte=customer.points_balance)
    return qs
