"""A company's partner integrations (a POS or order system that posts its sales), the bodies they
post (the inbound outbox) and what became of each order in them."""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from companies.models import OtpPreset
from core.ids import new_id


class Adapter(models.TextChoices):
    REPEDIU = "repediu", "Repediu (cliente, Celular, Valor, id_venda, ...)"
    GENERIC = "generic", "Generic (customer_phone, order_total, order_id, ...)"


class Rounding(models.TextChoices):
    DOWN = "down", "Down (89.90 at 1/unit: 89)"
    HALF_UP = "half_up", "Half up (89.50: 90)"
    UP = "up", "Up (89.10: 90)"


ROUNDING_MODES: dict[str, str] = {
    Rounding.DOWN: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.UP: ROUND_CEILING,
}


def accrual_points(amount: Decimal, points_per_unit: Decimal, rounding: str) -> int:
    """The accrual rule of every order source (an integration, an OpenDelivery merchant): ``amount``
    (currency units) times the rate, rounded to whole points by ``rounding`` (a ``Rounding``)."""
    return int((amount * points_per_unit).quantize(Decimal(1), rounding=ROUNDING_MODES[rounding]))


class Integration(models.Model):
    """One partner integration of one company: its slug in the inbound URL, the adapter that reads
    its bodies, and its accrual rule (points per currency unit, rounded). ``otp_preset`` empty: the
    company's OTP policy applies."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=120, blank=True)
    adapter = models.CharField(max_length=20, choices=Adapter.choices, default=Adapter.GENERIC)
    points_per_unit = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal(1), validators=[MinValueValidator(Decimal(0))]
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    enabled = models.BooleanField(default=True)
    otp_preset = models.CharField(
        max_length=10, choices=OtpPreset.choices, blank=True, help_text="Empty: the company's OTP policy."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "slug"], name="integration_slug_per_company"),
            models.CheckConstraint(condition=Q(points_per_unit__gte=0), name="integration_rate_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.company_id})"

    def points_for(self, amount: Decimal) -> int:
        """The accrual rule (``accrual_points``) at this integration's rate and rounding."""
        return accrual_points(amount, self.points_per_unit, self.rounding)


class BatchStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    # The body could not be read as orders at all (not an array or object of orders).
    FAILED = "failed"


class InboundBatch(models.Model):
    """One body a partner posted, stored raw with its SHA-256, and the outbox row the worker
    processes. The same body twice is the same row: the unique (company, integration, sha256)
    constraint decides, also between two requests at the same instant."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="batches")
    sha256 = models.CharField(max_length=64)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "inbound batches"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "integration", "sha256"], name="inbound_body_once"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="inbound_due")]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.id} ({self.status})"


class Outcome(models.TextChoices):
    CREDITED = "credited"
    DUPLICATE = "duplicate"  # this integration credited the order before (in this body or another)
    SKIPPED = "skipped"  # nothing to credit: no identifier, no points
    FAILED = "failed"  # the order could not be read or credited: ``reason`` says why


class OrderOutcome(models.Model):
    """What became of one order of a batch. A credited order id is credited once per integration:
    the partial unique constraint decides, whichever body (or worker) gets there first."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(InboundBatch, on_delete=models.CASCADE, related_name="outcomes")
    position = models.PositiveIntegerField()  # the order's index in the body
    order_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    customer_id = models.CharField(max_length=27, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    points = models.PositiveIntegerField(default=0)
    ledger_entry_id = models.CharField(max_length=27, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="order_outcome_once_per_batch"),
            models.UniqueConstraint(
                fields=["integration", "order_id"],
                condition=Q(outcome="credited"),
                name="order_credited_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id or '#' + str(self.position)}: {self.outcome}"
