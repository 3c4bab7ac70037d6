from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from coupons.models import CouponStatus, CouponUse
from coupons.services import coupon_cancel
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, make_key

pytestmark = pytest.mark.django_db


def test_validate_by_id_uses_the_coupon(api, customer):
    coupon = CouponFactory.create(customer=customer)

    response = api.validate(customer.pk, coupon.pk)

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["coupon_code"] == coupon.code
    assert data["status"] == "validated"
    assert (data["remaining_usages"], data["total_usages_allowed"]) == (0, 1)
    assert data["validated_at"].endswith("Z")
    assert data["customer_id"] == customer.pk
    assert data["new_balance"] == 1000
    assert data["new_z_balance"] == "0.000000"
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.USED
    assert coupon.usage_date is not None
    use = CouponUse.objects.get(coupon=coupon)
    assert use.api_key is not None and use.api_key.company_id == customer.company_id
    assert use.remaining_after == 0


@pytest.mark.parametrize("transform", [str, str.lower, lambda code: f" {code.lower()} "])
def test_validate_by_code_in_any_case(api, customer, transform):
    coupon = CouponFactory.create(customer=customer)
    response = api.validate(customer.pk, transform(coupon.code).strip() or coupon.code)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["coupon_code"] == coupon.code


@pytest.mark.parametrize(
    "typed",
    ["ABCD2345", "abcd2345", "CZ ABCD2345", "cz-abcd 2345", "ABCD-2345", "ABCD 2345", " CZ-ABCD2345 ",
     "CZABCD2345", "Cz-aBcD-2345"],
)  # fmt: skip
def test_validate_by_code_as_a_till_types_it(api, customer, typed):
    CouponFactory.create(customer=customer, code="CZ-ABCD2345")
    response = api.validate(customer.pk, quote(typed))  # a space goes out as %20
    assert response.status_code == 200, response.content
    assert response.json()["data"]["coupon_code"] == "CZ-ABCD2345"


def test_a_code_that_begins_with_cz_is_not_guessed_without_its_prefix(api, customer):
    """CZABCDEF: the code CZ-CZABCDEF without its prefix, or CZ- and 6 characters of another? Refused."""
    coupon = CouponFactory.create(customer=customer, code="CZ-CZABCDEF", reward__total_usages_allowed=9)
    for typed in ("CZABCDEF", "CZ-ABCDEF", "cz abcdef"):
        body = assert_problem(api.validate(customer.pk, quote(typed)), 404, "not-found")
        assert "unless the 8 characters themselves begin with CZ" in body["detail"]
    for typed in ("CZ-CZABCDEF", "CZCZABCDEF", "cz cz-abcdef"):
        assert api.validate(customer.pk, quote(typed)).status_code == 200
    coupon.refresh_from_db()
    assert coupon.remaining_usages == 6


@pytest.mark.parametrize("ref", ["nope", "CZ-0000000O", "CZ-ABCD234", "CZ-ABCDEFGHJ", "ABCDEFGHJ"])
def test_a_ref_that_is_neither_id_nor_code_is_a_404_that_says_what_is_expected(api, customer, ref):
    body = assert_problem(api.validate(customer.pk, ref), 404, "not-found")
    assert body["detail"].startswith(f'"{ref}" is neither a coupon id nor a coupon code.')
    assert "CZ- and 8 of 23456789ABCDEFGHJKMNPQRSTUVWXYZ" in body["detail"]
    # A well-formed code that none of the customer's coupons has is the plain 404.
    body = assert_problem(api.validate(customer.pk, "CZ-ZZZZZZZZ"), 404, "not-found")
    assert body["detail"] == "Coupon not found for this customer."


def test_multi_use_coupon_counts_down_then_is_used(api, customer):
    coupon = CouponFactory.create(customer=customer, reward__total_usages_allowed=3)
    seen = []
    for _ in range(3):
        data = api.validate(customer.pk, coupon.pk).json()["data"]
        coupon.refresh_from_db()
        seen.append((data["remaining_usages"], coupon.status))
    assert seen == [(2, "active"), (1, "active"), (0, "used")]
    assert_problem(api.validate(customer.pk, coupon.pk), 409, "conflict", "coupon_used")
    assert CouponUse.objects.filter(coupon=coupon).count() == 3


def test_used_coupon_is_409_coupon_used(api, customer):
    coupon = CouponFactory.create(customer=customer)
    assert api.validate(customer.pk, coupon.code).status_code == 200
    assert_problem(api.validate(customer.pk, coupon.code), 409, "conflict", "coupon_used")


def test_expired_coupon_is_409_and_stored_as_expired(api, customer):
    coupon = CouponFactory.create(customer=customer, valid_until=timezone.now() - timedelta(seconds=1))
    assert coupon.status == CouponStatus.ACTIVE
    assert_problem(api.validate(customer.pk, coupon.pk), 409, "conflict", "coupon_expired")
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.EXPIRED
    assert coupon.remaining_usages == 1
    assert not CouponUse.objects.exists()
    assert_problem(api.validate(customer.pk, coupon.pk), 409, "conflict", "coupon_expired")


def test_cancelled_coupon_is_409_coupon_cancelled(api, customer):
    coupon = CouponFactory.create(customer=customer)
    coupon_cancel(coupon_id=coupon.pk)
    assert_problem(api.validate(customer.pk, coupon.pk), 409, "conflict", "coupon_cancelled")


def test_another_customers_coupon_is_404(api, customer):
    neighbour = CustomerFactory.create(company=customer.company)
    coupon = CouponFactory.create(customer=neighbour)
    assert_problem(api.validate(customer.pk, coupon.pk), 404, "not-found")
    assert_problem(api.validate(customer.pk, coupon.code), 404, "not-found")
    coupon.refresh_from_db()
    assert coupon.remaining_usages == 1


def test_another_companys_coupon_is_404(api):
    coupon = CouponFactory.create()
    assert_problem(api.validate(coupon.customer_id, coupon.pk), 404, "not-found")
    assert_problem(api.validate(coupon.customer_id, coupon.code), 404, "not-found")


@pytest.mark.parametrize("ref", ["nope", "CZ-0000000O", "CZ-", "x" * 27, "CZ-ABCDEFGHJ"])
def test_malformed_or_unknown_ref_is_404(api, customer, ref):
    assert_problem(api.validate(customer.pk, ref), 404, "not-found")


def test_read_only_key_cannot_validate(customer):
    coupon = CouponFactory.create(customer=customer)
    reader = Api(make_key(customer.company, read_only=True))
    assert_problem(reader.validate(customer.pk, coupon.pk), 403, "permission-denied")
    coupon.refresh_from_db()
    assert coupon.remaining_usages == 1


def test_validate_ignores_a_body(api, customer):
    coupon = CouponFactory.create(customer=customer)
    url = f"/api/v2/customers/{customer.pk}/coupons/{coupon.pk}/validate/"
    assert api.post(url, {"anything": 1}).status_code == 200
