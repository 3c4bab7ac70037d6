from datetime import datetime

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce

from core.ids import new_id


class RewardType(models.TextChoices):
    OTHER = "other"
    GENERIC = "generic"
    WELCOME = "welcome"
    RETURN = "return"
    BIRTHDAY = "birthday"
    SURPRISE = "surprise"
    RECOVERY = "recovery"
    GIFT = "gift"


class DiscountType(models.TextChoices):
    NONE = "none"
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_SHIPPING = "free_shipping"
    FREE_ITEM = "free_item"
    CONDITIONAL = "conditional"


class OriginType(models.TextChoices):
    """Where a coupon comes from: a reward bought with points, or a marketing reward claimed free."""

    LOYALTY_REWARD = "loyalty_reward", "Loyalty reward (redeemed with points)"
    MARKETING = "marketing", "Marketing (claimed without points)"


class Reward(models.Model):
    """An item of a company's catalog. Redeeming it creates a coupon."""

    id = models.CharField(primary_key=True, max_length=27, default=new_id, editable=False)
    company = models.ForeignKey("companies.Company", on_delete=models.PROTECT, related_name="rewards")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    reward_type = models.CharField(max_length=16, choices=RewardType.choices, default=RewardType.GENERIC)
    points_required = models.IntegerField(default=0)
    origin_type = models.CharField(
        max_length=16,
        choices=OriginType.choices,
        default=OriginType.LOYALTY_REWARD,
        help_text="Marketing: claimed without points (0 points required; once per customer unless limited).",
    )
    validity_days = models.IntegerField(default=30)
    total_usages_allowed = models.IntegerField(default=1, help_text="Uses per coupon (1 = single use).")
    max_redemptions_per_customer = models.IntegerField(
        null=True,
        blank=True,
        help_text="Empty = unlimited, except a free reward (0 points): once per customer.",
    )
    # The per-customer limit rule, stated once, in the database: the catalog's ``redeemable`` filter
    # and the redemption's check (under the reward's row lock) both read this column. None is
    # unlimited; a free reward without a limit is once. Computed by the database, so an instance
    # keeps the old value after save() until it is read again.
    redemption_limit = models.GeneratedField(
        expression=Coalesce(F("max_redemptions_per_customer"), Case(When(points_required=0, then=Value(1)))),
        output_field=models.IntegerField(null=True),
        db_persist=True,
    )
    quantity_available = models.IntegerField(
        null=True, blank=True, help_text="Stock left. Empty = unlimited. Taken by redeem, returned by cancel."
    )
    quantity_redeemed = models.BigIntegerField(default=0, editable=False)  # a lifetime counter
    is_active = models.BooleanField(default=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    monetary_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    discount_type = models.CharField(max_length=16, choices=DiscountType.choices, default=DiscountType.NONE)
    discount_percentage = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    discount_fixed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    maximum_discount_value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    image_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(points_required__gte=0), name="reward_points_required_gte_0"),
            models.CheckConstraint(
                condition=Q(origin_type__in=[o.value for o in OriginType]), name="reward_origin_type_valid"
            ),
            # A marketing reward is claimed without points: the rule is the column's, not the form's.
            models.CheckConstraint(
                condition=~Q(origin_type=OriginType.MARKETING) | Q(points_required=0),
                name="reward_marketing_is_free",
            ),
            models.CheckConstraint(condition=Q(validity_days__gte=1), name="reward_validity_days_gte_1"),
            models.CheckConstraint(
                condition=Q(total_usages_allowed__gte=1), name="reward_total_usages_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(max_redemptions_per_customer__isnull=True)
                | Q(max_redemptions_per_customer__gte=1),
                name="reward_max_per_customer_gte_1",
            ),
            models.CheckConstraint(
                condition=Q(quantity_available__isnull=True) | Q(quantity_available__gte=0),
                name="reward_quantity_available_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(quantity_redeemed__gte=0), name="reward_quantity_redeemed_gte_0"
            ),
        ]
        indexes = [models.Index(fields=["company", "id"], name="reward_company_id")]

    def __str__(self) -> str:
        return self.name

    def is_available(self, now: datetime) -> bool:
        return Reward.available_at(
            now,
            is_active=self.is_active,
            start_date=self.start_date,
            end_date=self.end_date,
            quantity_available=self.quantity_available,
        )

    @staticmethod
    def available_at(
        now: datetime,
        *,
        is_active: bool,
        start_date: datetime | None,
        end_date: datetime | None,
        quantity_available: int | None,
    ) -> bool:
        """``is_available`` over a reward's values, for a list that reads rows rather than instances."""
        return (
            is_active
            and (start_date is None or start_date <= now)
            and (end_date is None or now < end_date)
            and (quantity_available is None or quantity_available > 0)
        )
