from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.utils.html import format_html_join

from wallet.images import UPLOADS, ImageRefused, design_image_remove, design_image_set, image_check
from wallet.models import WalletDesign, WalletImage

UPLOAD_HELP = {
    "icon": "Square; shown in notifications and on the lock screen. Resized to 29, 58 and 87 px. "
    "Without one, an icon is drawn from the colours and the program's initial.",
    "logo": "Top left of the pass, at most 160x50 points (resized @1x/@2x/@3x), and Google's square "
    "program logo (660x660).",
    "strip": "Behind the balance or the reward: 375x123 points (@1x/@2x/@3x), and Google's hero image.",
}


class WalletDesignForm(forms.ModelForm):
    """The design's fields, plus an upload and a remove box for each of icon, logo and strip. An
    upload is checked here (an image, not too large), so a bad one is a form error, not a 500."""

    icon_upload = forms.FileField(required=False, label="Icon", help_text=UPLOAD_HELP["icon"])
    icon_remove = forms.BooleanField(required=False, label="Remove the icon")
    logo_upload = forms.FileField(required=False, label="Logo", help_text=UPLOAD_HELP["logo"])
    logo_remove = forms.BooleanField(required=False, label="Remove the logo")
    strip_upload = forms.FileField(required=False, label="Strip", help_text=UPLOAD_HELP["strip"])
    strip_remove = forms.BooleanField(required=False, label="Remove the strip")

    class Meta:
        model = WalletDesign
        fields = (
            "company",
            "program_name",
            "description",
            "background_color",
            "foreground_color",
            "label_color",
            "back_text",
        )
        widgets = {
            "background_color": forms.TextInput(attrs={"type": "color"}),
            "foreground_color": forms.TextInput(attrs={"type": "color"}),
            "label_color": forms.TextInput(attrs={"type": "color"}),
        }

    def _upload(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(f"{name}_upload")
        if not isinstance(upload, UploadedFile):
            return None
        if (upload.size or 0) > settings.WALLET_IMAGE_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {settings.WALLET_IMAGE_MAX_BYTES // 1024} KB."
            )
        raw = upload.read()
        try:
            image_check(raw)
        except ImageRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return raw

    def clean_icon_upload(self) -> bytes | None:
        return self._upload("icon")

    def clean_logo_upload(self) -> bytes | None:
        return self._upload("logo")

    def clean_strip_upload(self) -> bytes | None:
        return self._upload("strip")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for color in ("background_color", "foreground_color", "label_color"):
            if isinstance(cleaned.get(color), str):
                cleaned[color] = cleaned[color].upper()
        return cleaned


@admin.register(WalletDesign)
class WalletDesignAdmin(admin.ModelAdmin):
    form = WalletDesignForm
    list_display = ("company", "program_name", "updated_at")
    search_fields = ("company__name", "program_name")
    readonly_fields = ("images", "public_logo_path")
    fieldsets = (
        (None, {"fields": ("company", "program_name", "description", "back_text")}),
        ("Colours", {"fields": ("background_color", "foreground_color", "label_color")}),
        (
            "Images",
            {
                "fields": (
                    "images",
                    ("icon_upload", "icon_remove"),
                    ("logo_upload", "logo_remove"),
                    ("strip_upload", "strip_remove"),
                    "public_logo_path",
                )
            },
        ),
    )

    @admin.display(description="Stored sizes")
    def images(self, design: WalletDesign) -> str:
        if design.pk is None:
            return "None yet."
        rows = WalletImage.objects.filter(design=design).values_list("name", "width", "height")
        return format_html_join(", ", "{} ({}x{})", rows) or "None uploaded: a drawn icon is used."

    @admin.display(description="Public logo (Google fetches it)")
    def public_logo_path(self, design: WalletDesign) -> str:
        return f"/wallet/images/{design.image_token}/google-logo.png" if design.pk else "After saving."

    def save_model(self, request: HttpRequest, obj: WalletDesign, form: Any, change: bool) -> None:
        # The admin's change view runs in one transaction: the design and its images save together.
        super().save_model(request, obj, form, change)
        for upload in UPLOADS:
            if form.cleaned_data.get(f"{upload}_remove"):
                design_image_remove(design=obj, upload=upload)
            raw = form.cleaned_data.get(f"{upload}_upload")
            if raw:
                design_image_set(design=obj, upload=upload, raw=raw)
