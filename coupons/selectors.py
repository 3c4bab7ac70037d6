from datetime import datetime
from typing import Any

from django.db.models import Count, Expression, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from companies.models import Company
from core.ids import is_ksuid
from coupons.models import Coupon, CouponStatus, code_from_typed
from customers.models import Customer
from rewards.models import OriginType, Reward


def coupon_ref_lookup(*, customer_id: str, ref: str) -> tuple[str, str] | None:
    """How ``ref`` names a coupon: ("id", a KSUID) or ("code", the code as stored, from what a till
    typed: ``code_from_typed``); None when it cannot name one (nor can ``customer_id`` name a
    customer)."""
    if not is_ksuid(customer_id):
        return None
    if is_ksuid(ref):
        return ("id", ref)
    code = code_from_typed(ref)
    return ("code", code) if code else None


def coupon_holder(*, company_id: str, ref: str) -> str | None:
    """The id of the customer holding the company's coupon named by ``ref`` (its id, or its code as
    a till types it: ``code_from_typed``), for a caller that knows the coupon but not its customer;
    None if the company has no such coupon."""
    if is_ksuid(ref):
        found = Coupon.objects.filter(company_id=company_id, pk=ref)
    elif code := code_from_typed(ref):
        found = Coupon.objects.filter(company_id=company_id, code=code)
    else:
        return None
    return found.values_list("customer_id", flat=True).first()


def coupons_taken(*, customer: Customer, reward: Reward | OuterRef) -> QuerySet[Coupon]:
    """The coupons ``customer`` has taken of ``reward``: what counts against the reward's
    per-customer limit. A cancelled coupon gave its redemption back; a used or expired one did not."""
    # Q: the stubs' lookup check knows no OuterRef (the catalog's correlated form of ``reward``).
    return Coupon.objects.filter(Q(reward=reward), customer=customer).exclude(status=CouponStatus.CANCELLED)


def coupons_taken_count(customer: Customer) -> Expression:
    """``coupons_taken`` counted for each row of a Reward query (the catalog's annotation of the same name):
    one correlated subquery, so a page of rewards costs one statement whatever its length."""
    per_reward = (
        coupons_taken(customer=customer, reward=OuterRef("pk"))
        .values("reward")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(per_reward, output_field=IntegerField()), 0)


def status_q(status: str, now: datetime) -> Q:
    """Filter for the status a partner sees: an active coupon past valid_until reads as expired."""
    if status == CouponStatus.ACTIVE:
        return Q(status=CouponStatus.ACTIVE, valid_until__gt=now)
    if status == CouponStatus.EXPIRED:
        return Q(status=CouponStatus.EXPIRED) | Q(status=CouponStatus.ACTIVE, valid_until__lte=now)
    return Q(status=status)


def coupon_list(
    *,
    company: Company,
    now: datetime,
    customer_id: str | None = None,
    status: str | None = None,
    reward_id: str | None = None,
    code: str | None = None,
    origin_type: str | None = None,
    columns: tuple[str, ...] | None = None,
) -> QuerySet[Coupon, Any]:
    """The company's coupons, filtered as the listing's query says; with ``columns``, as rows of those
    columns (``values_list(named=True)``), not instances: what a list renders with
    ``FastOutput.render_rows``."""
    qs = Coupon.objects.filter(company=company)
    if origin_type:
        qs = qs.filter(origin_type=origin_type)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if reward_id:
        qs = qs.filter(reward_id=reward_id)
    if code:
        qs = qs.filter(code=code_from_typed(code) or code.strip().upper())
    if status:
        qs = qs.filter(status_q(status, now))
    if columns is not None:
        return qs.values_list(*columns, named=True)
    return qs.select_related("reward", "customer").only(
        "id",
        "code",
        "status",
        "origin_type",
        "remaining_usages",
        "total_usages_allowed",
        "points_spent",
        "valid_until",
        "usage_date",
        "created_at",
        "reward_id",
        "customer_id",
        "reward__name",
        "customer__full_name",
    )


def coupon_stats(*, queryset: QuerySet[Coupon], now: datetime) -> dict[str, Any]:
    counts = queryset.order_by().aggregate(
        total=Count("id"),
        **{status.value: Count("id", filter=status_q(status, now)) for status in CouponStatus},
        **{f"origin:{o.value}": Count("id", filter=Q(origin_type=o)) for o in OriginType},
    )
    total = counts.pop("total")
    by_origin = {o.value: counts.pop(f"origin:{o.value}") for o in OriginType}
    used = counts[CouponStatus.USED]
    return {
        "total_issued": total,
        "used": used,
        "usage_rate": round(used / total * 100, 2) if total else 0.0,
        "by_status": counts,
        "by_origin": by_origin,
    }
