"""Our models in the standard's schemas (``customer.openapi.yaml``, components): Customer,
LoyaltyProgram, LoyaltyAccount, LoyaltyTransaction, LoyaltyReward, LoyaltyCoupon. The tables below
are the mapping docs/opendelivery.md writes down.

The schemas declare no field nullable, so an optional field we have no value for is left out, never
``null``; the same holds inside ``metadata``. Timestamps are ISO 8601 in UTC (``core.timefmt``);
money is an integer number of cents, as the standard's order amounts are; points are numbers.

Context every serializer reads: ``merchant_id`` (the link's, the merchant the request targets),
``program`` (the company's one LoyaltyProgram), ``now`` (statuses that depend on the clock) and
``currency`` (the company's ISO 4217 code)."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from companies.models import LoyaltyProgram, ProgramStatus
from core.money import z_format
from core.rendering import FastOutput
from core.timefmt import iso_utc
from coupons.models import Coupon, CouponStatus
from customers.models import Customer, EntryKind, LedgerEntry
from rewards.models import DiscountType, Reward

# LoyaltyTransactionType from the ledger's kind. A refund (the points of a cancelled coupon given
# back) is a positive adjustment; ``metadata.kind`` keeps our own name. Nothing expires points here,
# so ``expire`` is never written; a kind this table does not know reads as ``other``.
TRANSACTION_TYPES: dict[str, str] = {
    EntryKind.EARN: "earn",
    EntryKind.REDEEM: "redeem",
    EntryKind.REFUND: "adjust",
    EntryKind.ADJUST: "adjust",
}

# LoyaltyCoupon.status from the coupon's effective status (an active coupon past valid_until reads
# as expired, ``Coupon.effective_status``). Nothing here is ``applied``: a coupon goes from
# available to used in one step.
COUPON_STATUSES: dict[str, str] = {
    CouponStatus.ACTIVE: "available",
    CouponStatus.USED: "used",
    CouponStatus.EXPIRED: "expired",
    CouponStatus.CANCELLED: "cancelled",
}
# Every status the standard names for a coupon, with ours (None: no coupon is ever in it).
COUPON_STATUS_FILTERS: dict[str, str | None] = {
    **{theirs: ours for ours, theirs in COUPON_STATUSES.items()},
    "applied": None,
}

# LoyaltyRewardType from the benefit the reward gives (its discount type): a free item is a product,
# free shipping is shipping, every discount and plain reward is generic. No reward is cashback.
REWARD_TYPES: dict[str, str] = {DiscountType.FREE_ITEM: "product", DiscountType.FREE_SHIPPING: "shipping"}
REWARD_TYPE_DEFAULT = "generic"

# The account status of the standard's loyalty module (metadata.status of a LoyaltyAccount).
ENROLLED, ACTIVE, SUSPENDED = "ENROLLED", "ACTIVE", "SUSPENDED"


def account_status(customer: Customer) -> str:
    """SUSPENDED when the customer is deactivated; else ENROLLED until the first movement of a
    balance (``last_activity_date`` is set by every ledger row), ACTIVE after it."""
    if not customer.is_active:
        return SUSPENDED
    return ENROLLED if customer.last_activity_date is None else ACTIVE


def cents(amount: Decimal | None) -> int | None:
    """A money amount (a decimal of the currency's unit, 2 places) as the standard writes money:
    an integer number of cents."""
    if amount is None:
        return None
    return int((Decimal(amount) * 100).to_integral_value())


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the keys that have no value."""
    return {key: value for key, value in values.items() if value is not None}


def rendered(
    output: type[FastOutput], rows: Iterable[Any], context: dict[str, Any] | None = None
) -> list[Any]:
    """``rows`` through ``output``, as the list of a response's ``items``."""
    return list(output(rows, many=True, context=context or {}).data)


class OdOutput(FastOutput):
    """An output of this surface: a field without a value is left out (the schemas have no null)."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return _present(super().to_representation(instance))


class CustomerOut(OdOutput):
    """Customer. ``identifier`` is the customer's canonical one: phone, else e-mail, else CPF
    (``document``), else the loyalty card number (``custom``)."""

    id = serializers.CharField()
    merchantId = serializers.SerializerMethodField()
    identifier = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    contacts = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")

    def get_merchantId(self, customer: Customer) -> str:
        return self.context["merchant_id"]

    def get_identifier(self, customer: Customer) -> dict[str, str]:
        for kind, value in (("phone", customer.phone), ("email", customer.email), ("document", customer.cpf)):
            if value:
                return {"type": kind, "value": value}
        return {"type": "custom", "value": customer.card_number}

    def get_name(self, customer: Customer) -> str | None:
        return customer.full_name or None

    def get_contacts(self, customer: Customer) -> list[dict[str, str]] | None:
        contacts = [
            {"type": kind, "value": value}
            for kind, value in (("phone", customer.phone), ("email", customer.email))
            if value
        ]
        return contacts or None

    def get_metadata(self, customer: Customer) -> dict[str, Any]:
        return _present(
            {
                "cardNumber": customer.card_number,
                "tier": customer.tier,
                "segment": customer.segment,
                "isActive": customer.is_active,
                "lastActivityAt": iso_utc(customer.last_activity_date),
            }
        )


class ProgramOut(OdOutput):
    """LoyaltyProgram: the company's one program, owned by the store. ``status`` is ``active`` when
    the program is published and active, else ``inactive``."""

    id = serializers.CharField()
    merchantId = serializers.SerializerMethodField()
    name = serializers.CharField()
    ownerType = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    def get_merchantId(self, program: LoyaltyProgram) -> str:
        return self.context["merchant_id"]

    def get_ownerType(self, program: LoyaltyProgram) -> str:
        return "store"

    def get_status(self, program: LoyaltyProgram) -> str:
        return "active" if program.is_active and program.status == ProgramStatus.PUBLISHED else "inactive"

    def get_metadata(self, program: LoyaltyProgram) -> dict[str, Any]:
        try:
            tiers = [{"name": name, "minPoints": points} for name, points in program.tiers()]
        except ValueError:  # definitions the admin's form would refuse: shown as none
            tiers = []
        return _present(
            {
                "description": program.description or None,
                "pointsName": program.points_name,
                "pointsPerCurrencyUnit": float(program.points_per_currency),
                "minimumPointsRedemption": program.minimum_points_redemption,
                "pointExpirationDays": program.point_expiration_days or None,
                "tiersEnabled": program.tiers_enabled,
                "tiers": tiers if program.tiers_enabled else None,
                "programStatus": program.status,
            }
        )


class AccountOut(OdOutput):
    """LoyaltyAccount: the customer's membership of the company's one program, so its id is the
    customer's. The balance is the points balance; the account status is ``metadata.status``."""

    id = serializers.CharField()
    programId = serializers.SerializerMethodField()
    customerId = serializers.CharField(source="id")
    balanceType = serializers.SerializerMethodField()
    balance = serializers.IntegerField(source="points_balance")
    metadata = serializers.SerializerMethodField()

    def get_programId(self, customer: Customer) -> str:
        return self.context["program"].id

    def get_balanceType(self, customer: Customer) -> str:
        return "points"

    def get_metadata(self, customer: Customer) -> dict[str, Any]:
        return _present(
            {
                "status": account_status(customer),
                "tier": customer.tier,
                "pointsName": self.context["program"].points_name,
                "pointsEarned": customer.points_earned,
                "pointsSpent": customer.points_spent,
                "zupyBalance": z_format(customer.z_balance),
                "cardNumber": customer.card_number,
                "enrolledAt": iso_utc(customer.created_at),
                "lastActivityAt": iso_utc(customer.last_activity_date),
            }
        )


class TransactionOut(OdOutput):
    """LoyaltyTransaction: one points row of the ledger, its signed amount (positive earns,
    negative spends)."""

    id = serializers.CharField()
    accountId = serializers.CharField(source="customer_id")
    type = serializers.SerializerMethodField()
    amount = serializers.IntegerField()
    occurredAt = serializers.DateTimeField(source="created_at")
    metadata = serializers.SerializerMethodField()

    def get_type(self, entry: LedgerEntry) -> str:
        return TRANSACTION_TYPES.get(entry.kind, "other")

    def get_metadata(self, entry: LedgerEntry) -> dict[str, Any]:
        return _present(
            {
                "kind": entry.kind,
                "reason": entry.reason or None,
                "balanceBefore": entry.balance_before,
                "balanceAfter": entry.balance_after,
                "couponId": entry.coupon_id,
            }
        )


def reward_type(reward: Reward) -> str:
    return REWARD_TYPES.get(reward.discount_type, REWARD_TYPE_DEFAULT)


def benefit(reward: Reward, *, currency: str) -> dict[str, Any]:
    """What a reward (and each coupon of it) gives, for ``metadata``: its discount, money in cents."""
    percentage = reward.discount_percentage
    return {
        "discountType": reward.discount_type,
        "discountPercentage": None if percentage is None else float(percentage),
        "discountFixedAmount": cents(reward.discount_fixed_amount),
        "maximumDiscountValue": cents(reward.maximum_discount_value),
        "monetaryValue": cents(reward.monetary_value),
        "currency": currency,
    }


class RewardOut(OdOutput):
    """LoyaltyReward: a reward of the catalog; ``cost`` is its price in points."""

    id = serializers.CharField()
    programId = serializers.SerializerMethodField()
    type = serializers.SerializerMethodField()
    name = serializers.CharField()
    cost = serializers.IntegerField(source="points_required")
    metadata = serializers.SerializerMethodField()

    def get_programId(self, reward: Reward) -> str:
        return self.context["program"].id

    def get_type(self, reward: Reward) -> str:
        return reward_type(reward)

    def get_metadata(self, reward: Reward) -> dict[str, Any]:
        return _present(
            {
                "description": reward.description or None,
                "rewardKind": reward.reward_type,
                "origin": reward.origin_type,
                **benefit(reward, currency=self.context["currency"]),
                "validityDays": reward.validity_days,
                "usesPerCoupon": reward.total_usages_allowed,
                "redemptionLimitPerCustomer": reward.redemption_limit,
                "quantityAvailable": reward.quantity_available,
                "imageUrl": reward.image_url or None,
                "startsAt": iso_utc(reward.start_date),
                "endsAt": iso_utc(reward.end_date),
            }
        )


class CouponOut(OdOutput):
    """LoyaltyCoupon: a coupon issued from a reward (a redemption, or a marketing reward claimed)."""

    id = serializers.CharField()
    programId = serializers.SerializerMethodField()
    customerId = serializers.CharField(source="customer_id")
    code = serializers.CharField()
    status = serializers.SerializerMethodField()
    expiresAt = serializers.DateTimeField(source="valid_until")
    metadata = serializers.SerializerMethodField()

    def get_programId(self, coupon: Coupon) -> str:
        return self.context["program"].id

    def get_status(self, coupon: Coupon) -> str:
        return COUPON_STATUSES[coupon.effective_status(self.context["now"])]

    def get_metadata(self, coupon: Coupon) -> dict[str, Any]:
        reward = coupon.reward
        return _present(
            {
                "rewardId": coupon.reward_id,
                "rewardName": reward.name,
                "type": reward_type(reward),
                **benefit(reward, currency=self.context["currency"]),
                "origin": coupon.origin_type,
                "remainingUses": coupon.remaining_usages,
                "totalUses": coupon.total_usages_allowed,
                "pointsSpent": coupon.points_spent,
                "issuedAt": iso_utc(coupon.created_at),
                "usedAt": iso_utc(coupon.usage_date),
                "cancelledAt": iso_utc(coupon.cancelled_at),
            }
        )
