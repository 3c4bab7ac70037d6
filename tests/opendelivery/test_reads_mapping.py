"""The mapping of our rows to the standard's schemas and the selectors behind the read operations,
checked below HTTP: each rendering is validated against its component schema of the vendored
``customer.openapi.yaml``, and each enum table against the schema's enum."""

from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.utils import timezone
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from companies.models import ProgramStatus
from coupons.models import CouponStatus
from coupons.services import coupon_cancel, coupon_redeem
from customers.models import Customer, EntryKind
from customers.services import customer_set_balances, points_add
from opendelivery import selectors
from opendelivery.serializers import (
    COUPON_STATUS_FILTERS,
    COUPON_STATUSES,
    REWARD_TYPES,
    TRANSACTION_TYPES,
    AccountOut,
    CouponOut,
    CustomerOut,
    ProgramOut,
    RewardOut,
    TransactionOut,
    cents,
)
from rewards.models import DiscountType
from tests.factories import CompanyFactory, CouponFactory, CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db

DOCUMENT = Path(__file__).resolve().parents[2] / "docs/reference/opendelivery/customer.openapi.yaml"
URI = "urn:opendelivery:customer"


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT.read_text())


def validator(schema: str) -> Draft202012Validator:
    registry: Registry = Registry().with_resource(URI, DRAFT202012.create_resource(document()))
    return Draft202012Validator(
        {"$ref": f"{URI}#/components/schemas/{schema}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def assert_conforms(schema: str, instance: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(schema).iter_errors(instance)]
    assert errors == [], errors


def enum(schema: str) -> set[str]:
    return set(document()["components"]["schemas"][schema]["enum"])


def context(company: Any, merchant_id: str = "store-1") -> dict[str, Any]:
    return {
        "merchant_id": merchant_id,
        "program": company.loyalty_program,
        "now": timezone.now(),
        "currency": company.currency,
    }


def test_enum_tables_name_only_the_standards_values():
    assert set(TRANSACTION_TYPES.values()) <= enum("LoyaltyTransactionType")
    assert set(TRANSACTION_TYPES) == set(EntryKind.values)
    assert set(REWARD_TYPES.values()) <= enum("LoyaltyRewardType")
    assert set(COUPON_STATUSES) == set(CouponStatus.values)
    # LoyaltyCoupon.status is a string whose values the schema's description lists.
    assert set(COUPON_STATUS_FILTERS) == {"available", "applied", "used", "expired", "cancelled"}


def test_customer_identifier_is_phone_then_email_then_document_then_card():
    company = CompanyFactory.create()
    both = CustomerFactory.create(company=company, phone="+5511987654321", email="Ana@Example.com")
    email_only = CustomerFactory.create(company=company, phone=None, email="b@example.com")
    cpf_only = CustomerFactory.create(company=company, phone=None, email=None, cpf="529.982.247-25")
    nothing = CustomerFactory.create(company=company, phone=None, email=None, full_name="")
    rendered = [CustomerOut(c, context=context(company)).data for c in (both, email_only, cpf_only, nothing)]
    for item in rendered:
        assert_conforms("Customer", item)
        assert item["merchantId"] == "store-1"
    assert [item["identifier"] for item in rendered] == [
        {"type": "phone", "value": "+5511987654321"},
        {"type": "email", "value": "b@example.com"},
        {"type": "document", "value": "52998224725"},
        {"type": "custom", "value": nothing.card_number},
    ]
    assert rendered[0]["contacts"] == [
        {"type": "phone", "value": "+5511987654321"},
        {"type": "email", "value": "ana@example.com"},
    ]
    assert "contacts" not in rendered[2] and "name" not in rendered[3]
    assert rendered[0]["createdAt"].endswith("Z")


def test_customers_are_found_by_normalised_identifiers_of_their_company_only():
    company, other = CompanyFactory.create(), CompanyFactory.create()
    ana = CustomerFactory.create(company=company, phone="+5511987654321", cpf="52998224725")
    CustomerFactory.create(company=other, phone="+5511987654321", cpf="52998224725")
    assert list(selectors.od_customers(company=company, phone="+5511987654321")) == [ana]
    assert list(selectors.od_customers(company=company, cpf="52998224725")) == [ana]
    assert list(selectors.od_customers(company=company, email=ana.email)) == [ana]
    assert list(selectors.od_customers(company=company, email="nobody@example.com")) == []
    later = timezone.now() + timedelta(minutes=1)
    assert list(selectors.od_customers(company=company, updated_from=later)) == []
    assert list(selectors.od_customers(company=company, updated_to=later)) == [ana]


def test_program_conforms_and_reads_active_only_when_published_and_active():
    company = CompanyFactory.create()
    program = company.loyalty_program
    program.tiers_enabled = True
    program.save()
    item = ProgramOut(program, context=context(company)).data
    assert_conforms("LoyaltyProgram", item)
    assert (item["id"], item["ownerType"], item["status"]) == (program.id, "store", "active")
    assert item["metadata"]["tiers"][0] == {"name": "bronze", "minPoints": 0}
    program.status = ProgramStatus.DRAFT
    assert ProgramOut(program, context=context(company)).data["status"] == "inactive"
    assert list(selectors.od_programs(company=company)) == [program]


def test_account_status_follows_activity_and_deactivation():
    company = CompanyFactory.create()
    customer = CustomerFactory.create(company=company)
    item = AccountOut(customer, context=context(company)).data
    assert_conforms("LoyaltyAccount", item)
    assert item["id"] == item["customerId"] == customer.id
    assert (item["programId"], item["balanceType"], item["balance"]) == (
        company.loyalty_program.id,
        "points",
        0,
    )
    assert item["metadata"]["status"] == "ENROLLED"
    points_add(company=company, customer_id=customer.id, amount=300, reason="order", api_key=None)
    customer.refresh_from_db()
    item = AccountOut(customer, context=context(company)).data
    assert (item["balance"], item["metadata"]["status"]) == (300, "ACTIVE")
    Customer.objects.filter(pk=customer.pk).update(is_active=False)
    customer.refresh_from_db()
    assert AccountOut(customer, context=context(company)).data["metadata"]["status"] == "SUSPENDED"


def test_transactions_are_the_points_rows_newest_first_with_the_standards_types():
    company = CompanyFactory.create()
    customer = CustomerFactory.create(company=company, points=500, z=Decimal("10"))  # adjust rows
    points_add(company=company, customer_id=customer.id, amount=100, reason="order 1", api_key=None)
    reward = RewardFactory.create(company=company, points_required=200)
    redemption = coupon_redeem(
        company=company, customer_id=customer.id, reward_id=reward.id, use_z_tokens=False, api_key=None
    )
    coupon_cancel(coupon_id=redemption.coupon.id)
    entries = list(selectors.od_transactions(customer=customer))
    rendered = [TransactionOut(entry).data for entry in entries]
    for item in rendered:
        assert_conforms("LoyaltyTransaction", item)
        assert item["accountId"] == customer.id
    assert [(item["type"], item["amount"]) for item in rendered] == [
        ("adjust", 200),  # the refund of the cancelled coupon
        ("redeem", -200),
        ("earn", 100),
        ("adjust", 500),
    ]
    assert rendered[0]["metadata"]["kind"] == "refund"
    assert rendered[1]["metadata"]["couponId"] == redemption.coupon.id
    assert sum(item["amount"] for item in rendered) == 600
    later = timezone.now() + timedelta(minutes=1)
    assert list(selectors.od_transactions(customer=customer, created_from=later)) == []
    assert len(selectors.od_transactions(customer=customer, created_to=later)) == 4


def test_rewards_are_the_available_catalog_typed_by_benefit_with_money_in_cents():
    company = CompanyFactory.create()
    now = timezone.now()
    item = RewardFactory.create(
        company=company, discount_type=DiscountType.FREE_ITEM, monetary_value=Decimal("12.50")
    )
    shipping = RewardFactory.create(company=company, discount_type=DiscountType.FREE_SHIPPING)
    percent = RewardFactory.create(
        company=company, discount_type=DiscountType.PERCENTAGE, discount_percentage=Decimal("15.00")
    )
    RewardFactory.create(company=company, is_active=False)
    RewardFactory.create(company=company, quantity_available=0)
    RewardFactory.create(company=company, end_date=now - timedelta(days=1))
    RewardFactory.create(company=CompanyFactory.create())
    rewards = list(selectors.od_rewards(company=company, now=now))
    assert rewards == [item, shipping, percent]
    rendered = [RewardOut(reward, context=context(company)).data for reward in rewards]
    for out in rendered:
        assert_conforms("LoyaltyReward", out)
    assert [out["type"] for out in rendered] == ["product", "shipping", "generic"]
    assert rendered[0]["cost"] == 200
    assert rendered[0]["metadata"]["monetaryValue"] == 1250
    assert rendered[0]["metadata"]["currency"] == "BRL"
    assert rendered[2]["metadata"]["discountPercentage"] == 15.0


def test_cents_are_exact():
    assert [cents(Decimal("0.10")), cents(Decimal("19.99")), cents(None)] == [10, 1999, None]


def test_coupons_map_effective_status_and_filter_by_customer_and_status(django_assert_max_num_queries):
    company = CompanyFactory.create()
    ana, bia = CustomerFactory.create(company=company), CustomerFactory.create(company=company)
    available = CouponFactory.create(customer=ana)
    lapsed = CouponFactory.create(customer=ana, valid_until=timezone.now() - timedelta(minutes=1))
    used = CouponFactory.create(customer=ana, status=CouponStatus.USED, remaining_usages=0)
    cancelled = CouponFactory.create(customer=bia, status=CouponStatus.CANCELLED)
    CouponFactory.create()  # another company's
    now = timezone.now()
    with django_assert_max_num_queries(1):
        coupons = list(selectors.od_coupons(company=company, now=now))
        rendered = [CouponOut(coupon, context=context(company)).data for coupon in coupons]
    assert [c.id for c in coupons] == [cancelled.id, used.id, lapsed.id, available.id]
    for out in rendered:
        assert_conforms("LoyaltyCoupon", out)
    assert [out["status"] for out in rendered] == ["cancelled", "used", "expired", "available"]
    assert rendered[-1]["code"] == available.code
    assert rendered[-1]["metadata"]["rewardName"] == available.reward.name
    assert list(selectors.od_coupons(company=company, now=now, customer_id=bia.id)) == [cancelled]
    assert list(selectors.od_coupons(company=company, now=now, status="applied")) == []
    assert list(selectors.od_coupons(company=company, now=now, program_id="another")) == []
    assert list(selectors.od_coupons(company=company, now=now, status="expired")) == [lapsed]
    assert list(selectors.od_coupons(company=company, now=now, customer_id=ana.id, status="available")) == [
        available
    ]


def test_set_balances_rows_are_adjustments():
    """The fixture's starting balance is an ``adjust`` row: the mapping above relies on it."""
    company = CompanyFactory.create()
    customer = CustomerFactory.create(company=company)
    customer_set_balances(customer_id=customer.id, points=50, z_balance=0, reason="seed")
    assert [e.kind for e in selectors.od_transactions(customer=customer)] == [EntryKind.ADJUST]
