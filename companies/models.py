import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.text import slugify

from core.ids import new_id
from core.money import Z_BONUS_PER_POINT_MAX, z_to_micro
from core.rendering import ResponseFormat


class RateTier(models.TextChoices):
    """A company's rate tier; its limit is configuration (``ZUPY_RATE_LIMITS``, requests per minute
    per API key), so the labels people see come from ``rate_tier_choices``."""

    FREE = "free", "Free"
    STANDARD = "standard", "Standard"
    ENTERPRISE = "enterprise", "Enterprise"


def rate_tier_choices() -> list[tuple[str, str]]:
    """The tiers labelled with the limits this process enforces ("Free (60/min)"). The model field's
    choices are this function, so the admin's form, list and filter read the setting when they
    render, and a changed limit needs no migration."""
    return [(tier.value, f"{tier.label} ({settings.ZUPY_RATE_LIMITS[tier.value]}/min)") for tier in RateTier]


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


class CompanyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    LOCKED = "locked", "Locked (chargeback/fraud)"
    SUSPENDED = "suspended", "Suspended"


SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"


def slug_for(name: str, id_: str) -> str:
    """A public slug (the upstream pattern ``^[-a-zA-Z0-9_]+$``): the name's, made unique by the end
    of the id (its random part), so two "Café Central"s never clash."""
    return f"{slugify(name)[:40] or 'company'}-{id_[-8:]}"


class Company(models.Model):
    """A restaurant: owns customers, rewards, coupons and API keys. Its OTP policy defaults to strict.

    The profile fields (trading name … currency) are the upstream ``CompanyProfile``'s, edited in the
    admin and served read-only by GET /companies/; unknown text is "" (never NULL), as the document
    declares those strings non-nullable."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, blank=True, help_text="Empty: made from the name.")
    trading_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(help_text="Contact e-mail, required: company and program answers carry it.")
    phone = models.CharField(max_length=20, blank=True)
    website = models.URLField(blank=True)
    logo_uuid = models.UUIDField(null=True, blank=True)
    primary_color = models.CharField(max_length=20, blank=True)
    secondary_color = models.CharField(max_length=20, blank=True)
    social_links = models.JSONField(
        default=dict, blank=True, help_text="Keys: instagram, tiktok, linkedin, x, whatsapp."
    )
    instagram_url = models.URLField(blank=True)
    google_review_url = models.URLField(blank=True)
    menu_url = models.URLField(blank=True)
    survey_url = models.URLField(blank=True)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=100, blank=True)
    zip_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True, default="BR")
    business_type = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    currency = models.CharField(max_length=3, default="BRL", help_text="ISO 4217 (BRL, USD, EUR).")
    is_branch = models.BooleanField(default=False)
    branch_name = models.CharField(max_length=200, blank=True)
    is_public = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=CompanyStatus.choices, default=CompanyStatus.ACTIVE)
    is_active = models.BooleanField(default=True)
    rate_tier = models.CharField(max_length=16, choices=rate_tier_choices, default=RateTier.FREE)
    require_otp_for_enrollment = models.BooleanField(default=True)
    require_otp_for_redemption = models.BooleanField(default=True)
    require_otp_for_coupon_usage = models.BooleanField(default=True)
    trust_partner_validation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "zupy_company"  # the tables keep the names they were created with
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            self.slug = slug_for(self.name, self.id)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "slug"}
        super().save(*args, **kwargs)

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


class Tier(models.TextChoices):
    """A customer's loyalty tier (the upstream TierEnum). "default" is the tier below every other."""

    DEFAULT = "default"
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"
    VIP = "vip"


def default_tier_definitions() -> list[dict[str, Any]]:
    return [
        {"name": Tier.BRONZE.value, "min_points": 0},
        {"name": Tier.SILVER.value, "min_points": 1000},
        {"name": Tier.GOLD.value, "min_points": 5000},
    ]


class ProgramStatus(models.TextChoices):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class LoyaltyProgram(models.Model):
    """A company's loyalty program: exactly one per company (the unique ``company`` below, created
    with the company by ``companies.signals`` and for older companies by migration 0003).

    The tier rule: with ``tiers_enabled``, a customer's tier is the last tier of
    ``tier_definitions`` (ascending ``min_points``) whose ``min_points`` the customer's lifetime
    points (``points_earned``) reach, else "default"; without, every customer is "default".
    """

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="loyalty_program")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    points_name = models.CharField(max_length=50, default="points", help_text="e.g. Stars, Coins, pontos.")
    point_expiration_days = models.PositiveIntegerField(default=0, help_text="0 means never.")
    points_per_currency = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("1.00"), help_text="Points per currency unit spent."
    )
    minimum_points_redemption = models.PositiveIntegerField(default=0)
    z_bonus_per_point = models.DecimalField(
        max_digits=10,
        decimal_places=6,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Z_BONUS_PER_POINT_MAX)],
        help_text="Z$ per point earned (points/add, integration orders), set by Zupy ops; 0: none.",
    )
    is_public = models.BooleanField(default=False)
    tiers_enabled = models.BooleanField(default=False)
    tier_definitions = models.JSONField(
        default=default_tier_definitions,
        blank=True,
        help_text='Ascending: [{"name": "bronze", "min_points": 0}, {"name": "silver", "min_points": 1000}]'
        " — names from bronze, silver, gold, platinum, vip.",
    )
    how_it_works = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ProgramStatus.choices, default=ProgramStatus.PUBLISHED)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "zupy_loyaltyprogram"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_currency__gte=0), name="program_points_per_currency_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(z_bonus_per_point__gte=0, z_bonus_per_point__lte=Z_BONUS_PER_POINT_MAX),
                name="program_z_bonus_per_point_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def z_bonus_micro(self, points: int) -> int:
        """The Z$ bonus for ``points`` awarded, in micro-Z$: exact, since the rate has 6 places."""
        return points * z_to_micro(self.z_bonus_per_point)

    def clean(self) -> None:
        try:
            self.tiers()
        except ValueError as exc:
            raise ValidationError({"tier_definitions": str(exc)}) from exc

    def tiers(self) -> list[tuple[str, int]]:
        """``tier_definitions`` as (name, min_points), checked: known names, once each, ascending."""
        raw = self.tier_definitions
        if not isinstance(raw, list):
            raise ValueError("Tier definitions must be a list of {name, min_points}.")
        tiers: list[tuple[str, int]] = []
        for item in raw:
            name = item.get("name") if isinstance(item, dict) else None
            points = item.get("min_points") if isinstance(item, dict) else None
            if name not in Tier.values or name == Tier.DEFAULT:
                raise ValueError(f"Unknown tier {name!r}: use bronze, silver, gold, platinum or vip.")
            if type(points) is not int or points < 0:
                raise ValueError(f"Tier {name}: min_points must be a whole number >= 0.")
            if tiers and (points <= tiers[-1][1] or name in dict(tiers)):
                raise ValueError("Tiers must be listed once each, by ascending min_points.")
            tiers.append((name, points))
        return tiers

    def tier_for(self, points_earned: int) -> str:
        """The tier rule (see the class docstring)."""
        tier = Tier.DEFAULT.value
        if self.tiers_enabled:
            for name, min_points in self.tiers():
                if points_earned >= min_points:
                    tier = name
        return tier

    @property
    def tier_definitions_json(self) -> str:
        return json.dumps(self.tier_definitions, separators=(",", ":"))


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
    response_format = models.CharField(
        max_length=8,
        choices=ResponseFormat.choices,
        default=ResponseFormat.ENVELOPE,
        help_text="The shape of successful answers; errors are problem+json in both.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "zupy_apikey"
        verbose_name = "API key"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(response_format__in=ResponseFormat.values), name="api_key_response_format_known"
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.company_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def matches(self, raw_key: str) -> bool:
        return hmac.compare_digest(self.digest, api_key_digest(raw_key))
