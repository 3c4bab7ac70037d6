"""OpenDelivery's side of a company: the platforms' clients and their links to merchants, the
company's merchant identity and accrual rate, and the records that make the surface's writes
idempotent (redemptions in flight, orders accrued, coupons used).

Ids the standard shows: ``customerId`` and ``accountId`` are the customer's id (one loyalty account
per customer, in the company's one program), ``programId`` the program's, ``rewardId`` the reward's,
``couponId`` the coupon's."""

import uuid
from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from core.ids import new_id
from integrations.models import Rounding


class ClientKind(models.TextChoices):
    # The standard's two ``clientIdGeneration`` models.
    BY_MERCHANT = "by_merchant", "by_merchant (one company)"
    BY_APP = "by_app", "by_app (one application, the companies that link it)"


# The scopes a client may be granted (the token's ``scope``).
SCOPES = {"od.crm": "Customer and loyalty operations", "od.all": "Every operation this server serves"}


class OdClient(models.Model):
    """An OpenDelivery client: an ordering platform's credential. The OAuth2 application (client id,
    the secret as a digest only, the grant) is django-oauth-toolkit's; this row says what the
    credential reaches. A by_merchant client belongs to one company; a by_app client reaches the
    companies that link it (``OdMerchantLink``). Its webhook receives the signed loyalty events."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="od_client"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=ClientKind.choices)
    company = models.ForeignKey(
        "companies.Company",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="by_merchant only: the one company this client reaches.",
    )
    scopes = models.CharField(max_length=100, default="od.crm", help_text="Space-separated: od.crm, od.all.")
    enabled = models.BooleanField(default=True)
    webhook_url = models.URLField(max_length=500, blank=True, help_text="Empty: no loyalty events.")
    webhook_secret = models.CharField(max_length=64, blank=True)
    webhook_events = models.JSONField(
        default=list, blank=True, help_text="Empty: the standard's four events; extensions only when listed."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OpenDelivery client"
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ClientKind.BY_MERCHANT) & Q(company__isnull=False))
                | (Q(kind=ClientKind.BY_APP) & Q(company__isnull=True)),
                name="od_client_company_by_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class OdMerchantLink(models.Model):
    """A company reachable by a client, under the ``merchantId`` the client's application knows it
    by (``X-App-MerchantId``, ``?storeId=``; sent back on every event). A by_merchant client has
    exactly its own company's link; a by_app client one per company that linked it."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    client = models.ForeignKey(OdClient, on_delete=models.CASCADE, related_name="links")
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    merchant_id = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OpenDelivery merchant link"
        constraints = [
            models.UniqueConstraint(fields=["client", "merchant_id"], name="od_link_merchant_id_per_client"),
            models.UniqueConstraint(fields=["client", "company"], name="od_link_company_per_client"),
            models.CheckConstraint(condition=~Q(merchant_id=""), name="od_link_merchant_id_present"),
        ]

    def __str__(self) -> str:
        return f"{self.client_id} -> {self.company_id} as {self.merchant_id}"


class OdMerchant(models.Model):
    """The company as an OpenDelivery merchant: its ``externalCode`` (ours, stable) and its accrual
    rate for orders (points per currency unit, rounded; NULL: orders are accepted and award nothing)."""

    company = models.OneToOneField(
        "companies.Company", on_delete=models.CASCADE, primary_key=True, related_name="od_merchant"
    )
    external_code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    points_per_unit = models.DecimalField(
        max_digits=10,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Points per currency unit of an order; empty: accrual off.",
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OpenDelivery merchant"
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_unit__isnull=True) | Q(points_per_unit__gte=0),
                name="od_merchant_rate_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company_id} ({self.external_code})"


class RedemptionStatus(models.TextChoices):
    ACCEPTED = "accepted"  # answered 202, waiting for the worker
    ISSUED = "issued"  # the coupon exists
    REFUSED = "refused"  # the worker's coupon_redeem refused it (the balance moved meanwhile, stock...)


class OdRedemption(models.Model):
    """``createLoyaltyRedemption``: accepted in the request (affordability checked), carried out by
    the worker through ``coupon_redeem`` (the outbox: lease columns as core.outbox claims them). The
    id is the ``correlationId``. ``request_key`` makes a retry the same redemption: the client's
    ``Idempotency-Key``, or a digest of the request when it names a ``relatedOrderId``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(OdClient, on_delete=models.CASCADE, related_name="+")
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    reward = models.ForeignKey("rewards.Reward", on_delete=models.CASCADE, related_name="+")
    related_order_id = models.CharField(max_length=100, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    request_key = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=RedemptionStatus.choices, default=RedemptionStatus.ACCEPTED
    )
    coupon = models.OneToOneField(
        "coupons.Coupon", on_delete=models.SET_NULL, null=True, blank=True, related_name="od_redemption"
    )
    refusal = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OpenDelivery redemption"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "company", "request_key"],
                condition=~Q(request_key=""),
                name="od_redemption_once",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="od_redemption_due")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class OrderStatus(models.TextChoices):
    CREDITED = "credited"  # points awarded (points > 0)
    NOTHING = "nothing"  # accepted, nothing awarded (no rate, zero points, no usable identifier)
    CANCELLED = "cancelled"  # order.cancelled: what it awarded is reversed (``points_reversed``)


class OdOrder(models.Model):
    """One order an ordering platform reported (``order.created`` / ``order.cancelled``), once per
    (company, orderId): the unique constraint is what makes 20 identical events credit once. A
    cancel takes back at most what the balance holds: ``points_reversed`` below ``points_awarded``
    is the shortfall the customer had already spent (``reason`` says so)."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    order_id = models.CharField(max_length=100)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=OrderStatus.choices)
    reason = models.CharField(max_length=200, blank=True)
    total_cents = models.BigIntegerField(null=True, blank=True)
    points_awarded = models.BigIntegerField(default=0)
    points_reversed = models.BigIntegerField(default=0)
    # The program's Z$ bonus credited with the points (micro-Z$), taken back with them on a cancel.
    z_awarded = models.BigIntegerField(default=0)
    z_reversed = models.BigIntegerField(default=0)
    created_event_id = models.CharField(max_length=100, blank=True)
    cancelled_event_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OpenDelivery order"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["company", "order_id"], name="od_order_once"),
            models.CheckConstraint(
                condition=Q(points_awarded__gte=0, points_reversed__gte=0)
                & Q(points_reversed__lte=models.F("points_awarded")),
                name="od_order_reversal_bounded",
            ),
            models.CheckConstraint(
                condition=Q(z_awarded__gte=0, z_reversed__gte=0) & Q(z_reversed__lte=models.F("z_awarded")),
                name="od_order_z_reversal_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} ({self.status})"


class OdCouponUse(models.Model):
    """``useLoyaltyCoupon``: the order a coupon was used for, so that the same (coupon, order) again
    is 200 with the coupon as it is, and another order 409."""

    coupon = models.OneToOneField(
        "coupons.Coupon", on_delete=models.CASCADE, primary_key=True, related_name="od_use"
    )
    client = models.ForeignKey(OdClient, on_delete=models.CASCADE, related_name="+")
    related_order_id = models.CharField(max_length=100, blank=True)
    used_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "OpenDelivery coupon use"

    def __str__(self) -> str:
        return f"{self.coupon_id} for {self.related_order_id or '-'}"
