import re
import string
from datetime import datetime

from django.db import models
from django.db.models import F, Q

from core.ids import new_id
from core.money import POINTS_MAX, Z_MICRO_MAX
from rewards.models import OriginType

# No 0/O/1/I/L: a code read aloud or typed at a till cannot be mistaken.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RE = re.compile(rf"^CZ-[{CODE_ALPHABET}]{{8}}$")
# Coupons migrated from the previous generation (imported in the admin) keep their CP- codes, whose
# 8 characters are any upper-case letters and digits (``CP-LEGACY01``).
LEGACY_CODE_ALPHABET = string.ascii_uppercase + string.digits
LEGACY_CODE_RE = re.compile(rf"^CP-[{LEGACY_CODE_ALPHABET}]{{8}}$")
# What a till may type for a code, once upper-cased and rid of spaces and dashes: CZ and the 8
# characters, or the 8 alone; or CP and the 8 of a legacy code. Length tells them apart (a KSUID, 27
# characters, is none of them), except for 8 that begin with CZ (C and Z are code characters): the
# code CZ-CZ…… without its prefix, or the prefix and 6 characters of another code? That one is
# refused rather than guessed. A legacy code keeps its prefix: 8 characters alone are a CZ code, as
# they always were (its alphabet would make most of them ambiguous).
_TYPED_CODE_RE = re.compile(
    rf"^(?:CZ(?P<cz>[{CODE_ALPHABET}]{{8}})|(?!CZ)(?P<bare>[{CODE_ALPHABET}]{{8}})"
    rf"|CP(?P<cp>[{LEGACY_CODE_ALPHABET}]{{8}}))$"
)
_TYPED_SEPARATORS = str.maketrans("", "", " -")
CODE_EXPECTED = (
    f"A coupon is named by its id (27 letters and digits) or its code: CZ- and 8 of {CODE_ALPHABET} "
    "(never 0, O, 1, I or L), in any case, spaces and dashes ignored. The CZ- prefix may be left out "
    "unless the 8 characters themselves begin with CZ. A coupon migrated from the previous "
    "generation is CP- and 8 letters or digits, with its prefix."
)


def code_from_typed(typed: str) -> str | None:
    """The coupon code ``typed`` names (``CZ-ABCD2345``, or a legacy ``CP-LEGACY01``), or None if it
    names none or could name two: case, spaces, dashes and the ``CZ`` prefix are ignored; nothing
    else is guessed (no O for 0). The one rule for reading a code, wherever one is accepted."""
    match = _TYPED_CODE_RE.match(typed.upper().translate(_TYPED_SEPARATORS))
    if match is None:
        return None
    if match["cp"]:
        return f"CP-{match['cp']}"
    return f"CZ-{match['cz'] or match['bare']}"


class CouponStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    USED = "used", "Used"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


class Coupon(models.Model):
    """A redeemed reward, usable ``total_usages_allowed`` times before ``valid_until``.

    The stored ``status`` may still say active after ``valid_until``: every read goes through
    ``effective_status`` (or the equivalent queryset filter) so it reads as expired everywhere.
    """

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="coupons")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="coupons")
    reward = models.ForeignKey("rewards.Reward", on_delete=models.PROTECT, related_name="coupons")
    code = models.CharField(max_length=11, unique=True)
    status = models.CharField(max_length=10, choices=CouponStatus.choices, default=CouponStatus.ACTIVE)
    total_usages_allowed = models.IntegerField()
    remaining_usages = models.IntegerField()
    origin_type = models.CharField(
        max_length=16, choices=OriginType.choices, default=OriginType.LOYALTY_REWARD, editable=False
    )  # the reward's when the coupon was issued
    points_spent = models.BigIntegerField(default=0)
    z_tokens_spent = models.BigIntegerField(default=0, help_text="micro-Z$ (1 Z$ = 1 000 000)")
    valid_until = models.DateTimeField()
    usage_date = models.DateTimeField(null=True, blank=True, help_text="Last use.")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    expiring_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="coupon.expiring was emitted."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_usages_allowed__gte=1), name="coupon_total_usages_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(remaining_usages__gte=0), name="coupon_remaining_usages_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(remaining_usages__lte=F("total_usages_allowed")),
                name="coupon_remaining_lte_total",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CouponStatus]), name="coupon_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=CouponStatus.USED) | Q(remaining_usages=0),
                name="coupon_used_has_no_uses_left",
            ),
            models.CheckConstraint(condition=Q(points_spent__gte=0), name="coupon_points_spent_gte_0"),
            models.CheckConstraint(
                condition=Q(origin_type__in=[o.value for o in OriginType]), name="coupon_origin_type_valid"
            ),
            models.CheckConstraint(condition=Q(z_tokens_spent__gte=0), name="coupon_z_spent_gte_0"),
            models.CheckConstraint(
                condition=Q(points_spent__lte=POINTS_MAX, z_tokens_spent__lte=Z_MICRO_MAX),
                name="coupon_spent_within_limits",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "id"], name="coupon_company_id"),
            models.Index(fields=["customer", "id"], name="coupon_customer_id"),
            models.Index(fields=["customer", "reward", "status"], name="coupon_customer_reward_status"),
        ]

    def __str__(self) -> str:
        return self.code

    def is_expired(self, now: datetime) -> bool:
        return Coupon.expired_at(now, valid_until=self.valid_until)

    @staticmethod
    def expired_at(now: datetime, *, valid_until: datetime) -> bool:
        return valid_until <= now

    def effective_status(self, now: datetime) -> str:
        return Coupon.status_at(now, status=self.status, valid_until=self.valid_until)

    @staticmethod
    def status_at(now: datetime, *, status: str, valid_until: datetime) -> str:
        """``effective_status`` over a coupon's values, for a list that reads rows rather than
        instances."""
        if status == CouponStatus.ACTIVE and Coupon.expired_at(now, valid_until=valid_until):
            return CouponStatus.EXPIRED
        return status


class CouponUse(models.Model):
    """One validation of a coupon at a till: when, and with which API key."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="uses")
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="+")
    api_key = models.ForeignKey(
        "companies.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField()
    remaining_after = models.IntegerField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(remaining_after__gte=0), name="coupon_use_remaining_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} @ {self.used_at:%Y-%m-%d %H:%M:%S}"
