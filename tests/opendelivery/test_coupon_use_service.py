"""``useLoyaltyCoupon``'s service: ``coupon_validate`` by the coupon's id or code, idempotent by
(coupon, relatedOrderId)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from coupons.models import CouponStatus, CouponUse
from opendelivery.errors import CouponNotFound
from opendelivery.models import OdCouponUse
from opendelivery.redemptions import od_coupon_use
from tests.factories import CouponFactory, CustomerFactory, RewardFactory
from tests.opendelivery.redeem_rows import od_client_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def coupon():
    return CouponFactory.create()


@pytest.fixture
def client(coupon):
    return od_client_of(coupon.company)


def use(client, coupon_ref, order=""):
    return od_coupon_use(client=client, company=client.company, coupon_ref=coupon_ref, related_order_id=order)


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return f"{caught.value.status} {str(caught.value.code).lower()}"


def test_a_use_for_an_order_is_recorded_and_the_same_order_again_changes_nothing(client, coupon):
    assert use(client, coupon.pk, "order-1").used_now
    coupon.refresh_from_db()
    assert (coupon.status, coupon.remaining_usages) == (CouponStatus.USED, 0)
    assert OdCouponUse.objects.get(coupon=coupon).related_order_id == "order-1"

    again = use(client, coupon.pk, "order-1")
    assert (again.coupon_id, again.used_now) == (coupon.pk, False)
    assert CouponUse.objects.filter(coupon=coupon).count() == 1
    assert refusal(lambda: use(client, coupon.pk, "order-2")) == "409 coupon_used"
    assert refusal(lambda: use(client, coupon.pk)) == "409 coupon_used"


def test_the_code_in_any_case_names_the_coupon(client, coupon):
    assert use(client, coupon.code.lower()).coupon_id == coupon.pk


def test_a_multi_use_coupon_is_used_once_per_order(client):
    reward = RewardFactory.create(company=client.company, total_usages_allowed=3)
    coupon = CouponFactory.create(reward=reward, customer=CustomerFactory.create(company=client.company))
    use(client, coupon.pk, "a")
    use(client, coupon.pk, "a")
    use(client, coupon.pk, "b")
    coupon.refresh_from_db()
    assert coupon.remaining_usages == 1


def test_expired_cancelled_unknown_and_foreign_coupons_are_refused(client, coupon):
    company = client.company
    expired = CouponFactory.create(
        customer=coupon.customer, reward=coupon.reward, valid_until=timezone.now() - timedelta(days=1)
    )
    cancelled = CouponFactory.create(
        customer=coupon.customer, reward=coupon.reward, status=CouponStatus.CANCELLED
    )
    foreign = CouponFactory.create()
    assert refusal(lambda: use(client, expired.pk, "o")) == "409 coupon_expired"
    expired.refresh_from_db()
    assert expired.status == CouponStatus.EXPIRED, "stored as expired although refused"
    assert refusal(lambda: use(client, cancelled.pk, "o")) == "409 coupon_cancelled"
    for ref in (foreign.pk, foreign.code, "CZ-ZZZZZZZZ", "nonsense"):
        with pytest.raises(CouponNotFound):
            use(client, ref)
    assert company.pk != foreign.company_id
    assert OdCouponUse.objects.count() == 0


def test_a_company_that_asks_otp_for_coupon_use_refuses_it_with_409(client, coupon):
    company = coupon.company
    company.require_otp_for_coupon_usage, company.trust_partner_validation = True, False
    company.save()
    assert refusal(lambda: use(client, coupon.pk, "o")) == "409 otp_required"
    assert OdCouponUse.objects.count() == 0
