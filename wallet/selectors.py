"""Reads of the wallet's partner operations: a customer's passes, one pass with what its status
shows, where a customer installed them, and the coupon a pass is asked for."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet

from companies.models import Company
from core.db import one_or_none
from core.errors import NotFound
from coupons.models import Coupon, CouponStatus
from coupons.selectors import coupon_ref_lookup
from customers.models import Customer
from customers.selectors import customer_get
from wallet.models import AppleDevice, AppleRegistration, PassKind, Platform, WalletPass

# The device kinds the upstream document names; any other User-Agent platform reads as unknown.
PLATFORM_HINTS = frozenset({"ios", "macos"})


def wallet_program_name(company: Company) -> str:
    """What a loyalty card is called: the design's program name, else the loyalty program's, else
    the company's."""
    design = getattr(company, "wallet_design", None)
    if design is not None and design.program_name:
        return str(design.program_name)
    program = getattr(company, "loyalty_program", None)
    return str(program.name) if program is not None and program.name else str(company.name)


def pass_title(wallet_pass: WalletPass) -> str:
    """The card's program name, or the coupon's reward name (load ``coupon__reward`` with the pass)."""
    if wallet_pass.coupon is not None:
        return str(wallet_pass.coupon.reward.name)
    return wallet_program_name(wallet_pass.company)


def coupon_for_pass(*, company: Company, customer_id: str, coupon_ref: str) -> Coupon:
    """The customer's coupon named by ``coupon_ref`` (its id, or its code as a till types it), with
    its reward; 404 when it is not this customer's, or not this company's."""
    lookup = coupon_ref_lookup(customer_id=customer_id, ref=coupon_ref)
    coupon = None
    if lookup is not None:
        column, value = lookup
        coupon = one_or_none(
            Coupon.objects.select_related("reward").filter(
                company=company, customer_id=customer_id, **{column: value}
            )
        )
    if coupon is None:
        raise NotFound("Coupon not found for this customer.")
    return coupon


def coupon_is_active(*, coupon_id: str, now: datetime) -> bool:
    """Whether the coupon can still be used now (active, not past ``valid_until``)."""
    coupon = one_or_none(Coupon.objects.only("status", "valid_until").filter(pk=coupon_id))
    return coupon is not None and coupon.effective_status(now) == CouponStatus.ACTIVE


def existing_pass(
    *, company_id: str, customer_id: str, platform: str, coupon_id: str | None
) -> WalletPass | None:
    """The pass already issued for this card (or this coupon) on this platform, with its coupon."""
    passes = WalletPass.objects.select_related("coupon__reward").filter(
        company_id=company_id, customer_id=customer_id, platform=platform
    )
    if coupon_id is None:
        return one_or_none(passes.filter(kind=PassKind.LOYALTY))
    return one_or_none(passes.filter(kind=PassKind.COUPON, coupon_id=coupon_id))


def wallet_pass_list(*, company: Company, customer_id: str) -> QuerySet[WalletPass]:
    """This company's customer's passes, card and coupons, for a page (ordered by the caller);
    404 for another company's customer."""
    customer = customer_get(company=company, customer_id=customer_id)
    return WalletPass.objects.filter(company=company, customer=customer).select_related(
        "coupon__reward", "company__loyalty_program", "company__wallet_design"
    )


@dataclass(frozen=True)
class PassStatus:
    wallet_pass: WalletPass
    installed_devices: int
    added_at: datetime | None
    removed_at: datetime | None


def wallet_pass_status(*, company: Company, pass_id: str) -> PassStatus:
    """One pass of this company (404 otherwise) and where it is installed. Apple: the devices
    registered now, added at the first registration, removed at the last unregistration once no
    device holds it. Google: what ``added_at``/``removed_at`` say (Google syncs across a user's
    devices, so an installed Google pass counts as one)."""
    wallet_pass = one_or_none(
        WalletPass.objects.select_related(
            "coupon__reward", "company__loyalty_program", "company__wallet_design"
        ).filter(company=company, pk=pass_id)
    )
    if wallet_pass is None:
        raise NotFound("Wallet pass not found.")
    if wallet_pass.platform == Platform.APPLE:
        seen = AppleRegistration.objects.filter(wallet_pass=wallet_pass).aggregate(
            active=Count("id", filter=Q(unregistered_at__isnull=True)),
            first=Min("registered_at"),
            last_removed=Max("unregistered_at"),
        )
        active = int(seen["active"] or 0)
        return PassStatus(wallet_pass, active, seen["first"], None if active else seen["last_removed"])
    installed = google_installed(wallet_pass)
    return PassStatus(wallet_pass, int(installed), wallet_pass.added_at, wallet_pass.removed_at)


def google_installed(wallet_pass: WalletPass) -> bool:
    """Whether a Google pass is in the customer's Google Wallet as far as we know: saved, and not
    removed since."""
    added, removed = wallet_pass.added_at, wallet_pass.removed_at
    return added is not None and (removed is None or removed < added)


@dataclass
class AppleDeviceView:
    """A device as one company sees it: its hints are those of this company's registrations (the
    latest that sent each), never what the device sent another company."""

    device: AppleDevice
    registrations: list[AppleRegistration] = field(default_factory=list)

    def _latest(self, name: str) -> str:
        sent = [r for r in self.registrations if getattr(r, name)]
        return getattr(max(sent, key=lambda r: (r.registered_at, r.pk)), name) if sent else ""

    @property
    def platform_hint(self) -> str:
        hint = self._latest("platform_hint")
        return hint if hint in PLATFORM_HINTS else "unknown"

    @property
    def os_version(self) -> str:
        return self._latest("os_version")

    @property
    def locale(self) -> str:
        return self._latest("locale")


@dataclass(frozen=True)
class WalletDevices:
    customer: Customer
    apple_devices: list[AppleDeviceView]
    google_passes: list[WalletPass]
    pass_type_identifier: str


def wallet_devices(*, company: Company, customer_id: str) -> WalletDevices:
    """Where this company's customer (404 otherwise) holds this company's passes: each Apple device
    registered now for one of them (with those passes), and the Google passes in its Google Wallet.
    Passes of other companies are never read."""
    customer = customer_get(company=company, customer_id=customer_id)
    registrations = (
        AppleRegistration.objects.filter(
            wallet_pass__company_id=customer.company_id,
            wallet_pass__customer=customer,
            unregistered_at__isnull=True,
        )
        .select_related("device", "wallet_pass__coupon__reward")
        .order_by("device__first_registered_at", "device_id", "wallet_pass_id")
    )
    devices: dict[int, AppleDeviceView] = {}
    for registration in registrations:
        device = registration.device
        devices.setdefault(device.pk, AppleDeviceView(device)).registrations.append(registration)
    google = [
        p
        for p in WalletPass.objects.filter(
            company_id=customer.company_id, customer=customer, platform=Platform.GOOGLE
        )
        .select_related("coupon__reward")
        .order_by("id")
        if google_installed(p)
    ]
    return WalletDevices(customer, list(devices.values()), google, settings.WALLET_APPLE_PASS_TYPE_ID)
