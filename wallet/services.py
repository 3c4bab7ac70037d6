"""Wallet passes: issuing them, following the card and the coupons they show, notifications, and
the outbox the wallet worker sends (APNs pushes, Google object updates)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from companies.models import Company
from core.cache import memo_forget, memo_get
from core.errors import NotFound
from core.ids import is_ksuid
from coupons.models import Coupon, CouponStatus
from customers.lock_objects import customer_lock
from customers.models import Customer
from customers.selectors import customer_get
from wallet.errors import CouponNotPassable, WalletUnavailable
from wallet.models import (
    AppleRegistration,
    JobKind,
    JobStatus,
    PassKind,
    Platform,
    WalletJob,
    WalletNotification,
    WalletPass,
)
from wallet.platforms import platform
from wallet.selectors import coupon_for_pass, coupon_is_active, existing_pass

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class IssuedPass:
    wallet_pass: WalletPass
    pass_url: str
    created: bool  # False: the pass existed already and is answered again


def wallet_pass_issue(
    *,
    company: Company,
    customer_id: str,
    platform_name: str,
    base_url: str,
    coupon_ref: str | None = None,
) -> IssuedPass:
    """The customer's loyalty card (or, with ``coupon_ref``, the pass of one of its coupons) on
    ``platform_name``: issued now, or the one issued before (one per card or coupon and platform).

    Refusals, in order: another company's customer, or a coupon that is not this customer's, 404; a
    coupon that is used, expired or cancelled 409 ``CouponNotPassable`` (its pass could only show
    it void: a dead end at the till); a platform this server is not configured for 503
    ``WalletUnavailable``. Nothing is written by any of them.

    Locks no row of another app: two requests for the same pass meet at the database's unique
    constraint (``walletpass_one_card_per_platform``, ``walletpass_one_per_coupon_platform``). The
    second INSERT waits for the first transaction, fails, and answers the pass that won, so the
    platform's ``issue`` (Google: insert the object) runs once per pass. The coupon row is not
    locked either: ``issue`` may call the platform, and a till validating that coupon must not wait
    on it. A coupon used, cancelled or expired in that instant had its event before the pass
    existed, so that event touched nothing: once the pass commits, the coupon is read again and,
    if it is no longer active, the pass is touched then (``_coupon_pass_recheck``)."""
    customer = customer_get(company=company, customer_id=customer_id)
    coupon = None
    if coupon_ref is not None:
        coupon = coupon_for_pass(company=company, customer_id=customer.pk, coupon_ref=coupon_ref)
        if coupon.effective_status(timezone.now()) != CouponStatus.ACTIVE:
            raise CouponNotPassable()
    chosen = platform(platform_name)
    if not chosen.configured():
        label = Platform(platform_name).label
        raise WalletUnavailable(f"{label} Wallet is not configured on this server; nothing was written.")
    with transaction.atomic():
        wallet_pass = existing_pass(
            company_id=company.pk,
            customer_id=customer.pk,
            platform=platform_name,
            coupon_id=coupon.pk if coupon else None,
        )
        created = wallet_pass is None
        if wallet_pass is None:
            wallet_pass, created = _pass_insert(customer=customer, coupon=coupon, platform_name=platform_name)
        wallet_pass.company = company
        wallet_pass.customer = customer
        if created:
            chosen.issue(wallet_pass=wallet_pass, base_url=base_url)
            transaction.on_commit(lambda: company_has_passes_forget(company.pk))
            if coupon is not None:
                ids = {"company_id": company.pk, "customer_id": customer.pk, "coupon_id": coupon.pk}
                transaction.on_commit(lambda: _coupon_pass_recheck(**ids))
        pass_url = chosen.pass_url(wallet_pass=wallet_pass, base_url=base_url)
    return IssuedPass(wallet_pass=wallet_pass, pass_url=pass_url, created=created)


def _pass_insert(*, customer: Customer, coupon: Coupon | None, platform_name: str) -> tuple[WalletPass, bool]:
    """INSERT the pass in a savepoint; when a concurrent request inserted it first (the unique
    constraint refuses this one), the winner, with False."""
    try:
        with transaction.atomic():
            wallet_pass = WalletPass.objects.create(
                company_id=customer.company_id,
                customer=customer,
                coupon=coupon,
                kind=PassKind.COUPON if coupon else PassKind.LOYALTY,
                platform=platform_name,
                changed_at=timezone.now(),
            )
        return wallet_pass, True
    except IntegrityError:
        winner = existing_pass(
            company_id=customer.company_id,
            customer_id=customer.pk,
            platform=platform_name,
            coupon_id=coupon.pk if coupon else None,
        )
        if winner is None:
            raise
        return winner, False


def _coupon_pass_recheck(*, company_id: str, customer_id: str, coupon_id: str) -> None:
    """After a coupon's new pass committed: if the coupon is no longer active (used, cancelled or
    expired while the pass was being issued), move the pass and queue its updates, as the coupon's
    event would have. A change committed after this read publishes its own event, which now finds
    the pass. Locks nothing: a second touch of the same pass is harmless."""
    with transaction.atomic():
        if not coupon_is_active(coupon_id=coupon_id, now=timezone.now()):
            wallet_passes_touch(company_id=company_id, customer_id=customer_id, coupon_id=coupon_id)


def wallet_notification_send(
    *, company: Company, customer_id: str, notification_type: str, message: str
) -> WalletNotification:
    """Accept a partner's notification for the customer and, unless it is over the hourly limit,
    put it on every pass the customer holds of this company and queue the pushes and Google
    messages that deliver it (the wallet worker sends them). The answer is the same in every case
    (202 queued); the row's ``outcome`` records what became of it.

    Locks the customer row (``customers.lock_objects.customer_lock``) for the count and the
    insert: two notifications at once for one customer serialise there, so the second counts the
    first and the limit (WALLET_NOTIFICATIONS_PER_HOUR, counting the queued ones of the last hour)
    holds under concurrency."""
    with transaction.atomic():
        customer = (
            customer_lock(customer_id=customer_id, company_id=company.pk) if is_ksuid(customer_id) else None
        )
        if customer is None:
            raise NotFound("Customer not found.")
        now = timezone.now()
        sent = WalletNotification.objects.filter(
            customer=customer,
            outcome=WalletNotification.Outcome.QUEUED,
            created_at__gt=now - timedelta(hours=1),
        ).count()
        if sent >= settings.WALLET_NOTIFICATIONS_PER_HOUR:
            outcome = WalletNotification.Outcome.THROTTLED
            logger.warning(
                "wallet notification to customer %s throttled: %d queued in the last hour (limit %d)",
                customer.pk,
                sent,
                settings.WALLET_NOTIFICATIONS_PER_HOUR,
            )
        elif WalletPass.objects.filter(company=company, customer=customer).update(
            message=message, message_type=notification_type, message_at=now
        ):
            outcome = WalletNotification.Outcome.QUEUED
            wallet_passes_touch(
                company_id=company.pk, customer_id=customer.pk, all_passes=True, google_message=True, now=now
            )
        else:
            outcome = WalletNotification.Outcome.NO_PASS
        return WalletNotification.objects.create(
            company=company, customer=customer, type=notification_type, message=message, outcome=outcome
        )
