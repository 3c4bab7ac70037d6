from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet

from coupons.models import CODE_RE, Coupon, CouponStatus
from zupy.ids import is_ksuid
from zupy.models import Company


def coupon_by_ref(*, company: Company, customer_id: str, ref: str) -> QuerySet[Coupon]:
    """The coupon named by ``ref`` (its KSUID, or its code in any case) if it is this customer's."""
    if not is_ksuid(customer_id):
        return Coupon.objects.none()
    qs = Coupon.objects.filter(company=company, customer_id=customer_id)
    code = ref.strip().upper()
    if CODE_RE.match(code):
        return qs.filter(code=code)
    if is_ksuid(ref):
        return qs.filter(pk=ref)
    return qs.none()


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
) -> QuerySet[Coupon]:
    qs = Coupon.objects.filter(company=company)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if reward_id:
        qs = qs.filter(reward_id=reward_id)
    if code:
        qs = qs.filter(code=code.strip().upper())
    if status:
        qs = qs.filter(status_q(status, now))
    return qs.select_related("reward", "customer").only(
        "id",
        "code",
        "status",
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
    counts = queryset.aggregate(
        total=Count("id"),
        **{status.value: Count("id", filter=status_q(status, now)) for status in CouponStatus},
    )
    total = counts.pop("total")
    used = counts[CouponStatus.USED]
    return {
        "total_issued": total,
        "used": used,
        "usage_rate": round(used / total * 100, 2) if total else 0.0,
        "by_status": counts,
        # Every coupon here comes from a points redemption; marketing claims are not in scope.
        "by_origin": {"loyalty_reward": total, "marketing": 0},
    }
