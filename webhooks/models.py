import uuid

from django.db import models

from core.ids import new_id

# The longest webhook URL we keep (configuration and outbox columns, and the API's input limit).
URL_MAX_LENGTH = 500

EVENTS = (
    "customer.enrolled",
    "customer.tier_changed",
    "points.earned",
    "points.spent",
    "reward.redeemed",
    "coupon.used",
    "coupon.cancelled",
    "coupon.expiring",
    "coupon.expired",
)


class WebhookEndpoint(models.Model):
    """A company's webhook configuration. The secret signs every delivery, so it is kept (not only a
    digest); the API shows it once, when it is generated, and masked afterwards."""

    company = models.OneToOneField("companies.Company", on_delete=models.CASCADE, related_name="webhook")
    url = models.URLField(max_length=URL_MAX_LENGTH, blank=True)
    secret = models.CharField(max_length=64)
    events = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.company_id} -> {self.url or '(disabled)'}"

    @property
    def masked_secret(self) -> str:
        return "*" * (len(self.secret) - 4) + self.secret[-4:] if self.secret else ""


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    # The first attempt and every retry of WEBHOOK_RETRY_DELAYS failed: the upstream guide's name for it.
    EXHAUSTED = "exhausted"


class Surface(models.TextChoices):
    """The contract a delivery follows: the envelope it carries was built for it, it is signed with
    that surface's scheme, and each attempt goes to that surface's subscriber as it is then."""

    # The company's own endpoint (WebhookEndpoint); X-Webhook-* headers, "sha256=" signatures.
    ZUPY = "zupy", "Zupy webhooks"
    # An OpenDelivery client's webhook (``recipient`` is the client); X-App-* headers, the body's
    # HMAC-SHA256 in lowercase hex.
    OPENDELIVERY = "opendelivery", "OpenDelivery"


class WebhookDelivery(models.Model):
    """The transactional outbox: one row per event for one endpoint, written in the same transaction
    as the change it reports. ``webhook_id`` (a UUID, as the upstream guide says) is the id receivers
    see in the payload and in ``X-Webhook-Id``, the same on every retry; ``id`` orders the outbox."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    webhook_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40)
    surface = models.CharField(max_length=16, choices=Surface.choices, default=Surface.ZUPY)
    # Who subscribed, on a surface other than the company's own endpoint (OpenDelivery: the client's
    # id). Not a foreign key: the surface's app owns those rows and resolves it at each attempt.
    recipient = models.CharField(max_length=27, blank=True)
    payload = models.JSONField()
    url = models.URLField(max_length=URL_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The lease: a worker that claims the row sets both and commits before it sends, so no lock or
    # transaction is open during the HTTP call. Another worker skips the row until ``locked_until``;
    # the token lets the claiming worker record its attempt only if the lease is still its own.
    locked_until = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(surface=Surface.ZUPY) & models.Q(recipient=""))
                | (~models.Q(surface=Surface.ZUPY) & ~models.Q(recipient="")),
                name="webhook_recipient_by_surface",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"{self.delivery_id} @ {self.attempted_at:%H:%M:%S} -> {self.status_code or self.error}"
