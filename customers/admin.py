from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from customers.models import Customer, LedgerEntry
from customers.services import adjustment_refusals, customer_adjust_balance
from zupy.errors import DomainError
from zupy.money import POINTS_MAX, z_format, z_to_micro


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CustomerForm(forms.ModelForm):
    points_adjustment = forms.IntegerField(
        required=False,
        min_value=-POINTS_MAX,
        max_value=POINTS_MAX,
        help_text="Signed: -50 takes 50 points away.",
    )
    # 12 + 6 digits: the form refuses what zupy.money would (more than 6 places, over Z_MICRO_MAX).
    z_adjustment = forms.DecimalField(required=False, max_digits=18, decimal_places=6, help_text="Signed Z$.")
    adjustment_reason = forms.CharField(required=False, max_length=255)

    class Meta:
        model = Customer
        # No tier: it follows the program's tier rule (points add and adjustments below move it).
        fields = ("company", "full_name", "phone", "email", "cpf", "is_active")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        points, z_amount = data.get("points_adjustment") or 0, data.get("z_adjustment") or Decimal("0")
        if (points or z_amount) and not data.get("adjustment_reason"):
            self.add_error("adjustment_reason", "Say why the balance changes: it goes into the ledger.")
        if points or z_amount:
            self._refuse_what_the_ledger_would(points, z_amount)
        return data

    def _refuse_what_the_ledger_would(self, points: int, z_amount: Decimal) -> None:
        """A form error for an adjustment the ledger would refuse (a negative balance, a bound).

        The admin saves a POST in one transaction (``ModelAdmin.changeform_view``), so the row read
        here stays locked until ``save_model`` has written the adjustment: a redemption cannot
        move the balance in between and turn this check into a 500."""
        customer = self.instance
        if customer.pk is not None:
            rows = Customer.objects.filter(pk=customer.pk)
            if transaction.get_connection().in_atomic_block:  # the admin view's POST: hold the row
                rows = rows.select_for_update()
            customer = rows.first() or customer
        try:
            z_micro = z_to_micro(z_amount)
        except DomainError as exc:
            self.add_error("z_adjustment", exc.detail)
            return
        refusals = adjustment_refusals(customer=customer, points=points, z_micro=z_micro)
        for currency, field in (("points", "points_adjustment"), ("z", "z_adjustment")):
            if currency in refusals:
                self.add_error(field, refusals[currency].detail)


class LedgerAmounts:
    """Ledger amounts as people read them: points, or Z$ with 6 places (stored as micro-Z$)."""

    @admin.display(description="amount")
    def amount_shown(self, entry: LedgerEntry) -> str:
        return entry.display(entry.amount)

    @admin.display(description="balance before")
    def balance_before_shown(self, entry: LedgerEntry) -> str:
        return entry.display(entry.balance_before)

    @admin.display(description="balance after")
    def balance_after_shown(self, entry: LedgerEntry) -> str:
        return entry.display(entry.balance_after)


class LedgerInline(LedgerAmounts, admin.TabularInline):
    model = LedgerEntry
    fk_name = "customer"
    extra = 0
    can_delete = False
    fields = (
        "created_at",
        "currency",
        "kind",
        "amount_shown",
        "balance_before_shown",
        "balance_after_shown",
        "reason",
        "coupon",
    )
    readonly_fields = fields
    ordering = ("-id",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Balances are read-only: change them with the adjustment fields, which write ledger rows."""

    form = CustomerForm
    list_display = ("id", "full_name", "phone", "email", "company", "points_balance", "z_balance_shown")
    search_fields = ("id", "full_name", "phone", "email", "cpf", "card_number")
    list_filter = ("company", "tier", "segment")
    readonly_fields = (
        "id",
        "card_number",
        "tier",
        "segment",
        "visit_count",
        "points_balance",
        "points_earned",
        "points_spent",
        "z_balance_shown",
        "created_at",
    )
    fieldsets = (
        (
            None,
            {"fields": ("id", "card_number", "company", "full_name", "phone", "email", "cpf", "is_active")},
        ),
        ("Loyalty", {"fields": ("tier", "segment", "visit_count")}),
        ("Balances", {"fields": ("points_balance", "points_earned", "points_spent", "z_balance_shown")}),
        ("Adjust through the ledger", {"fields": ("points_adjustment", "z_adjustment", "adjustment_reason")}),
    )
    inlines = (LedgerInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> Any:
        # A customer's ledger, coupons and balances belong to its company: moving it would leave
        # them behind, so the company is chosen once, at creation.
        if obj is not None:
            return ("company", *self.readonly_fields)
        return self.readonly_fields

    @admin.display(description="Z$ balance")
    def z_balance_shown(self, customer: Customer) -> str:
        return z_format(customer.z_balance)

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        points = form.cleaned_data.get("points_adjustment") or 0
        z_amount = form.cleaned_data.get("z_adjustment") or Decimal("0")
        if points or z_amount:
            customer_adjust_balance(
                customer_id=obj.pk,
                points=points,
                z_amount=z_amount,
                reason=f"admin {request.user}: {form.cleaned_data['adjustment_reason']}",
            )
            obj.refresh_from_db()


@admin.register(LedgerEntry)
class LedgerEntryAdmin(LedgerAmounts, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "customer",
        "currency",
        "kind",
        "amount_shown",
        "balance_after_shown",
        "reason",
        "coupon",
    )
    list_filter = ("currency", "kind")
    search_fields = ("customer__id", "customer__full_name", "reason", "coupon__code")
    raw_id_fields = ("customer", "coupon")
