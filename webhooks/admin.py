from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webhooks.models import EVENTS, URL_MAX_LENGTH, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_configure, webhook_forget, webhook_resend
from webhooks.transport import url_refusal


class WebhookEndpointForm(forms.ModelForm):
    # Not Django's URLField: the admin accepts exactly the URLs the API accepts (webhooks.transport).
    url = forms.CharField(
        max_length=URL_MAX_LENGTH,
        required=False,
        help_text="Empty turns webhooks off. Checked like the API's webhook_url: https, a public address.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("company", "url", "events")

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "").strip()
        if url and (reason := url_refusal(url)):
            raise forms.ValidationError(reason)
        return url

    def clean_events(self) -> list[str]:
        events = self.cleaned_data.get("events")
        if events in (None, ""):
            return []
        if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
            raise forms.ValidationError("A list of event names.")
        if unknown := sorted(set(events) - set(EVENTS)):
            raise forms.ValidationError(f"Unknown events: {', '.join(unknown)}.")
        return events


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("company", "url", "updated_at")
    fields = ("company", "url", "events", "masked_secret", "created_at", "updated_at")
    readonly_fields = ("masked_secret", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # An endpoint stays with its company; another company gets its own.
        return (*self.readonly_fields, "company") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        """Save through the service the API uses: the same lock, a secret for a new endpoint, and
        the cached subscription forgotten, so a disabled endpoint stops getting events at once."""
        configured = webhook_configure(company=obj.company, url=obj.url, events=list(obj.events))
        obj.pk = configured.endpoint.pk
        obj.secret = configured.endpoint.secret

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        super().delete_model(request, obj)
        webhook_forget(company_id=obj.company_id)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        companies = list(queryset.values_list("company_id", flat=True))
        super().delete_queryset(request, queryset)
        for company_id in companies:
            webhook_forget(company_id=company_id)


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
        "surface",
        "company",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "surface", "event")
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
