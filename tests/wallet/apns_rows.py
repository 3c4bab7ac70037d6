"""Rows for the push tests: an Apple pass of a customer (the card, or a coupon's) and the devices
registered for it, as the PassKit web service leaves them."""

import uuid

from django.utils import timezone

from coupons.models import Coupon
from customers.models import Customer
from wallet.models import AppleDevice, AppleRegistration, PassKind, Platform, WalletPass


def apple_pass(customer: Customer, *, coupon: Coupon | None = None) -> WalletPass:
    return WalletPass.objects.create(
        company_id=customer.company_id,
        customer=customer,
        coupon=coupon,
        kind=PassKind.COUPON if coupon else PassKind.LOYALTY,
        platform=Platform.APPLE,
        changed_at=timezone.now(),
    )


def register(wallet_pass: WalletPass, push_token: str) -> AppleRegistration:
    """A device (one per token) registered for ``wallet_pass``."""
    now = timezone.now()
    device, _ = AppleDevice.objects.get_or_create(
        push_token=push_token,
        defaults={"device_library_identifier": uuid.uuid4().hex, "last_registered_at": now},
    )
    return AppleRegistration.objects.create(device=device, wallet_pass=wallet_pass, registered_at=now)


def token(name: str) -> str:
    """A device token as APNs issues them (64 hex digits), recognisable by ``name``."""
    return name.encode().hex().ljust(64, "0")[:64]
