from django.contrib import admin

from rewards.models import Reward


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "company",
        "points_required",
        "origin_type",
        "validity_days",
        "total_usages_allowed",
        "quantity_available",
        "quantity_redeemed",
        "is_active",
    )
    list_filter = ("is_active", "company", "reward_type", "origin_type")
    search_fields = ("name", "id")
    readonly_fields = ("id", "quantity_redeemed", "created_at", "updated_at")
