import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from companies.models import Tier
from core.ids import new_id
from core.money import POINTS_BALANCE_MAX, POINTS_MAX, Z_MICRO_MAX, z_format
from customers.identifiers import NORMALISERS


class Segment(models.TextChoices):
    """RFM segments (recency, frequency, monetary); the rule is ``segment_for``, docs/loyalty.md."""

    CHAMPIONS = "champions"
    LOYAL = "loyal"
    PROMISING = "promising"
    AT_RISK = "at_risk"
    NEW = "new"


# The segment rule's thresholds. Recency counts from the last activity (or enrolment), frequency is
# the number of earning visits, monetary the lifetime points.
SEGMENT_AT_RISK_AFTER = timedelta(days=60)
SEGMENT_RECENT_WITHIN = timedelta(days=30)
SEGMENT_NEW_WITHIN = timedelta(days=30)
CHAMPION_VISITS = 10
CHAMPION_POINTS = 1000
LOYAL_VISITS = 5


def segment_for(
    *, joined: datetime, last_activity: datetime | None, visits: int, points_earned: int, now: datetime
) -> str:
    """The RFM segment, first match wins:
    at_risk   no activity for more than 60 days;
    champions active within 30 days, at least 10 visits and 1000 lifetime points;
    loyal     at least 5 visits;
    new       enrolled within 30 days;
    promising everyone else (active within 60 days, fewer than 5 visits, enrolled earlier)."""
    recency = now - (last_activity or joined)
    if recency > SEGMENT_AT_RISK_AFTER:
        return Segment.AT_RISK.value
    if recency <= SEGMENT_RECENT_WITHIN and visits >= CHAMPION_VISITS and points_earned >= CHAMPION_POINTS:
        return Segment.CHAMPIONS.value
    if visits >= LOYAL_VISITS:
        return Segment.LOYAL.value
    if now - joined <= SEGMENT_NEW_WITHIN:
        return Segment.NEW.value
    return Segment.PROMISING.value


CARD_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud at a till


def new_card_number() -> str:
    """``ZP-`` and 10 random characters (50 bits): unique per company by constraint."""
    return "ZP-" + "".join(secrets.choice(CARD_ALPHABET) for _ in range(10))


class Customer(models.Model):
    """A loyalty member of one company. Balances change only through ``customers.services.ledger_post``,
    which writes the LedgerEntry that explains every change."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="customers")
    full_name = models.CharField(max_length=200, blank=True)
    # NULL, not "", for "none": the per-company unique constraints apply only to present values.
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164: +5511987654321")  # noqa: DJ001
    email = models.EmailField(null=True, blank=True)  # noqa: DJ001
    cpf = models.CharField(max_length=11, null=True, blank=True, help_text="11 digits")  # noqa: DJ001
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.DEFAULT)
    card_number = models.CharField(max_length=20, default=new_card_number, editable=False)
    segment = models.CharField(max_length=16, choices=Segment.choices, default=Segment.NEW)
    visit_count = models.PositiveIntegerField(default=0, help_text="Earning visits (RFM frequency).")
    points_balance = models.BigIntegerField(default=0)
    points_earned = models.BigIntegerField(default=0)
    points_spent = models.BigIntegerField(default=0)
    z_balance = models.BigIntegerField(default=0, help_text="micro-Z$ (1 Z$ = 1 000 000)")
    is_active = models.BooleanField(default=True)
    last_activity_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="customer_points_balance_gte_0"),
            models.CheckConstraint(condition=Q(z_balance__gte=0), name="customer_z_balance_gte_0"),
            models.CheckConstraint(
                condition=Q(points_balance__lte=POINTS_MAX, points_earned__lte=POINTS_MAX)
                & Q(points_spent__lte=POINTS_MAX, z_balance__lte=Z_MICRO_MAX),
                name="customer_balances_within_limits",
            ),
            models.UniqueConstraint(
                fields=["company", "phone"], condition=Q(phone__isnull=False), name="customer_unique_phone"
            ),
            models.UniqueConstraint(
                fields=["company", "email"], condition=Q(email__isnull=False), name="customer_unique_email"
            ),
            models.UniqueConstraint(
                fields=["company", "cpf"], condition=Q(cpf__isnull=False), name="customer_unique_cpf"
            ),
            models.UniqueConstraint(fields=["company", "card_number"], name="customer_unique_card_number"),
        ]
        indexes = [
            models.Index(fields=["company", "id"], name="customer_company_id"),
            # The list's filters, in its order (newest id first).
            models.Index(fields=["company", "tier", "id"], name="customer_company_tier_id"),
            models.Index(fields=["company", "segment", "id"], name="customer_company_segment_id"),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.id} ({self.phone or self.email or self.cpf or '-'})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is None or not NORMALISERS.keys().isdisjoint(update_fields):
            self.normalise_identifiers()
        super().save(*args, **kwargs)

    def normalise_identifiers(self) -> None:
        """Phone, e-mail and CPF in their normal form (``customers.identifiers``), blank as NULL.

        ``save`` calls it, so whoever writes a customer (the API, OTP, the admin, seeding, a shell)
        stores the one spelling that lookups, enrolment's matching and the per-company unique
        constraints compare. A value with no normal form is a ValidationError naming its field."""
        errors: dict[str, str] = {}
        for field, normalise in NORMALISERS.items():
            raw = getattr(self, field)
            if raw is None or not raw.strip():
                setattr(self, field, None)
                continue
            try:
                setattr(self, field, normalise(raw))
            except ValueError as exc:
                errors[field] = str(exc)
        if errors:
            raise ValidationError(errors)

    def points_room(self) -> int:
        """How many points earning or an adjustment may still add (``core.money.POINTS_BALANCE_MAX``)."""
        return max(POINTS_BALANCE_MAX - self.points_balance, 0)

    def segment_now(self, now: datetime) -> str:
        return segment_for(
            joined=self.created_at,
            last_activity=self.last_activity_date,
            visits=self.visit_count,
            points_earned=self.points_earned,
            now=now,
        )


class Currency(models.TextChoices):
    POINTS = "points", "Points"
    Z = "z", "Z$"


class EntryKind(models.TextChoices):
    EARN = "earn", "Earned"
    REDEEM = "redeem", "Spent on a reward"
    REFUND = "refund", "Refund of a cancelled coupon"
    ADJUST = "adjust", "Manual adjustment"


class LedgerEntry(models.Model):
    """One change of a customer's points or Z$. Append-only: the sum of a customer's entries per
    currency is its balance, which ``ledger_check`` verifies. Amounts are integers in the currency's
    unit: whole points, or micro-Z$ (``core.money``)."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger")
    currency = models.CharField(max_length=8, choices=Currency.choices)
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    amount = models.BigIntegerField()
    balance_before = models.BigIntegerField()
    balance_after = models.BigIntegerField()
    reason = models.CharField(max_length=255, blank=True)
    coupon = models.ForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    api_key = models.ForeignKey(
        "companies.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_amount_nonzero"),
            models.CheckConstraint(
                condition=Q(balance_after=F("balance_before") + F("amount")), name="ledger_balance_arithmetic"
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="ledger_balance_after_gte_0"),
            # Bounded so that balance_before + amount above cannot overflow 64 bits.
            models.CheckConstraint(
                condition=Q(amount__gte=-Z_MICRO_MAX, amount__lte=Z_MICRO_MAX)
                & (
                    Q(currency=Currency.POINTS, balance_after__lte=POINTS_MAX)
                    | Q(currency=Currency.Z, balance_after__lte=Z_MICRO_MAX)
                ),
                name="ledger_within_limits",
            ),
        ]
        indexes = [models.Index(fields=["customer", "currency", "id"], name="ledger_customer_currency_id")]

    def __str__(self) -> str:
        sign = "+" if self.amount > 0 else ""
        return f"{self.customer_id} {self.currency} {sign}{self.display(self.amount)}"

    def display(self, value: int) -> str:
        """An amount of this entry's currency as people read it: points, or Z$ with 6 places."""
        return z_format(value) if self.currency == Currency.Z else str(value)
