from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from companies.models import ApiKey, Company, LoyaltyProgram, OtpPreset
from companies.services import api_key_issue, api_key_revoke, company_save, loyalty_program_save

PROFILE_FIELDS = (
    "slug",
    "trading_name",
    "email",
    "phone",
    "website",
    "logo_uuid",
    "primary_color",
    "secondary_color",
    "social_links",
    "instagram_url",
    "google_review_url",
    "menu_url",
    "survey_url",
    "address",
    "city",
    "state",
    "zip_code",
    "country",
    "business_type",
    "description",
    "currency",
    "is_branch",
    "branch_name",
    "is_public",
    "status",
    "is_active",
)


def _https_urls(field: models.Field, **kwargs: Any) -> Any:
    # A bare "example.com" typed in the admin is https (Django 6's default, asked for now).
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class CompanyForm(forms.ModelForm):
    otp_preset = forms.ChoiceField(
        choices=[("", "— keep the flags below —"), *OtpPreset.choices],
        required=False,
        help_text="Applying a preset overwrites the four OTP flags.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("currency", "status"):  # left empty: the model's default
            self.fields[name].required = False

    def clean_currency(self) -> str:
        return self.cleaned_data.get("currency") or Company._meta.get_field("currency").get_default()

    def clean_status(self) -> str:
        return self.cleaned_data.get("status") or Company._meta.get_field("status").get_default()

    class Meta:
        model = Company
        formfield_callback = _https_urls
        fields = (
            "name",
            "rate_tier",
            "require_otp_for_enrollment",
            "require_otp_for_redemption",
            "require_otp_for_coupon_usage",
            "trust_partner_validation",
            *PROFILE_FIELDS,
        )


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # as the form's Meta
    list_display = ("name", "id", "rate_tier", "otp_preset", "created_at")
    search_fields = ("name", "id")
    list_filter = ("rate_tier",)
    readonly_fields = ("id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("id", "name", "rate_tier")}),
        (
            "OTP policy",
            {
                "fields": (
                    "otp_preset",
                    "require_otp_for_enrollment",
                    "require_otp_for_redemption",
                    "require_otp_for_coupon_usage",
                    "trust_partner_validation",
                )
            },
        ),
        ("Profile (GET /companies/)", {"fields": PROFILE_FIELDS, "classes": ("collapse",)}),
        (None, {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="OTP preset")
    def otp_preset(self, obj: Company) -> str:
        return obj.otp_preset

    def save_model(self, request: HttpRequest, obj: Company, form: Any, change: bool) -> None:
        if form.cleaned_data.get("otp_preset"):
            obj.apply_otp_preset(form.cleaned_data["otp_preset"])
        company_save(company=obj)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here; the key itself is shown once, in the confirmation message."""

    list_display = ("prefix", "name", "company", "read_only", "response_format", "created_at", "revoked_at")
    list_filter = ("read_only", "response_format", "company")
    search_fields = ("prefix", "name", "company__name")
    fields = (
        "company",
        "name",
        "read_only",
        "response_format",
        "prefix",
        "digest",
        "created_at",
        "revoked_at",
    )
    readonly_fields = ("prefix", "digest", "created_at", "revoked_at")
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        if obj is not None:
            return ("company", *self.readonly_fields)
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # companies.signals forgets its cached lookup
            return
        raw = api_key_issue(obj)
        messages.warning(
            request,
            f"The new API key is {raw} — copy it now: it is stored only as a digest "
            "and cannot be shown again.",
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(LoyaltyProgram)
class LoyaltyProgramAdmin(admin.ModelAdmin):
    """One program per company, created with it: edited here, never added or deleted."""

    list_display = ("name", "company", "points_name", "tiers_enabled", "z_bonus_per_point", "status")
    search_fields = ("name", "slug", "company__name")
    readonly_fields = ("id", "company", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LoyaltyProgram | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: LoyaltyProgram, form: Any, change: bool) -> None:
        loyalty_program_save(program=obj)
