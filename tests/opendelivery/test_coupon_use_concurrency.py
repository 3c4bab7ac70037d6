"""useLoyaltyCoupon at once, each call in its own connection: the same order ten times uses the
coupon once and answers every call; ten orders for a single-use coupon: one use, nine 409s."""

import pytest

from core.errors import DomainError
from coupons.models import CouponStatus, CouponUse
from opendelivery.models import OdCouponUse
from opendelivery.redemptions import od_coupon_use
from tests.conftest import run_together
from tests.factories import CouponFactory
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_order_ten_times_at_once_uses_the_coupon_once():
    coupon = CouponFactory.create()
    client = od_client_of(coupon.company)

    def use() -> bool:
        return od_coupon_use(
            client=client, company=coupon.company, coupon_ref=coupon.code, related_order_id="order-1"
        ).used_now

    assert sorted(run_together(10, use)) == [False] * 9 + [True]
    assert CouponUse.objects.filter(coupon=coupon).count() == 1
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.USED


def test_ten_orders_at_once_for_a_single_use_coupon_use_it_once():
    coupon = CouponFactory.create()
    client = od_client_of(coupon.company)
    orders = iter(range(10))

    def use() -> str:
        try:
            od_coupon_use(
                client=client,
                company=coupon.company,
                coupon_ref=coupon.pk,
                related_order_id=f"o-{next(orders)}",
            )
        except DomainError as exc:
            return f"{exc.status} {str(exc.code).lower()}"
        return "200"

    assert sorted(run_together(10, use)) == ["200"] + ["409 coupon_used"] * 9
    assert CouponUse.objects.filter(coupon=coupon).count() == 1
    assert OdCouponUse.objects.count() == 1
