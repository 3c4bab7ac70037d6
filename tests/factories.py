"""Factories that build valid objects in one line; balances always go through the ledger."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.db.models import F
from django.utils import timezone

from companies.models import Company, OtpPreset
from companies.services import api_key_create
from coupons.models import Coupon, CouponStatus
from customers.models import Customer
from customers.services import customer_set_balances
from rewards.models import Reward


class CompanyFactory(factory.django.DjangoModelFactory[Company]):
    class Meta:
        model = Company
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Restaurant {n}")
    email = factory.Sequence(lambda n: f"contato{n}@restaurant.example.com")

    @factory.post_generation
    def otp_preset(obj: Company, create: bool, extracted: str | None, **kwargs: object) -> None:
        obj.apply_otp_preset(extracted or OtpPreset.TRUSTED)
        if create:
            obj.save()


def make_key(company: Company, *, read_only: bool = False, response_format: str = "envelope") -> str:
    return api_key_create(company=company, name="test", read_only=read_only, response_format=response_format)[
        1
    ]


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    """``CustomerFactory.create(points=1000, z=Decimal("1150"))``: balances are written as ledger rows."""

    class Meta:
        model = Customer

    company = factory.SubFactory(CompanyFactory)
    full_name = factory.Faker("name")
    phone = factory.Sequence(lambda n: f"+55119{n:08d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    points = 0
    z = Decimal("0")

    @classmethod
    def _create(
        cls,
        model_class: type[Customer],
        *args: object,
        points: int = 0,
        z: Decimal = Decimal("0"),
        **kwargs: object,
    ) -> Customer:
        customer = super()._create(model_class, *args, **kwargs)
        if points or z:
            customer_set_balances(customer_id=customer.pk, points=points, z_balance=Decimal(z), reason="test")
            customer.refresh_from_db()
        return customer


class RewardFactory(factory.django.DjangoModelFactory[Reward]):
    class Meta:
        model = Reward

    company = factory.SubFactory(CompanyFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    points_required = 200
    validity_days = 30


class CouponFactory(factory.django.DjangoModelFactory[Coupon]):
    """A coupon as a redemption leaves it, without the debit (for validate and list tests)."""

    class Meta:
        model = Coupon
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    company = factory.SelfAttribute("customer.company")
    reward = factory.SubFactory(RewardFactory, company=factory.SelfAttribute("..company"))
    code = factory.Sequence(lambda n: "CZ-" + "".join("23456789ABCDEFGH"[int(d)] for d in f"{n:08d}"))
    status = CouponStatus.ACTIVE
    origin_type = factory.SelfAttribute("reward.origin_type")
    total_usages_allowed = factory.SelfAttribute("reward.total_usages_allowed")
    remaining_usages = factory.SelfAttribute("total_usages_allowed")
    points_spent = factory.SelfAttribute("reward.points_required")
    valid_until = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))

    @factory.post_generation
    def count_redemption(obj: Coupon, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            Reward.objects.filter(pk=obj.reward_id).update(quantity_redeemed=F("quantity_redeemed") + 1)
