"""FastOutput must render exactly what DRF's generic Serializer would."""

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework import serializers

from coupons.api import CouponOut
from coupons.selectors import coupons_taken_count
from customers.api import CustomerOut, PointsHistoryOut
from customers.models import LedgerEntry
from rewards.api import RewardOut
from rewards.selectors import reward_catalog
from tests.factories import CouponFactory, CustomerFactory, RewardFactory

pytestmark = pytest.mark.django_db


def generic(serializer: serializers.Serializer) -> Any:
    return serializers.Serializer.to_representation(serializer, serializer.instance)


def test_fast_output_matches_drf_for_every_field_type(company):
    customer = CustomerFactory.create(company=company, points=120, z=Decimal("3.5"), cpf="52998224725")
    RewardFactory.create(company=company, monetary_value=Decimal("12.5"), discount_percentage=Decimal("10"),
                  start_date=timezone.now(), quantity_available=4)  # fmt: skip
    coupon = CouponFactory.create(customer=customer, usage_date=timezone.now())
    context = {"now": timezone.now(), "company": company}
    cases = [
        RewardOut(
            reward_catalog(
                company=company, now=context["now"], coupons_taken_count=coupons_taken_count(customer)
            ).first(),
            context=context,
        ),
        CouponOut(coupon, context=context),
        CustomerOut(customer),
        PointsHistoryOut(LedgerEntry.objects.filter(customer=customer).first()),
    ]
    for serializer in cases:
        assert serializer.data == generic(serializer), type(serializer).__name__
