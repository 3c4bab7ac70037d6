"""Real threads against the real PostgreSQL: the row lock decides, not Python."""

import pytest

from coupons.models import Coupon, CouponStatus, CouponUse
from tests.conftest import Api, run_together
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, make_key

pytestmark = pytest.mark.django_db(transaction=True)


def _validate_from_many_tills(coupon: Coupon, tills: int) -> list[int]:
    key = make_key(coupon.company)
    url = f"/api/v2/customers/{coupon.customer_id}/coupons/{coupon.pk}/validate/"
    results = run_together(tills, lambda: Api(key).post(url).status_code)
    assert all(isinstance(status, int) for status in results), results
    return sorted(results)


def test_only_one_of_twenty_concurrent_validates_of_a_single_use_coupon_wins():
    coupon = CouponFactory.create(customer=CustomerFactory.create(company=CompanyFactory.create()))
    assert _validate_from_many_tills(coupon, 20) == [200] + [409] * 19
    coupon.refresh_from_db()
    assert (coupon.status, coupon.remaining_usages) == (CouponStatus.USED, 0)
    assert CouponUse.objects.filter(coupon=coupon).count() == 1


def test_exactly_three_of_twenty_concurrent_validates_of_a_three_use_coupon_win():
    coupon = CouponFactory.create(reward__total_usages_allowed=3)
    assert _validate_from_many_tills(coupon, 20) == [200] * 3 + [409] * 17
    coupon.refresh_from_db()
    assert (coupon.status, coupon.remaining_usages) == (CouponStatus.USED, 0)
    assert sorted(CouponUse.objects.filter(coupon=coupon).values_list("remaining_after", flat=True)) == [
        0,
        1,
        2,
    ]
