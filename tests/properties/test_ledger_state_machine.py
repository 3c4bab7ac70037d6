"""Random sequences of what partners and staff do (enrol, points add, redeem with and without Z$,
validate, cancel, Z$ adjustments and idempotent replays), through the real API and services on
PostgreSQL. After every step the money invariants hold. Derandomised (a fixed, repeatable set of
sequences) unless HYPOTHESIS_RANDOM=1 asks for new ones."""

import contextlib
import os
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Q, Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from core.money import Z_MICRO, z_format
from coupons.errors import CouponNotCancellable
from coupons.models import Coupon, CouponStatus
from coupons.services import coupon_cancel
from customers.models import Currency, Customer, EntryKind, LedgerEntry
from customers.services import customer_adjust_balance
from rewards.models import Reward
from tests.conftest import Api
from tests.factories import CompanyFactory, RewardFactory, make_key

pytestmark = pytest.mark.django_db

STOCK = 4


class LedgerMachine(RuleBasedStateMachine):
    customers = Bundle("customers")
    coupons = Bundle("coupons")

    def __init__(self) -> None:
        super().__init__()
        self.company = CompanyFactory.create(rate_tier="enterprise")
        self.api = Api(make_key(self.company))
        self.rewards = [
            RewardFactory.create(company=self.company, points_required=500, quantity_available=STOCK),
            RewardFactory.create(company=self.company, points_required=300, total_usages_allowed=3),
            RewardFactory.create(company=self.company, points_required=100, max_redemptions_per_customer=2),
        ]
        self.replies: dict[str, tuple[int, bytes]] = {}

    def post(self, path: str, body: dict[str, object], replay: bool) -> Any:
        key = uuid.uuid4().hex
        response = self.api.post(path, body, HTTP_IDEMPOTENCY_KEY=key)
        assert response.status_code < 500, response.content
        if replay:
            again = self.api.post(path, body, HTTP_IDEMPOTENCY_KEY=key)
            assert (again.status_code, again.content) == (response.status_code, response.content)
        return response

    @initialize(
        target=customers,
        points=st.sampled_from([85, 90, 95, 250, 280, 299, 410, 450, 499]),
        micro=st.integers(min_value=100 * Z_MICRO, max_value=300 * Z_MICRO),
    )
    def enrol_with_balances(self, points: int, micro: int) -> str:
        """A customer near a reward's price with some Z$: the Z$ top-up is one redeem away."""
        customer = self.enrol(10**7 + 1)
        assert isinstance(customer, str)  # a rule called directly returns its value, not a bundle entry
        if points:
            self.add_points(customer, points, replay=False)
        self.adjust_z(customer, micro)
        return customer

    @rule(target=customers, n=st.integers(min_value=0, max_value=10**7))
    def enrol(self, n: int) -> str:
        response = self.api.post("/api/v2/customers/", {"phone": f"+55119{n:08d}"})
        assert response.status_code in (200, 201), response.content
        return response.json()["data"]["id"]

    @rule(
        customer=customers,
        amount=st.integers(min_value=1, max_value=700) | st.sampled_from([85, 90, 260, 290, 420, 480]),
        replay=st.booleans(),
    )
    def add_points(self, customer: str, amount: int, replay: bool) -> None:
        response = self.post(f"/api/v2/customers/{customer}/points/add/", {"amount": amount}, replay)
        assert response.status_code == 200, response.content

    @rule(customer=customers, micro=st.integers(min_value=-200 * Z_MICRO, max_value=500 * Z_MICRO))
    def adjust_z(self, customer: str, micro: int) -> None:
        if micro == 0 or Customer.objects.get(pk=customer).z_balance + micro < 0:
            return
        customer_adjust_balance(customer_id=customer, z_amount=Decimal(z_format(micro)), reason="property")

    @rule(
        target=coupons,
        customer=customers,
        reward=st.integers(0, 2),
        use_z=st.booleans(),
        replay=st.booleans(),
    )
    def redeem(self, customer: str, reward: int, use_z: bool, replay: bool) -> object:
        path = f"/api/v2/customers/{customer}/rewards/{self.rewards[reward].pk}/redeem/"
        response = self.post(path, {"use_z_tokens": use_z}, replay)
        assert response.status_code in (200, 422), response.content
        if response.status_code != 200:
            return multiple()
        return (customer, response.json()["data"]["coupon_id"])

    @rule(
        target=coupons,
        customer=customers,
        reward=st.integers(0, 2),
        gap=st.integers(1, 20),
        replay=st.booleans(),
    )
    def redeem_paying_a_gap_with_z(self, customer: str, reward: int, gap: int, replay: bool) -> object:
        """Bring the points to ``gap`` below the price (at most 20% of it), then redeem with Z$."""
        balance = Customer.objects.get(pk=customer).points_balance
        short = self.rewards[reward].points_required - gap
        if balance > short:
            return multiple()
        if balance < short:
            self.add_points(customer, short - balance, replay=False)
        return self.redeem(customer, reward, use_z=True, replay=replay)

    @rule(coupon=coupons, replay=st.booleans())
    def validate(self, coupon: tuple[str, str], replay: bool) -> None:
        customer, coupon_id = coupon
        response = self.post(f"/api/v2/customers/{customer}/coupons/{coupon_id}/validate/", {}, replay)
        assert response.status_code in (200, 409), response.content

    @rule(coupon=coupons)
    def cancel(self, coupon: tuple[str, str]) -> None:
        with contextlib.suppress(CouponNotCancellable):
            coupon_cancel(coupon_id=coupon[1])

    @invariant()
    def balances_equal_their_ledger_and_are_never_negative(self) -> None:
        sums = (
            LedgerEntry.objects.filter(company=self.company)
            .values("customer_id")
            .annotate(
                points=Sum("amount", filter=Q(currency=Currency.POINTS), default=0),
                z=Sum("amount", filter=Q(currency=Currency.Z), default=0),
            )
        )
        ledger = {row["customer_id"]: (row["points"], row["z"]) for row in sums}
        for customer in Customer.objects.filter(company=self.company):
            assert customer.points_balance >= 0 and customer.z_balance >= 0
            assert (customer.points_balance, customer.z_balance) == ledger.get(customer.pk, (0, 0))

    @invariant()
    def coupons_uses_refunds_and_stock_agree(self) -> None:
        coupons = Coupon.objects.filter(company=self.company).annotate(
            used=Count("uses", distinct=True),
            refunds=Count("ledger_entries", filter=Q(ledger_entries__kind=EntryKind.REFUND), distinct=True),
        )
        for coupon in coupons:
            assert 0 <= coupon.remaining_usages <= coupon.total_usages_allowed
            assert coupon.used == coupon.total_usages_allowed - coupon.remaining_usages
            if coupon.status == CouponStatus.CANCELLED:
                assert coupon.used == 0
                assert coupon.refunds == (coupon.points_spent > 0) + (coupon.z_tokens_spent > 0)
            else:
                assert coupon.refunds == 0
        stocked = Reward.objects.get(pk=self.rewards[0].pk)
        taken = coupons.filter(reward=stocked).exclude(status=CouponStatus.CANCELLED).count()
        assert stocked.quantity_available == STOCK - taken >= 0
        assert stocked.quantity_redeemed == taken


def test_money_invariants_hold_after_every_step():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            derandomize=os.environ.get("HYPOTHESIS_RANDOM") != "1",
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
