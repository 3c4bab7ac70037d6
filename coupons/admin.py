from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from coupons.models import Coupon, CouponUse
from coupons.services import coupon_cancel


class CouponUseInline(admin.TabularInline):
    model = CouponUse
    extra = 0
    can_delete = False
    fields = ("used_at", "remaining_after", "api_key")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    """Coupons are read-only here: they change only by validate (API) and the cancel action."""

    list_display = (
        "code",
        "customer",
        "reward",
        "status",
        "remaining_usages",
        "total_usages_allowed",
        "valid_until",
        "created_at",
    )
    list_filter = ("status", "company")
    search_fields = ("code", "id", "customer__id", "customer__full_name")
    inlines = (CouponUseInline,)
    actions = ("cancel_and_refund",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Cancelling moves money, so it takes the model's *change* permission, although the admin's
        own change form stays closed (``has_change_permission`` is False for everyone)."""
        return admin.ModelAdmin.has_change_permission(self, request)  # Django's check of the model perm

    @admin.action(description="Cancel and refund (points, Z$ and stock go back)", permissions=["cancel"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet[Coupon]) -> None:
        done = 0
        for coupon in queryset:
            try:
                coupon_cancel(coupon_id=coupon.pk, reason=f"Cancelled by admin {request.user}")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{coupon.code}: {exc.detail}", messages.WARNING)
        if done:
            self.message_user(request, f"Cancelled and refunded {done} coupon(s).")
