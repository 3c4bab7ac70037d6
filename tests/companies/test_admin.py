import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from companies.models import ApiKey, Company
from core.money import POINTS_BALANCE_MAX, z_format
from coupons.models import Coupon, CouponStatus
from customers.models import Customer, EntryKind, LedgerEntry
from customers.selectors import ledger_mismatches
from tests.conftest import Api
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory, make_key
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Client) -> Client:
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def staff_client(client: Client, *codenames: str) -> Client:
    """A logged-in staff member holding exactly these permissions ("coupons.view_coupon", …)."""
    user = User.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    for name in codenames:
        app_label, codename = name.split(".")
        permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        user.user_permissions.add(permission)
    client.force_login(user)
    return client


def test_admin_requires_staff_login(client):
    response = client.get("/admin/coupons/coupon/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "path",
    ["/admin/companies/company/", "/admin/companies/apikey/", "/admin/customers/customer/",
     "/admin/rewards/reward/", "/admin/coupons/coupon/", "/admin/customers/ledgerentry/",
     "/admin/companies/apikey/add/"],
)  # fmt: skip
def test_admin_pages_render(admin_client, path):
    CouponFactory.create()
    assert admin_client.get(path).status_code == 200


def test_admin_shows_a_new_key_once_and_stores_its_digest(admin_client):
    company = CompanyFactory.create()
    response = admin_client.post(
        "/admin/companies/apikey/add/",
        {"company": company.pk, "name": "till 1", "read_only": "", "response_format": "envelope"},
        follow=True,
    )
    assert response.status_code == 200
    shown = re.search(r"zupy_pk_[A-Za-z0-9]{32}", response.content.decode())
    assert shown, "the new key is shown once"
    raw = shown.group(0)
    key = ApiKey.objects.get(company=company)
    assert key.matches(raw)
    assert Api(raw).get("/api/v2/rewards/").status_code == 200
    listing = admin_client.get("/admin/companies/apikey/").content.decode()
    assert raw not in listing and key.prefix in listing


def test_admin_company_preset_sets_the_otp_flags(admin_client):
    company = CompanyFactory.create()
    data = {"name": company.name, "email": company.email, "rate_tier": "enterprise", "otp_preset": "strict"}
    response = admin_client.post(f"/admin/companies/company/{company.pk}/change/", data)
    assert response.status_code == 302, response.content
    company = Company.objects.get(pk=company.pk)
    assert (company.otp_preset, company.rate_tier) == ("strict", "enterprise")


def test_admin_adjusts_balances_through_the_ledger(admin_client):
    customer = CustomerFactory.create(points=100)
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
    customer = CustomerFactory.create(points=100)
    data = {"company": customer.company_id, "full_name": "x", "tier": "default", "points_adjustment": "5",
            "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0"}  # fmt: skip
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 200  # the form again, with its error
    customer.refresh_from_db()
    assert customer.points_balance == 100


def test_admin_cancel_and_refund_action(admin_client):
    customer = CustomerFactory.create(points=1000)
    api = Api(make_key(customer.company))
    reward = RewardFactory.create(company=customer.company, points_required=300)
    coupon_id = api.redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]
    response = admin_client.post(
        "/admin/coupons/coupon/",
        {"action": "cancel_and_refund", "_selected_action": [coupon_id]},
        follow=True,
    )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.points_balance, customer.points_earned, customer.points_spent) == (1000, 1000, 0)
    assert customer.coupons.get().status == CouponStatus.CANCELLED
    assert ledger_mismatches() == []


def test_admin_ledger_and_coupons_are_read_only(admin_client):
    coupon = CouponFactory.create()
    assert admin_client.get("/admin/customers/ledgerentry/add/").status_code == 403
    response = admin_client.post(f"/admin/coupons/coupon/{coupon.pk}/change/", {"status": "used"})
    assert response.status_code == 403
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.ACTIVE


def redeemed_coupon(customer: Customer) -> str:
    reward = RewardFactory.create(company=customer.company, points_required=300)
    return Api(make_key(customer.company)).redeem(customer.pk, reward.pk).json()["data"]["coupon_id"]


def cancel_action(client: Client, coupon_id: str) -> Any:
    data = {"action": "cancel_and_refund", "_selected_action": [coupon_id]}
    return client.post("/admin/coupons/coupon/", data, follow=True)


def test_staff_who_may_only_view_coupons_cannot_cancel_and_refund(client):
    customer = CustomerFactory.create(points=1000)
    coupon_id = redeemed_coupon(customer)
    clerk = staff_client(client, "coupons.view_coupon")
    assert clerk.get("/admin/coupons/coupon/").status_code == 200
    response = cancel_action(clerk, coupon_id)
    assert response.status_code == 200
    assert Coupon.objects.get(pk=coupon_id).status == CouponStatus.ACTIVE
    customer.refresh_from_db()
    assert customer.points_balance == 700
    assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()


def test_staff_with_the_change_permission_can_cancel_and_refund(client):
    customer = CustomerFactory.create(points=1000)
    coupon_id = redeemed_coupon(customer)
    clerk = staff_client(client, "coupons.view_coupon", "coupons.change_coupon")
    cancel_action(clerk, coupon_id)
    assert Coupon.objects.get(pk=coupon_id).status == CouponStatus.CANCELLED
    customer.refresh_from_db()
    assert customer.points_balance == 1000
    # The action is allowed, the change form stays closed.
    assert clerk.post(f"/admin/coupons/coupon/{coupon_id}/change/", {}).status_code == 403


def failed_delivery(company: Company) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        company=company, event="coupon.used", payload={}, url="http://127.0.0.1:9/hook",
        status=DeliveryStatus.EXHAUSTED, attempts=8, next_attempt_at=timezone.now() - timedelta(days=1),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("codenames", "status"),
    [(["webhooks.view_webhookdelivery"], DeliveryStatus.EXHAUSTED),
     (["webhooks.view_webhookdelivery", "webhooks.change_webhookdelivery"], DeliveryStatus.PENDING)],
)  # fmt: skip
def test_send_again_takes_the_change_permission(client, codenames, status):
    delivery = failed_delivery(CompanyFactory.create())
    clerk = staff_client(client, *codenames)
    data = {"action": "resend", "_selected_action": [delivery.pk]}
    assert clerk.post("/admin/webhooks/webhookdelivery/", data, follow=True).status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == status


@pytest.mark.parametrize(
    ("codenames", "revoked"),
    [(["companies.view_apikey"], False), (["companies.view_apikey", "companies.change_apikey"], True)],
)
def test_revoking_keys_takes_the_change_permission(client, codenames, revoked):
    company = CompanyFactory.create()
    raw = make_key(company)
    key = ApiKey.objects.get(company=company)
    clerk = staff_client(client, *codenames)
    clerk.post("/admin/companies/apikey/", {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    key.refresh_from_db()
    assert (key.revoked_at is not None) == revoked
    assert (Api(raw).get("/api/v2/rewards/").status_code == 401) == revoked


def customer_form(customer: Customer, **changes: str) -> dict[str, object]:
    data = {
        "company": customer.company_id, "full_name": customer.full_name, "phone": customer.phone,
        "email": customer.email, "cpf": "", "tier": "default", "is_active": "on",
        "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0",
    }  # fmt: skip
    return {**data, **changes}


def test_a_customer_cannot_be_moved_to_another_company(admin_client):
    customer = CustomerFactory.create(points=100)
    home, other = customer.company, CompanyFactory.create()
    data = customer_form(customer, company=other.pk, full_name="Renamed")
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    customer.refresh_from_db()
    assert (customer.company_id, customer.full_name) == (home.pk, "Renamed")
    assert ledger_mismatches() == []


def test_the_company_is_chosen_when_a_customer_is_added(admin_client):
    company = CompanyFactory.create()
    data = {"company": company.pk, "full_name": "New", "phone": "+5511955550000", "tier": "default",
            "ledger-TOTAL_FORMS": "0", "ledger-INITIAL_FORMS": "0"}  # fmt: skip
    response = admin_client.post("/admin/customers/customer/add/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Customer.objects.get(phone="+5511955550000").company_id == company.pk


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [({"points_adjustment": "-150"}, "points_adjustment", "points balance negative: it is 100"),
     ({"z_adjustment": "-0.000001"}, "z_adjustment", "would make the Z$ balance negative"),
     ({"points_adjustment": str(POINTS_BALANCE_MAX)}, "points_adjustment",
      f"may not exceed {POINTS_BALANCE_MAX} points")],
    ids=["negative-points", "negative-z", "points-past-the-cap"],
)  # fmt: skip
def test_an_adjustment_the_ledger_would_refuse_is_a_form_error(admin_client, changes, field, message):
    customer = CustomerFactory.create(points=100)
    entries = LedgerEntry.objects.filter(customer=customer).count()
    data = customer_form(customer, full_name="Renamed", adjustment_reason="typo", **changes)
    response = admin_client.post(f"/admin/customers/customer/{customer.pk}/change/", data)
    assert response.status_code == 200  # the form again, with the error at the field
    assert message in " ".join(response.context["adminform"].form.errors[field])
    customer.refresh_from_db()
    assert (customer.points_balance, customer.z_balance) == (100, 0)
    assert customer.full_name != "Renamed"  # nothing of the form was saved
    assert LedgerEntry.objects.filter(customer=customer).count() == entries
