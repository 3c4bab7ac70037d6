from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations.models import InboundBatch, Integration, IntegrationKey, OrderOutcome
from integrations.services import inbound_batches_requeue


class IntegrationKeyInline(admin.TabularInline):
    """The API keys the partner calls with: their protected actions follow the OTP preset."""

    model = IntegrationKey
    fields = ("api_key", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("api_key",)
    extra = 0


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "company",
        "adapter",
        "points_per_unit",
        "rounding",
        "enabled",
        "otp_preset",
    )
    list_filter = ("enabled", "adapter")
    search_fields = ("slug", "name", "company__name")
    readonly_fields = ("created_at", "updated_at")
    inlines = [IntegrationKeyInline]


class OrderOutcomeInline(admin.TabularInline):
    model = OrderOutcome
    fields = (
        "position",
        "order_id",
        "outcome",
        "reason",
        "customer_id",
        "amount",
        "points",
        "ledger_entry_id",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InboundBatch)
class InboundBatchAdmin(admin.ModelAdmin):
    """What partners posted and what became of each order in it (read-only: the worker writes)."""

    list_display = (
        "id",
        "integration",
        "company",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "processed_at",
    )
    list_filter = ("status",)
    search_fields = ("id", "sha256", "integration__slug")
    inlines = [OrderOutcomeInline]
    actions = ["process_again"]

    @admin.action(description="Process again (exhausted or failed bodies; recorded orders are kept)")
    def process_again(self, request: HttpRequest, queryset: QuerySet[InboundBatch]) -> None:
        count = inbound_batches_requeue(batch_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} body(ies) queued to be processed again.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrderOutcome)
class OrderOutcomeAdmin(admin.ModelAdmin):
    list_display = (
        "order_id",
        "outcome",
        "reason",
        "points",
        "customer_id",
        "integration",
        "batch",
        "created_at",
    )
    list_filter = ("outcome",)
    search_fields = ("order_id", "customer_id", "batch__id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
