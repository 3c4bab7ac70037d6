import re

import pytest
from django.contrib.auth.models import User

from coupons.models import CouponStatus
from customers.models import EntryKind, LedgerEntry
from customers.selectors import ledger_mismatches
from tests.conftest import Api
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from zupy.models import ApiKey, Company
from zupy.money import z_format

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_requires_staff_login(client):
    response = client.get("/admin/coupons/coupon/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "path",
    ["/admin/zupy/company/", "/admin/zupy/apikey/", "/admin/customers/customer/", "/admin/rewards/reward/",
     "/admin/coupons/coupon/", "/admin/customers/ledgerentry/", "/admin/zupy/apikey/add/"],
)  # fmt: skip
def test_admin_pages_render(admin_client, path):
    CouponFactory()
    assert admin_client.get(path).status_code == 200


def test_admin_shows_a_new_key_once_and_stores_its_digest(admin_client):
    company = CompanyFactory()
    response = admin_client.post(
        "/admin/zupy/apikey/add/", {"company": company.pk, "name": "till 1", "read_only": ""}, follow=True
    )
    assert response.status_code == 200
    raw = re.search(r"zupy_pk_[A-Za-z0-9]{32}", response.content.decode()).group(0)
    key = ApiKey.objects.get(company=company)
    assert key.matches(raw)
    assert Api(raw).get("/api/v2/rewards/").status_code == 200
    listing = admin_client.get("/admin/zupy/apikey/").content.decode()
    assert raw not in listing and key.prefix in listing


def test_admin_company_preset_sets_the_otp_flags(admin_client):
    company = CompanyFactory()
    data = {"name": company.name, "rate_tier": "enterprise", "otp_preset": "strict"}
    response = admin_client.post(f"/admin/zupy/company/{company.pk}/change/", data)
    assert response.status_code == 302, response.content
    company = Company.objects.get(pk=company.pk)
    assert (company.otp_preset, company.rate_tier) == ("strict", "enterprise")


def test_admin_adjusts_balances_through_the_ledger(admin_client):
    customer = CustomerFactory(points=100)
    data = {
        "company": customer.company_id, "full_name": customer.full_name, "phone": customer.phone,
        "email": customer.email, "cpf": "", "tier": "default", "is_active": "on",
        "points_adjustment": "-40", "z_adjustment": "12.5", "adjustment_reason": "goodwill",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    customer.refresh_from_db()
    assert (customer.points_balance, z_format(customer.z_balance)) == (60, "12.500000")
    adjustments = LedgerEntry.objects.filter(
        customer=customer, kind=EntryKind.ADJUST, reason__contains="goodwill"
    )
    assert adjustments.count() == 2
    assert ledger_mismatches() == []


def test_admin_refuses_an_adjustment_without_reason(admin_client):
    customer = CustomerFactory(points=100)
    data = {"company": customer.company_id, "full_name": "x", "tier": "default", "points_adjustment": "5",
            "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0"}  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 200  # the form again, with its error
    customer.refresh_from_db()
    assert customer.points_balance == 100


def test_admin_cancel_and_refund_action(admin_client):
    customer = CustomerFactory(points=1000)
    api = Api(make_key(customer.company))
    reward = RewardFactory(company=customer.company, points_required=300)
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    response = admin_client.post(
        "/admin/coupons/coupon/",
        {"action": "cancel_and_refund", "_selected_action": [coupon_id]},
        follow=True,
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.points_balance == 1000
    assert customer.coupons.get().status == CouponStatus.CANCELLED
    assert ledger_mismatches() == []


def test_admin_ledger_and_coupons_are_read_only(admin_client):
    coupon = CouponFactory()
    assert admin_client.get("/admin/customers/ledgerentry/add/").status_code == 403
    response = admin_client.post(f"/admin/coupons/coupon/{coupon.pk}/change/", {"status": "used"})
    assert response.status_code == 403
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ACTIVE
