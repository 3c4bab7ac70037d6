import hashlib
import hmac

from django.db import models

from zupy.ids import new_id


class RateTier(models.TextChoices):
    FREE = "free", "Free (60/min)"
    STANDARD = "standard", "Standard (300/min)"
    ENTERPRISE = "enterprise", "Enterprise (3000/min)"


class OtpPreset(models.TextChoices):
    STRICT = "strict", "Strict: OTP for enrolment, redemption and coupon use"
    RELAXED = "relaxed", "Relaxed: OTP for redemption and coupon use"
    TRUSTED = "trusted", "Trusted: no OTP, the partner vouches for the customer"


# flags: (enrollment, redemption, coupon_usage, trust_partner_validation)
OTP_PRESETS: dict[str, tuple[bool, bool, bool, bool]] = {
    OtpPreset.STRICT: (True, True, True, False),
    OtpPreset.RELAXED: (False, True, True, False),
    OtpPreset.TRUSTED: (False, False, False, True),
}


class Company(models.Model):
    """A restaurant: owns customers, rewards, coupons and API keys. Its OTP policy defaults to strict."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    rate_tier = models.CharField(max_length=16, choices=RateTier.choices, default=RateTier.FREE)
    require_otp_for_enrollment = models.BooleanField(default=True)
    require_otp_for_redemption = models.BooleanField(default=True)
    require_otp_for_coupon_usage = models.BooleanField(default=True)
    trust_partner_validation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def apply_otp_preset(self, preset: str) -> None:
        (
            self.require_otp_for_enrollment,
            self.require_otp_for_redemption,
            self.require_otp_for_coupon_usage,
            self.trust_partner_validation,
        ) = OTP_PRESETS[preset]

    @property
    def otp_preset(self) -> str:
        flags = (
            self.require_otp_for_enrollment,
            self.require_otp_for_redemption,
            self.require_otp_for_coupon_usage,
            self.trust_partner_validation,
        )
        return next((name for name, preset in OTP_PRESETS.items() if preset == flags), "custom")


API_KEY_PREFIX = "zupy_pk_"


def api_key_digest(raw_key: str) -> str:
    """SHA-256 of the key. Keys carry ~190 random bits, so a fast digest is enough (no KDF needed)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKey(models.Model):
    """A partner's key. Only its digest is stored; the key itself is shown once, at creation."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, to recognise a key."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.company_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.digest, api_key_digest(raw_key))


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key``, replayed for 24 hours.

    Written in the same transaction as the operation it answers, so an answer exists exactly when
    the operation committed.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "key"], name="idempotency_unique_company_key")
        ]

    def __str__(self) -> str:
        return f"{self.company_id}:{self.key}"
