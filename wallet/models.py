"""Wallet passes: a company's pass design, the passes issued to its customers (the loyalty card and
each coupon, per platform), the Apple devices that registered for them, the notifications partners
send into them, and the outbox of pushes and Google object updates the wallet worker sends."""

import secrets
import uuid
from datetime import datetime

from django.db import models
from django.db.models import Q

from core.ids import new_id

MESSAGE_MAX_LENGTH = 500


class Platform(models.TextChoices):
    APPLE = "apple", "Apple"
    GOOGLE = "google", "Google"


class PassKind(models.TextChoices):
    LOYALTY = "loyalty", "Loyalty card"
    COUPON = "coupon", "Coupon"


class NotificationType(models.TextChoices):
    POINTS_UPDATE = "points_update", "Points Update"
    COUPON_AVAILABLE = "coupon_available", "Coupon Available"
    PROGRAM_UPDATE = "program_update", "Program Update"


class PassState(models.TextChoices):
    ACTIVE = "active"
    VOIDED = "voided"
    EXPIRED = "expired"


HEX_COLOUR = r"^#[0-9A-Fa-f]{6}\Z"


def new_auth_token() -> str:
    """Apple's ``authenticationToken`` (at least 16 characters): 256 random bits, hex."""
    return secrets.token_hex(32)


def new_download_token() -> str:
    """The unguessable part of a pass's public URL (256 random bits)."""
    return secrets.token_urlsafe(32)


class WalletDesign(models.Model):
    """How a company's passes look: edited in the admin, the same for every customer (generation is
    reference-only: a partner names the customer and the platform, never the look)."""

    company = models.OneToOneField(
        "companies.Company", on_delete=models.CASCADE, related_name="wallet_design"
    )
    # Empty: the loyalty program's name, then the company's.
    program_name = models.CharField(max_length=60, blank=True)
    description = models.CharField(max_length=120, blank=True)
    background_color = models.CharField(max_length=7, default="#1F2937")
    foreground_color = models.CharField(max_length=7, default="#FFFFFF")
    label_color = models.CharField(max_length=7, default="#D1D5DB")
    back_text = models.TextField(blank=True, help_text="Terms and contact, on the back of every pass.")
    # The unguessable part of the design's public image URLs (/wallet/images/<token>/logo.png), which
    # Google Wallet fetches: the company's id is not in them.
    image_token = models.CharField(max_length=64, default=new_download_token, unique=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(background_color__regex=HEX_COLOUR)
                & Q(foreground_color__regex=HEX_COLOUR)
                & Q(label_color__regex=HEX_COLOUR),
                name="walletdesign_colours_hex",
            )
        ]

    def __str__(self) -> str:
        return f"Wallet design of {self.company_id}"


class WalletImage(models.Model):
    """One file of a design's images at one size, as a platform asks for it (``icon@2x.png``,
    ``logo@3x.png``, ``strip.png``, ``google-logo.png``): resized from the admin's upload and kept
    in the database, so that every replica builds and serves the same pass."""

    design = models.ForeignKey(WalletDesign, on_delete=models.CASCADE, related_name="images")
    name = models.CharField(max_length=40)
    data = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["design", "name"], name="walletimage_one_per_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.width}x{self.height})"


class WalletPass(models.Model):
    """One pass: a customer's loyalty card, or one coupon, on one platform. ``changed_at`` moves
    whenever what the pass shows changes; it is Apple's update tag and ``Last-Modified``."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    coupon = models.ForeignKey(
        "coupons.Coupon", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=PassKind.choices)
    platform = models.CharField(max_length=8, choices=Platform.choices)
    serial_number = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    auth_token = models.CharField(max_length=64, default=new_auth_token, editable=False)
    download_token = models.CharField(max_length=64, default=new_download_token, unique=True, editable=False)
    # The partner's last notification, shown on the pass (Apple: a back field; Google: a message).
    message = models.CharField(max_length=MESSAGE_MAX_LENGTH, blank=True)
    message_type = models.CharField(max_length=20, choices=NotificationType.choices, blank=True)
    message_at = models.DateTimeField(null=True, blank=True)
    # Google: the object's id in the issuer's namespace ("<issuer>.<id>"), once inserted.
    google_object_id = models.CharField(max_length=120, blank=True)
    # Google: when the save link was first used / the object was removed, as far as we know.
    added_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=PassKind.LOYALTY, coupon__isnull=True)
                | Q(kind=PassKind.COUPON, coupon__isnull=False),
                name="walletpass_coupon_iff_coupon_kind",
            ),
            models.CheckConstraint(
                condition=Q(platform__in=[p.value for p in Platform]), name="walletpass_platform_valid"
            ),
            # One card per customer and platform, one pass per coupon and platform: a second POST
            # answers the existing pass.
            models.UniqueConstraint(
                fields=["customer", "platform"],
                condition=Q(kind=PassKind.LOYALTY),
                name="walletpass_one_card_per_platform",
            ),
            models.UniqueConstraint(
                fields=["coupon", "platform"],
                condition=Q(kind=PassKind.COUPON),
                name="walletpass_one_per_coupon_platform",
            ),
        ]
        indexes = [models.Index(fields=["company", "customer", "id"], name="walletpass_customer")]

    def __str__(self) -> str:
        return f"{self.kind} pass {self.id} ({self.platform})"

    def state(self, now: datetime) -> str:
        """What the pass is now: ``active``; a coupon's pass ``voided`` once the coupon is used up or
        cancelled, ``expired`` once it is past ``valid_until``. Reads ``coupon`` (load it with the pass)."""
        if self.coupon is None:
            return PassState.ACTIVE
        status = self.coupon.effective_status(now)
        if status in ("used", "cancelled"):
            return PassState.VOIDED
        return PassState.EXPIRED if status == "expired" else PassState.ACTIVE


class AppleDevice(models.Model):
    """An Apple device that registered with the PassKit web service, with its push token (Apple's:
    one per device, whichever pass it registers). What the device said about itself is each
    registration's, never the device's: one company must not read what another company's
    registration sent."""

    device_library_identifier = models.CharField(max_length=100, unique=True)
    push_token = models.CharField(max_length=200)
    first_registered_at = models.DateTimeField(auto_now_add=True)
    last_registered_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.device_library_identifier


class AppleRegistration(models.Model):
    """A device's registration for one pass. Unregistering keeps the row (``unregistered_at``) so
    the pass's status can say it was removed; a new registration clears it."""

    device = models.ForeignKey(AppleDevice, on_delete=models.CASCADE, related_name="registrations")
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="registrations")
    registered_at = models.DateTimeField()
    unregistered_at = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)
    # What the registering request's User-Agent and Accept-Language said, for this pass's company only.
    platform_hint = models.CharField(max_length=20, blank=True)  # "ios", "watchos"
    os_version = models.CharField(max_length=40, blank=True)
    locale = models.CharField(max_length=35, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["device", "wallet_pass"], name="appleregistration_unique")
        ]

    def __str__(self) -> str:
        return f"{self.device_id} -> {self.wallet_pass_id}"


class WalletNotification(models.Model):
    """A partner's ``POST wallet/notifications/``: kept as the log of what was asked and what the
    fan-out did with it."""

    class Outcome(models.TextChoices):
        QUEUED = "queued"
        THROTTLED = "throttled"  # over the per-customer hourly limit: accepted (202), not delivered
        NO_PASS = "no_pass"  # the customer holds no pass of this company: nothing to deliver

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=20, choices=NotificationType.choices)
    message = models.CharField(max_length=MESSAGE_MAX_LENGTH)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "created_at"], name="walletnotif_customer_time")]

    def __str__(self) -> str:
        return f"{self.type} to {self.customer_id} ({self.outcome})"


class JobKind(models.TextChoices):
    APPLE_PUSH = "apple_push"  # an APNs push to one registration's device: "your pass changed"
    GOOGLE_SYNC = "google_sync"  # PATCH the Google object to what the pass shows now
    GOOGLE_MESSAGE = "google_message"  # add the pass's latest message to the Google object


class JobStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    EXHAUSTED = "exhausted"  # every retry failed
    DROPPED = "dropped"  # nothing left to do: the device unregistered, APNs said the token is gone


class WalletJob(models.Model):
    """The wallet outbox: written in the transaction of the change it follows, sent by the wallet
    worker under a lease (the webhook worker's pattern: no lock open during the network call)."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.CASCADE, related_name="+")
    wallet_pass = models.ForeignKey(WalletPass, on_delete=models.CASCADE, related_name="jobs")
    registration = models.ForeignKey(
        AppleRegistration, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs"
    )
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    lease = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="walletjob_due")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=JobKind.APPLE_PUSH) | Q(registration__isnull=False),
                name="walletjob_push_has_registration",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"
