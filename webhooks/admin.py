from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_resend


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("company", "url", "updated_at")
    fields = ("company", "url", "events", "masked_secret", "created_at", "updated_at")
    readonly_fields = ("masked_secret", "created_at", "updated_at")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "error", "duration_ms")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "webhook_id",
        "event",
        "company",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event")
    search_fields = ("webhook_id", "id", "company__name")
    inlines = (AttemptInline,)
    actions = ("resend",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Sending again changes a delivery, so it takes the model's *change* permission, although
        the admin's own change form stays closed (``has_change_permission`` is False for everyone)."""
        return admin.ModelAdmin.has_change_permission(self, request)  # Django's check of the model perm

    @admin.action(description="Send again", permissions=["resend"])
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhook_resend(delivery_id=delivery.pk)
        self.message_user(request, f"{queryset.count()} delivery(ies) queued again.")
