"""Legacy coupons: ``CP-`` codes migrated from the previous generation are accepted wherever a
``CZ-`` code is (validate, the listing's code filter), with the same forgiving typing, and the
admin imports them from a CSV file, every line or none."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from coupons.models import Coupon, code_from_typed
from coupons.services import coupon_cancel
from customers.models import LedgerEntry
from rewards.models import Reward
from tests.conftest import Api, assert_problem
from tests.factories import CouponFactory, CustomerFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("CP-LEGACY01", "CP-LEGACY01"),
        ("cp-legacy01", "CP-LEGACY01"),
        (" cp legacy-01 ", "CP-LEGACY01"),
        ("CPLEGACY01", "CP-LEGACY01"),
        ("CP-LEGACY0", None),  # 7 characters
        ("CP-LEGACY011", None),  # 9
        ("LEGACY01", None),  # a legacy code keeps its prefix: 8 alone are a CZ code, and 0/1/L are none
        ("CPAB2345", "CZ-CPAB2345"),  # 8 alone, as always: a CZ code
        ("cz-abcd2345", "CZ-ABCD2345"),
    ],
)
def test_code_from_typed_reads_legacy_codes(typed, code):
    assert code_from_typed(typed) == code


@pytest.fixture
def legacy(company):
    customer = CustomerFactory.create(company=company)
    return CouponFactory.create(customer=customer, code="CP-LEGACY01", points_spent=0)


@pytest.mark.parametrize("response_format", ["envelope", "root"])
@pytest.mark.parametrize("typed", ["CP-LEGACY01", "cp-legacy01", "cp legacy01"])
def test_validate_takes_a_legacy_code_in_any_case(company, legacy, response_format, typed):
    api = Api(make_key(company, response_format=response_format))
    response = api.validate(legacy.customer_id, typed)
    assert response.status_code == 200, response.content
    data = response.json().get("data", response.json())
    assert (data["coupon_code"], data["remaining_usages"]) == ("CP-LEGACY01", 0)
    assert_problem(api.validate(legacy.customer_id, typed), 409, "conflict", "coupon_used")


@pytest.mark.parametrize("response_format", ["envelope", "root"])
def test_the_code_filter_finds_a_legacy_code(company, legacy, response_format):
    CouponFactory.create(customer=legacy.customer)
    api = Api(make_key(company, response_format=response_format))
    for path in ("/api/v2/coupons/issued/", "/api/v2/rewards/coupons/"):
        found = api.get(path, code="cp-legacy01", customer_id=legacy.customer_id).json()["data"]
        assert [c["coupon_code"] for c in found] == ["CP-LEGACY01"]


# --- the admin's import ---------------------------------------------------------------------------
def csv_file(*lines: str) -> SimpleUploadedFile:
    body = "code,customer,reward,valid_until,uses\n" + "\n".join(lines) + "\n"
    return SimpleUploadedFile("legacy.csv", body.encode(), content_type="text/csv")


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


IMPORT = "/admin/coupons/coupon/import-legacy/"


def test_the_admin_imports_legacy_coupons(admin_client, api, company):
    maria = CustomerFactory.create(company=company, phone="+5511987654321", email="maria@example.com")
    joao = CustomerFactory.create(company=company)
    pizza = RewardFactory.create(company=company, name="Pizza", quantity_available=5)
    until = (timezone.now() + timedelta(days=10)).date().isoformat()
    upload = csv_file(
        f"cp-legacy01,(11) 98765-4321,Pizza,{until},1",
        f"CP-LEGACY02,{joao.pk},{pizza.pk},2030-01-01T12:00:00Z,3",
        f"CP-LEGACY03,MARIA@example.com,Pizza,{until},2",
    )

    response = admin_client.post(IMPORT, {"company": company.pk, "file": upload})

    assert response.status_code == 302, response.content.decode()[:3000]
    coupons = {c.code: c for c in Coupon.objects.filter(code__startswith="CP-")}
    assert sorted(coupons) == ["CP-LEGACY01", "CP-LEGACY02", "CP-LEGACY03"]
    assert (coupons["CP-LEGACY02"].customer_id, coupons["CP-LEGACY02"].remaining_usages) == (joao.pk, 3)
    assert coupons["CP-LEGACY01"].customer_id == coupons["CP-LEGACY03"].customer_id == maria.pk
    assert {c.points_spent for c in coupons.values()} == {0}
    assert Reward.objects.values_list("quantity_available", "quantity_redeemed").get(pk=pizza.pk) == (2, 3)
    assert not LedgerEntry.objects.filter(coupon__in=coupons.values()).exists()
    # Usable at once by the code on the customer's old receipt.
    assert api.validate(maria.pk, "cp-legacy01").status_code == 200
    # Cancelled, it gives its stock back and refunds no points (they were spent in the old system).
    coupon_cancel(coupon_id=coupons["CP-LEGACY03"].pk)
    assert Reward.objects.values_list("quantity_available", flat=True).get(pk=pizza.pk) == 3
    assert not LedgerEntry.objects.filter(coupon=coupons["CP-LEGACY03"]).exclude(amount=0).exists()


def test_a_file_with_one_bad_line_imports_nothing_and_names_every_problem(admin_client, company):
    customer = CustomerFactory.create(company=company)
    RewardFactory.create(company=company, name="Pizza")
    CouponFactory.create(customer=customer, code="CP-TAKEN001")
    stranger = CustomerFactory.create()  # another company's
    until = "2031-05-01"
    upload = csv_file(
        f"CP-GOOD0001,{customer.pk},Pizza,{until},1",
        f"CZ-ABCD2345,{customer.pk},Pizza,{until},1",
        f"CP-TAKEN001,{customer.pk},Pizza,{until},1",
        f"CP-GOOD0001,{customer.pk},Pizza,{until},1",
        f"CP-GOOD0002,{stranger.pk},Pizza,{until},1",
        f"CP-GOOD0003,{customer.pk},Sushi,{until},1",
        f"CP-GOOD0004,{customer.pk},Pizza,yesterday,1",
        f"CP-GOOD0005,{customer.pk},Pizza,2001-01-01,1",
        f"CP-GOOD0006,{customer.pk},Pizza,{until},0",
    )

    response = admin_client.post(IMPORT, {"company": company.pk, "file": upload})

    assert response.status_code == 422
    page = response.content.decode()
    for line, words in [
        (3, "not a legacy code"),
        (4, "exists already"),
        (5, "appears twice"),
        (6, "is not a customer of"),
        (7, "names no reward"),
        (8, "not an ISO 8601"),
        (9, "in the past"),
        (10, "uses must be"),
    ]:
        assert f"line {line}: " in page and words in page, (line, words)
    assert "line 2:" not in page
    assert not Coupon.objects.filter(code__startswith="CP-GOOD").exists()


def test_the_import_refuses_more_coupons_than_the_stock(admin_client, company):
    customer = CustomerFactory.create(company=company)
    RewardFactory.create(company=company, name="Pizza", quantity_available=1)
    upload = csv_file(
        f"CP-AAAA0001,{customer.pk},Pizza,2031-01-01,1", f"CP-AAAA0002,{customer.pk},Pizza,2031-01-01,1"
    )
    response = admin_client.post(IMPORT, {"company": company.pk, "file": upload})
    assert response.status_code == 422 and "2 coupons, 1 in stock" in response.content.decode()
    assert not Coupon.objects.filter(code__startswith="CP-").exists()


def test_the_import_refuses_a_file_without_the_columns(admin_client, company):
    upload = SimpleUploadedFile("x.csv", b"code,customer\nCP-AAAA0001,x\n", content_type="text/csv")
    response = admin_client.post(IMPORT, {"company": company.pk, "file": upload})
    assert response.status_code == 200 and "lacks: reward, valid_until, uses" in response.content.decode()
    assert not Coupon.objects.exists()


def test_the_import_takes_the_add_permission(client, company):
    clerk = User.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(content_type__app_label="coupons", codename="view_coupon")
    )
    client.force_login(clerk)
    assert client.get(IMPORT).status_code == 403
    clerk.user_permissions.add(
        Permission.objects.get(content_type__app_label="coupons", codename="add_coupon")
    )
    assert client.get(IMPORT).status_code == 200
