"""What the wallet's partner operations read and answer, field for field as the upstream document
declares them (plus a few fields of our own, which it allows)."""

import unicodedata
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from core.inputs import AnyCaseChoiceField, Input, KsuidField
from core.rendering import FastOutput
from core.timefmt import iso_utc
from wallet.models import MESSAGE_MAX_LENGTH, NotificationType, PassKind, Platform, WalletPass
from wallet.selectors import AppleDeviceView, PassStatus, WalletDevices, pass_title


# --- Inputs ---------------------------------------------------------------------------------------
class WalletPassIn(Input):
    customer_id = KsuidField()
    platform = AnyCaseChoiceField(choices=Platform.choices)


class CouponPassIn(WalletPassIn):
    # The coupon's id, or its code as a till types it (coupons.selectors.coupon_ref_lookup).
    coupon_id = serializers.CharField(max_length=27, help_text="The coupon's KSUID (or its code).")


class PassListQuery(Input):
    customer_id = KsuidField(help_text="Customer KSUID")


class NotificationIn(Input):
    customer_id = KsuidField()
    type = AnyCaseChoiceField(choices=NotificationType.choices)
    message = serializers.CharField(max_length=MESSAGE_MAX_LENGTH, trim_whitespace=False)

    def validate_message(self, value: str) -> str:
        # Windows line ends (and old Mac ones) are line ends: kept as newlines, not refused.
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if all(_invisible(char) for char in value):
            raise serializers.ValidationError("This field may not be blank (nothing in it is visible).")
        control = next((char for char in value if _control(char)), None)
        if control is not None:
            raise serializers.ValidationError(
                f"Control characters are not allowed (U+{ord(control):04X}); newline and tab are."
            )
        return value


# Blank to a reader, though not to str.strip: format characters (zero-width space, BOM, direction
# marks), space separators, controls, and the braille blank that chat apps use as an "empty" message.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zs", "Zl", "Zp", "Cc"})
_BRAILLE_BLANK = "\u2800"
_ALLOWED_CONTROLS = frozenset("\n\t")


def _invisible(char: str) -> bool:
    return char == _BRAILLE_BLANK or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def _control(char: str) -> bool:
    # A terminal escape or a bell would reach the back of the pass and every log that prints it.
    return unicodedata.category(char) == "Cc" and char not in _ALLOWED_CONTROLS


# --- Answers --------------------------------------------------------------------------------------
class WalletPassOut(serializers.Serializer):
    """A pass issued (201) or issued before (200), and the link to hand the customer."""

    id = serializers.CharField(source="wallet_pass.id")
    pass_url = serializers.CharField()
    platform = serializers.CharField(source="wallet_pass.platform")
    pass_type = serializers.CharField(source="wallet_pass.kind")
    serial_number = serializers.CharField(source="wallet_pass.serial_number")
    created = serializers.BooleanField()
    created_at = serializers.DateTimeField(source="wallet_pass.created_at")


class CouponPassOut(WalletPassOut):
    coupon_id = serializers.CharField(source="wallet_pass.coupon.id")
    coupon_title = serializers.CharField(source="wallet_pass.coupon.reward.name")
    expiry_date = serializers.DateTimeField(source="wallet_pass.coupon.valid_until", allow_null=True)


class PassListOut(FastOutput):
    id = serializers.CharField()
    pass_type = serializers.CharField(source="kind")
    platform = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="active, voided or expired.")
    title = serializers.SerializerMethodField()
    coupon_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_status(self, wallet_pass: WalletPass) -> str:
        return wallet_pass.state(self.context["now"])

    def get_title(self, wallet_pass: WalletPass) -> str:
        return pass_title(wallet_pass)


class PassStatusOut(serializers.Serializer):
    id = serializers.CharField(source="wallet_pass.id")
    pass_type = serializers.CharField(source="wallet_pass.kind")
    platform = serializers.CharField(source="wallet_pass.platform")
    status = serializers.SerializerMethodField(help_text="active, voided or expired.")
    customer_id = serializers.CharField(source="wallet_pass.customer_id", allow_null=True)
    coupon_id = serializers.CharField(source="wallet_pass.coupon_id", allow_null=True)
    title = serializers.SerializerMethodField()
    installed_devices = serializers.IntegerField(
        help_text="Apple: devices registered now; Google: 1 while in the customer's Google Wallet."
    )
    added_at = serializers.DateTimeField(allow_null=True, help_text="First added to a wallet, if known.")
    removed_at = serializers.DateTimeField(
        allow_null=True, help_text="Removed from the last wallet that held it, if it is nowhere now."
    )
    last_updated = serializers.DateTimeField(source="wallet_pass.changed_at")
    created_at = serializers.DateTimeField(source="wallet_pass.created_at")

    def get_status(self, status: PassStatus) -> str:
        return status.wallet_pass.state(timezone.now())

    def get_title(self, status: PassStatus) -> str:
        return pass_title(status.wallet_pass)


class NotificationOut(serializers.Serializer):
    notification_id = serializers.CharField(source="id")
    status = serializers.SerializerMethodField(help_text='Always "queued".')

    def get_status(self, notification: Any) -> str:
        return "queued"


class PlatformSummaryOut(serializers.Serializer):
    installed = serializers.BooleanField()
    device_count = serializers.IntegerField(required=False, help_text="Apple only.")
    pass_count = serializers.IntegerField()


class DevicesSummaryOut(serializers.Serializer):
    apple = PlatformSummaryOut()
    google = PlatformSummaryOut()


class RegisteredPassOut(serializers.Serializer):
    serial_number = serializers.CharField()
    pass_type_identifier = serializers.CharField()
    pass_type = serializers.CharField(allow_null=True)
    reward_name = serializers.CharField(allow_null=True)
    google_object_id = serializers.CharField(allow_null=True)
    last_push_sent = serializers.DateTimeField(allow_null=True)


class AppleDeviceOut(serializers.Serializer):
    device_library_identifier = serializers.CharField()
    platform_hint = serializers.CharField(help_text="ios, macos or unknown.")
    os_version = serializers.CharField(allow_null=True)
    device_model = serializers.CharField(allow_null=True)
    locale = serializers.CharField(allow_null=True)
    first_registered_at = serializers.DateTimeField()
    last_registered_at = serializers.DateTimeField()
    registered_passes = RegisteredPassOut(many=True)


class GooglePassOut(serializers.Serializer):
    serial_number = serializers.CharField()
    pass_type = serializers.CharField()
    reward_name = serializers.CharField(allow_null=True)
    google_object_id = serializers.CharField()


class WalletDevicesOut(serializers.Serializer):
    """Where the customer holds this company's passes: Apple per device, Google per pass."""

    customer_id = serializers.CharField()
    summary = DevicesSummaryOut()
    apple_devices = AppleDeviceOut(many=True)
    google_passes = GooglePassOut(many=True)

    def to_representation(self, found: WalletDevices) -> dict[str, Any]:
        apple = [self._device(view, found.pass_type_identifier) for view in found.apple_devices]
        google = [self._google(p) for p in found.google_passes]
        registrations = sum(len(view.registrations) for view in found.apple_devices)
        return {
            "customer_id": found.customer.pk,
            "summary": {
                "apple": {"installed": bool(apple), "device_count": len(apple), "pass_count": registrations},
                "google": {"installed": bool(google), "pass_count": len(google)},
            },
            "apple_devices": apple,
            "google_passes": google,
        }

    @staticmethod
    def _device(view: AppleDeviceView, pass_type_identifier: str) -> dict[str, Any]:
        device = view.device
        return {
            "device_library_identifier": device.device_library_identifier,
            "platform_hint": view.platform_hint,
            "os_version": view.os_version or None,
            "device_model": None,  # Wallet's User-Agent does not say which device it is
            "locale": view.locale or None,
            # From this company's registrations only: the device's own dates may be another company's.
            "first_registered_at": iso_utc(min(r.registered_at for r in view.registrations)),
            "last_registered_at": iso_utc(max(r.registered_at for r in view.registrations)),
            "registered_passes": [
                {
                    "serial_number": str(r.wallet_pass.serial_number),
                    "pass_type_identifier": pass_type_identifier,
                    "pass_type": r.wallet_pass.kind,
                    "reward_name": _reward_name(r.wallet_pass),
                    # Each of our passes lives on one platform: an Apple pass has no Google object.
                    "google_object_id": None,
                    "last_push_sent": iso_utc(r.last_push_at) if r.last_push_at else None,
                }
                for r in view.registrations
            ],
        }

    @staticmethod
    def _google(wallet_pass: WalletPass) -> dict[str, Any]:
        return {
            "serial_number": str(wallet_pass.serial_number),
            "pass_type": wallet_pass.kind,
            "reward_name": _reward_name(wallet_pass),
            "google_object_id": wallet_pass.google_object_id,
        }


def _reward_name(wallet_pass: WalletPass) -> str | None:
    return (
        str(wallet_pass.coupon.reward.name)
        if wallet_pass.kind == PassKind.COUPON and wallet_pass.coupon
        else None
    )
