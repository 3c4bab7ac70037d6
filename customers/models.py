from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from zupy.ids import new_id

Z_PLACES = Decimal("0.000001")


class Tier(models.TextChoices):
    DEFAULT = "default"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"
    VIP = "vip"


class Customer(models.Model):
    """A loyalty member of one company. Balances change only through ``customers.services.ledger_post``,
    which writes the LedgerEntry that explains every change."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("zupy.Company", on_delete=models.PROTECT, related_name="customers")
    full_name = models.CharField(max_length=200, blank=True)
    # NULL, not "", for "none": the per-company unique constraints apply only to present values.
    phone = models.CharField(max_length=20, null=True, blank=True, help_text="E.164: +5511987654321")  # noqa: DJ001
    email = models.EmailField(null=True, blank=True)  # noqa: DJ001
    cpf = models.CharField(max_length=11, null=True, blank=True, help_text="11 digits")  # noqa: DJ001
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.DEFAULT)
    points_balance = models.IntegerField(default=0)
    points_earned = models.IntegerField(default=0)
    points_spent = models.IntegerField(default=0)
    z_balance = models.DecimalField(max_digits=20, decimal_places=6, default=Decimal("0"))
    is_active = models.BooleanField(default=True)
    last_activity_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(points_balance__gte=0), name="customer_points_balance_gte_0"),
            models.CheckConstraint(condition=Q(z_balance__gte=0), name="customer_z_balance_gte_0"),
            models.UniqueConstraint(
                fields=["company", "phone"], condition=Q(phone__isnull=False), name="customer_unique_phone"
            ),
            models.UniqueConstraint(
                fields=["company", "email"], condition=Q(email__isnull=False), name="customer_unique_email"
            ),
            models.UniqueConstraint(
                fields=["company", "cpf"], condition=Q(cpf__isnull=False), name="customer_unique_cpf"
            ),
        ]
        indexes = [models.Index(fields=["company", "id"], name="customer_company_id")]

    def __str__(self) -> str:
        return f"{self.full_name or self.id} ({self.phone or self.email or self.cpf or '-'})"


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
    currency is its balance, which ``ledger_check`` verifies."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("zupy.Company", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="ledger")
    currency = models.CharField(max_length=8, choices=Currency.choices)
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    balance_before = models.DecimalField(max_digits=20, decimal_places=6)
    balance_after = models.DecimalField(max_digits=20, decimal_places=6)
    reason = models.CharField(max_length=255, blank=True)
    coupon = models.ForeignKey(
        "coupons.Coupon", null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    api_key = models.ForeignKey(
        "zupy.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
        ]
        indexes = [models.Index(fields=["customer", "currency", "id"], name="ledger_customer_currency_id")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.currency} {self.amount:+}"
