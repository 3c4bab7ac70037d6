"""Wallet passes: issuing them, following the card and the coupons they show, notifications, and
the outbox the wallet worker sends (APNs pushes, Google object updates)."""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from core.cache import memo_forget, memo_get
from wallet.models import AppleRegistration, JobKind, JobStatus, PassKind, Platform, WalletJob, WalletPass

# Events that change what a loyalty card shows (balance, tier) and what a coupon pass shows
# (remaining uses, used, cancelled, expired). customer.enrolled and coupon.expiring change neither.
CARD_EVENTS = frozenset({"points.earned", "points.spent", "customer.tier_changed", "reward.redeemed"})
COUPON_EVENTS = frozenset({"coupon.used", "coupon.cancelled", "coupon.expired"})


def _has_passes_key(company_id: str) -> str:
    return f"zupy:wallet:has-passes:{company_id}"


def company_has_passes(company_id: str) -> bool:
    """Whether the company has issued any pass, cached like API keys: most companies have none,
    and then following their events costs no query. Passes are never deleted, so once true it
    stays true; the issuing process forgets the cached "no" at once, others within
    API_KEY_LOCAL_TTL (a change in that window after a company's very first pass reaches the pass
    at its next download, without a push)."""

    def load() -> str:
        return "yes" if WalletPass.objects.filter(company_id=company_id).exists() else "no"

    found = memo_get(
        _has_passes_key(company_id),
        load,
        shared_ttl=settings.API_KEY_CACHE_TTL,
        local_ttl=settings.API_KEY_LOCAL_TTL,
    )
    return bool(found == "yes")


def company_has_passes_forget(company_id: str) -> None:
    """Call after the transaction that issued a company's pass commits."""
    memo_forget(_has_passes_key(company_id))


def wallet_event_follow(*, company_id: str, event: str, data: dict[str, Any]) -> None:
    """The receiver of every domain event (``core.events``), in the transaction of the change:
    the passes that show what changed move their update tag, and their pushes and Google updates
    enter the outbox with the change."""
    if event in CARD_EVENTS:
        coupon_id = None
    elif event in COUPON_EVENTS:
        coupon_id = data["coupon_id"]
    else:
        return
    if not company_has_passes(company_id):
        return
    wallet_passes_touch(company_id=company_id, customer_id=data["customer_id"], coupon_id=coupon_id)


def wallet_passes_touch(
    *,
    company_id: str,
    customer_id: str,
    coupon_id: str | None = None,
    all_passes: bool = False,
    google_message: bool = False,
    now: datetime | None = None,
) -> list[WalletPass]:
    """Mark the customer's loyalty card (or the passes of ``coupon_id``, or with ``all_passes``
    every pass of the customer) as changed now, and queue what tells the platforms: one APNs push
    per device registered for an Apple pass, one object update (``google_message``: a message) per
    Google pass. Locks nothing itself: it runs inside the caller's transaction, whose own locks
    (the customer row for balances, the coupon row for uses) already order changes of one pass.
    A pending push to a device that has not been tried yet is not queued twice: the device
    downloads the latest pass anyway."""
    now = now or timezone.now()
    passes = WalletPass.objects.filter(company_id=company_id, customer_id=customer_id)
    if not all_passes:
        passes = passes.filter(coupon_id=coupon_id) if coupon_id else passes.filter(kind=PassKind.LOYALTY)
    found = list(passes)
    if not found:
        return []
    WalletPass.objects.filter(pk__in=[p.pk for p in found]).update(changed_at=now)
    jobs: list[WalletJob] = []
    apple = [p.pk for p in found if p.platform == Platform.APPLE]
    if apple:
        waiting = set(
            WalletJob.objects.filter(
                kind=JobKind.APPLE_PUSH, status=JobStatus.PENDING, attempts=0, wallet_pass_id__in=apple
            ).values_list("registration_id", flat=True)
        )
        registrations = AppleRegistration.objects.filter(
            Q(wallet_pass_id__in=apple), unregistered_at__isnull=True
        ).exclude(pk__in=waiting)
        jobs += [
            WalletJob(
                company_id=company_id,
                wallet_pass_id=r.wallet_pass_id,
                registration=r,
                kind=JobKind.APPLE_PUSH,
                next_attempt_at=now,
            )
            for r in registrations
        ]
    kind = JobKind.GOOGLE_MESSAGE if google_message else JobKind.GOOGLE_SYNC
    jobs += [
        WalletJob(company_id=company_id, wallet_pass=p, kind=kind, next_attempt_at=now)
        for p in found
        if p.platform == Platform.GOOGLE
    ]
    WalletJob.objects.bulk_create(jobs)
    for p in found:
        p.changed_at = now
    return found
