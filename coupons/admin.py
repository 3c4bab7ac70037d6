import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import reverse

from companies.models import Company
from core.errors import DomainError
from coupons.models import Coupon, CouponUse
from coupons.services import LEGACY_IMPORT_COLUMNS, coupon_cancel, coupons_import_legacy

LEGACY_IMPORT_MAX_BYTES = 1_000_000

# Inline, so that the installed package needs no template files beside its modules.
_IMPORT_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>A CSV file (UTF-8, a header line) with the columns <code>code, customer, reward, valid_until, uses</code>:
the coupon's <code>CP-</code> code, the customer's id, phone or e-mail, the reward's id or exact name,
an ISO 8601 date or date-time, and how many uses it has left. Every line is imported, or none.</p>
{% if problems %}<ul class="errorlist">
{% for p in problems %}<li>{{ p.field }}: {{ p.detail }}</li>{% endfor %}
</ul>{% endif %}
<form method="post" enctype="multipart/form-data">{% csrf_token %}
<table>{{ form.as_table }}</table>
<input type="submit" value="Import">
</form>
{% endblock %}"""
)


class LegacyImportForm(forms.Form):
    company = forms.ModelChoiceField(queryset=Company.objects.order_by("name"))
    file = forms.FileField(help_text=f"CSV, at most {LEGACY_IMPORT_MAX_BYTES // 1000} kB.")

    def clean_file(self) -> list[dict[str, str]]:
        upload = self.cleaned_data["file"]
        if upload.size > LEGACY_IMPORT_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {LEGACY_IMPORT_MAX_BYTES // 1000} kB.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc
        reader = csv.DictReader(io.StringIO(text))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in LEGACY_IMPORT_COLUMNS if name not in header]
        if missing:
            raise forms.ValidationError(f"The header line lacks: {', '.join(missing)}.")
        reader.fieldnames = header
        try:
            return [{key: (value or "") for key, value in row.items() if key} for row in reader]
        except csv.Error as exc:
            raise forms.ValidationError(f"Not a CSV file: {exc}") from exc


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

    def has_import_permission(self, request: HttpRequest) -> bool:
        """Importing creates coupons, so it takes the model's *add* permission, although the admin's
        own add form stays closed."""
        return admin.ModelAdmin.has_add_permission(self, request)

    def import_legacy_view(self, request: HttpRequest) -> HttpResponse:
        """Import coupons of the previous generation (``CP-`` codes) from a CSV file; wired beside the
        admin's own pages by zupy/urls.py, behind ``admin_view`` (staff login)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = LegacyImportForm(request.POST or None, request.FILES or None)
        problems: list[dict[str, Any]] = []
        if request.method == "POST" and form.is_valid():
            try:
                made = coupons_import_legacy(
                    company=form.cleaned_data["company"], rows=form.cleaned_data["file"]
                )
            except DomainError as exc:
                problems = exc.errors or [{"field": "file", "detail": exc.detail}]
            else:
                self.message_user(request, f"Imported {len(made)} legacy coupon(s).")
                return HttpResponseRedirect(reverse("admin:coupons_coupon_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Import legacy coupons (CP- codes)",
            "form": form,
            "problems": problems,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, _IMPORT_PAGE, context, status=422 if problems else 200)

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
