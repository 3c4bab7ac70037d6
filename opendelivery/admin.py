"""OpenDelivery in the admin: clients (the secret shown once, at creation), their merchant links,
and each company's merchant identity. Every change goes through ``opendelivery.services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from opendelivery.events import SUBSCRIBABLE, od_client_webhook_configure
from opendelivery.models import (
    SCOPES,
    ClientKind,
    OdClient,
    OdMerchant,
    OdMerchantLink,
    OdOrder,
    OdRedemption,
)
from opendelivery.services import (
    od_client_create,
    od_client_rotate_secret,
    od_client_set_enabled,
    od_link_set_enabled,
    od_merchant_id_clean,
    od_merchant_link,
)
from webhooks.models import URL_MAX_LENGTH
from webhooks.transport import url_refusal


def _show_secret(request: HttpRequest, client: OdClient, secret: str) -> None:
    messages.warning(
        request,
        f"Credentials: client_id {client.application.client_id}, client_secret {secret} — copy the "
        "secret now: it is stored only as a digest and cannot be shown again.",
    )


class OdClientAddForm(forms.ModelForm):
    merchant_id = forms.CharField(
        required=False,
        max_length=100,
        help_text="by_merchant only: the merchantId of its one link; empty: the company's externalCode.",
    )
    scope_choice = forms.MultipleChoiceField(
        choices=list(SCOPES.items()), initial=["od.crm"], widget=forms.CheckboxSelectMultiple, label="Scopes"
    )

    class Meta:
        model = OdClient
        fields = ("name", "kind", "company")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, company = data.get("kind"), data.get("company")
        if kind == ClientKind.BY_MERCHANT and company is None:
            self.add_error("company", "A by_merchant client names its company.")
        if kind == ClientKind.BY_APP and company is not None:
            self.add_error("company", "A by_app client names no company: companies link it.")
        if kind == ClientKind.BY_APP and data.get("merchant_id"):
            self.add_error("merchant_id", "A by_app client's merchants link it one by one (merchant links).")
        elif data.get("merchant_id"):
            try:
                data["merchant_id"] = od_merchant_id_clean(data["merchant_id"])
            except DomainError as exc:
                self.add_error("merchant_id", exc.detail)
        return data

    def _post_clean(self) -> None:
        # The application is made by od_client_create: the instance is not validated without it.
        pass


# --- Events: the client's webhook --------------------------------------------------------------
class OdClientChangeForm(forms.ModelForm):
    """The webhook fields checked as ``configure_od_webhook`` checks them (the same URL rules as every
    webhook; OpenDelivery event types only); the secret is never typed, only generated."""

    webhook_url = forms.CharField(
        max_length=URL_MAX_LENGTH,
        required=False,
        help_text="Where the signed loyalty events go; empty: none. https, a public address.",
    )

    class Meta:
        model = OdClient
        fields = ("name", "scopes", "webhook_url", "webhook_events")

    def clean_webhook_url(self) -> str:
        url = str(self.cleaned_data.get("webhook_url") or "").strip()
        if url and (reason := url_refusal(url)):
            raise forms.ValidationError(reason)
        return url

    def clean_webhook_events(self) -> list[str]:
        events = self.cleaned_data.get("webhook_events")
        if events in (None, ""):
            return []
        if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
            raise forms.ValidationError("A list of OpenDelivery event types.")
        if unknown := sorted(set(events) - set(SUBSCRIBABLE)):
            raise forms.ValidationError(
                f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(SUBSCRIBABLE)}."
            )
        return events


def _show_webhook_secret(request: HttpRequest, secret: str | None) -> None:
    if secret:
        messages.warning(
            request, f"Webhook secret {secret} — give it to the platform now: it is not shown again."
        )


@admin.register(OdClient)
class OdClientAdmin(admin.ModelAdmin):
    """Created here or with ``create_od_client``; disabling one revokes its tokens at once."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # a bare host typed here is https
    list_display = ("name", "kind", "company", "client_id", "scopes", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "application__client_id", "company__name")
    fields = (
        "name",
        "kind",
        "company",
        "client_id",
        "scopes",
        "enabled",
        "webhook_url",
        "webhook_secret_masked",
        "webhook_events",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "kind",
        "company",
        "client_id",
        "enabled",
        "webhook_secret_masked",
        "created_at",
        "updated_at",
    )
    actions = ("disable", "enable", "rotate_secret", "rotate_webhook_secret")

    @admin.display(description="webhook secret")
    def webhook_secret_masked(self, obj: OdClient) -> str:
        secret = obj.webhook_secret
        return "*" * (len(secret) - 4) + secret[-4:] if secret else "(generated with the first URL)"

    @admin.display(description="client_id")
    def client_id(self, obj: OdClient) -> str:
        return obj.application.client_id

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = OdClientAddForm if obj is None else OdClientChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: OdClient | None = None) -> Any:
        if obj is None:
            return ("name", "kind", "company", "merchant_id", "scope_choice")
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: OdClient | None = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: OdClient, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            # A secret comes with the first URL (shown once); the events follow the change at once.
            configured = od_client_webhook_configure(
                client_id=obj.pk, url=obj.webhook_url, events=list(obj.webhook_events or [])
            )
            obj.webhook_secret = configured.client.webhook_secret
            _show_webhook_secret(request, configured.new_secret)
            return
        data = form.cleaned_data
        client, secret = od_client_create(
            name=data["name"],
            kind=data["kind"],
            company=data.get("company"),
            merchant_id=data.get("merchant_id") or None,
            scopes=" ".join(data["scope_choice"]),
        )
        obj.pk, obj.application, obj.name, obj.kind = client.pk, client.application, client.name, client.kind
        _show_secret(request, client, secret)

    @admin.action(description="Disable selected clients (their tokens stop at once)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[OdClient]) -> None:
        for client in queryset:
            od_client_set_enabled(client=client, enabled=False)
        self.message_user(request, f"Disabled {len(queryset)} client(s).")

    @admin.action(description="Enable selected clients", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[OdClient]) -> None:
        for client in queryset:
            od_client_set_enabled(client=client, enabled=True)
        self.message_user(request, f"Enabled {len(queryset)} client(s).")

    @admin.action(description="Rotate the secret (shown once; old tokens revoked)", permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[OdClient]) -> None:
        for client in queryset:
            _show_secret(request, client, od_client_rotate_secret(client=client))

    @admin.action(description="Rotate the webhook secret (shown once)", permissions=["change"])
    def rotate_webhook_secret(self, request: HttpRequest, queryset: QuerySet[OdClient]) -> None:
        for client in queryset:
            configured = od_client_webhook_configure(client_id=client.pk, rotate_secret=True)
            _show_webhook_secret(request, configured.new_secret)


class OdMerchantLinkForm(forms.ModelForm):
    class Meta:
        model = OdMerchantLink
        fields = ("client", "company", "merchant_id")

    def clean_client(self) -> OdClient:
        client: OdClient = self.cleaned_data["client"]
        if client.kind != ClientKind.BY_APP:
            raise forms.ValidationError("A by_merchant client has its one link already, to its own company.")
        return client

    def clean_merchant_id(self) -> str:
        try:
            return od_merchant_id_clean(self.cleaned_data["merchant_id"])
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from exc


@admin.register(OdMerchantLink)
class OdMerchantLinkAdmin(admin.ModelAdmin):
    """A company linking a by_app client, under the merchantId the client's application uses."""

    list_display = ("merchant_id", "client", "company", "enabled", "created_at")
    list_filter = ("enabled", "client")
    search_fields = ("merchant_id", "client__name", "company__name")
    actions = ("disable", "enable")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = OdMerchantLinkForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: OdMerchantLink | None = None) -> Any:
        if obj is None:
            return ("client", "company", "merchant_id")
        return ("client", "company", "merchant_id", "enabled", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: OdMerchantLink | None = None) -> Any:
        if obj is None:
            return ()
        return ("client", "company", "merchant_id", "enabled", "created_at")

    def save_model(self, request: HttpRequest, obj: OdMerchantLink, form: Any, change: bool) -> None:
        if change:
            return  # nothing on an existing link is edited in the form: enable/disable are actions
        link = od_merchant_link(
            client=form.cleaned_data["client"],
            company=form.cleaned_data["company"],
            merchant_id=form.cleaned_data["merchant_id"],
        )
        obj.pk = link.pk

    @admin.action(description="Disable selected links (at once)", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[OdMerchantLink]) -> None:
        for link in queryset:
            od_link_set_enabled(link=link, enabled=False)
        self.message_user(request, f"Disabled {len(queryset)} link(s).")

    @admin.action(description="Enable selected links", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[OdMerchantLink]) -> None:
        for link in queryset:
            od_link_set_enabled(link=link, enabled=True)
        self.message_user(request, f"Enabled {len(queryset)} link(s).")


@admin.register(OdMerchant)
class OdMerchantAdmin(admin.ModelAdmin):
    """A company as an OpenDelivery merchant: its externalCode (ours, fixed) and its accrual rate."""

    list_display = ("company", "external_code", "points_per_unit", "rounding", "updated_at")
    search_fields = ("company__name", "external_code")
    fields = ("company", "external_code", "points_per_unit", "rounding", "updated_at")
    readonly_fields = ("external_code", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: OdMerchant | None = None) -> Any:
        if obj is not None:
            return ("company", *self.readonly_fields)
        return self.readonly_fields


# --- Redemptions ------------------------------------------------------------------------------------
@admin.register(OdRedemption)
class OdRedemptionAdmin(admin.ModelAdmin):
    """The redemptions platforms asked for and what became of each (read-only: the worker writes):
    the coupon issued, or why ``coupon_redeem`` refused it then."""

    list_display = ("id", "company", "client", "customer", "reward", "status", "refusal", "created_at")
    list_filter = ("status",)
    search_fields = ("id", "related_order_id", "customer__id", "coupon__code")
    list_select_related = ("company", "client", "customer", "reward")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Orders and accrual ------------------------------------------------------------------------------
@admin.register(OdOrder)
class OdOrderAdmin(admin.ModelAdmin):
    """What became of each order a platform reported: read only (the customer events write it)."""

    list_display = (
        "order_id",
        "company",
        "status",
        "points_awarded",
        "points_reversed",
        "customer",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("order_id", "company__name", "customer__phone", "customer__email")
    list_select_related = ("company", "customer")
    fields = (
        "order_id",
        "company",
        "customer",
        "status",
        "reason",
        "total_cents",
        "points_awarded",
        "points_reversed",
        "z_awarded",
        "z_reversed",
        "created_event_id",
        "cancelled_event_id",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OdOrder | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OdOrder | None = None) -> bool:
        return False
