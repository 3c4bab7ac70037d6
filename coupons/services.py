"""The coupon lifecycle, every write of it: redeem a reward (price, stock, debit, issue), validate
(use at the till), cancel (with refund) and expire."""

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from companies.models import ApiKey, Company
from core.db import db_param, row_insert_unless_taken, statement
from core.errors import DomainError, NotFound, ValidationFailed
from core.events import publish
from core.ids import is_ksuid
from core.inputs import ascii_int
from core.money import Z_MICRO, exceeds_share, times, z_format
from core.timefmt import iso_utc
from coupons.errors import (
    AlreadyRedeemed,
    CouponCancelled,
    CouponExpired,
    CouponNotCancellable,
    CouponUsed,
    FreeRewardAlreadyClaimed,
    InsufficientPoints,
    InsufficientZBalance,
    RewardUnavailable,
    ZGapTooLarge,
)
from coupons.lock_objects import coupon_lock, coupon_lock_for_use, coupons_lock_skipping_locked
from coupons.models import (
    CODE_ALPHABET,
    CODE_EXPECTED,
    LEGACY_CODE_RE,
    Coupon,
    CouponStatus,
    CouponUse,
    code_from_typed,
)
from coupons.selectors import coupon_ref_lookup, coupons_taken
from customers.lock_objects import customer_lock
from customers.models import Currency, Customer, EntryKind
from customers.selectors import customer_by_reference
from customers.services import Movement, ledger_post, points_entries, points_moved_publish
from otp.policy import otp_session_check
from rewards.lock_objects import reward_lock
from rewards.models import Reward
from rewards.services import reward_stock_move

CODE_ATTEMPTS = 8


def coupon_code_generate() -> str:
    return "CZ-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def coupon_issue(
    *, customer: Customer, reward: Reward, points_spent: int, z_tokens_spent: int, now: datetime
) -> Coupon:
    """Create the coupon of a redemption; the caller's transaction holds the customer lock.

    Codes are random (31^8 ≈ 8.5e11); a code already taken makes the INSERT do nothing (``ON
    CONFLICT (code) DO NOTHING``) and a new code is drawn: no savepoint per coupon, and the
    surrounding redemption goes on. Any other refusal (a CHECK) still raises.
    """
    for _ in range(CODE_ATTEMPTS):
        coupon = Coupon(
            company_id=customer.company_id,
            customer=customer,
            reward=reward,
            code=coupon_code_generate(),
            status=CouponStatus.ACTIVE,
            origin_type=reward.origin_type,
            total_usages_allowed=reward.total_usages_allowed,
            remaining_usages=reward.total_usages_allowed,
            points_spent=points_spent,
            z_tokens_spent=z_tokens_spent,
            valid_until=now + timedelta(days=reward.validity_days),
        )
        if row_insert_unless_taken(coupon, unique="code"):
            return coupon
    raise IntegrityError(f"no free coupon code in {CODE_ATTEMPTS} draws")


def redemption_price(
    *, cost: int, points_balance: int, z_balance: int, use_z_tokens: bool
) -> tuple[int, int]:
    """(points_used, z_tokens_used in micro-Z$) for a reward of ``cost`` points, by the contract's
    Z$ rules (``z_balance`` in micro-Z$ too).

    Points go first. With ``use_z_tokens`` the remaining gap is paid at 1 point = 1 Z$ plus
    ZUPY_Z_MARKUP, and only if the gap is at most ZUPY_Z_MAX_COVER of the cost. Both are computed
    exactly in integers; the Z$ price is rounded half to even to the micro-Z$ (with a markup of at
    most 6 places, as the default 0.20, nothing is ever rounded).
    Worked example: cost 500, balance 450, Z$ 1150 -> (450, 60.000000).
    """
    if points_balance >= cost:
        return cost, 0
    if not use_z_tokens:
        raise InsufficientPoints(f"The reward costs {cost} points; the customer has {points_balance}.")
    gap = cost - points_balance
    if exceeds_share(gap, cost, settings.ZUPY_Z_MAX_COVER):
        cap = cost * settings.ZUPY_Z_MAX_COVER
        raise ZGapTooLarge(
            f"The gap of {gap} points is more than Z$ may cover for this reward ({cap:f} points)."
        )
    z_needed = times(gap * Z_MICRO, 1 + settings.ZUPY_Z_MARKUP)
    if z_balance < z_needed:
        raise InsufficientZBalance(
            f"Covering the gap needs {z_format(z_needed)} Z$; the customer has {z_format(z_balance)}."
        )
    return points_balance, z_needed


@dataclass(frozen=True)
class Held:
    """What a caller has promised of a customer's balance and a reward's stock but not yet redeemed
    (an asynchronous redemption accepted and waiting): counted as spent by ``redemption_terms``."""

    points: int = 0
    of_this_reward: int = 0  # by this customer: counted against the per-customer limit
    stock: int = 0  # by any customer


def redemption_terms(
    *, customer: Customer, reward: Reward, now: datetime, use_z_tokens: bool, held: Held | None = None
) -> tuple[int, int]:
    """Whether ``customer`` may redeem ``reward`` now, and at what price: (points_used,
    z_tokens_used in micro-Z$), or the refusal ``coupon_redeem`` gives (unavailable, limit reached,
    not affordable). ``held`` is what is promised already and must be left for it. Reads no lock
    itself: under ``coupon_redeem``'s locks the answer is exact, without them a forecast."""
    held = held or Held()
    if not reward.is_available(now) or (
        reward.quantity_available is not None and reward.quantity_available <= held.stock
    ):
        raise RewardUnavailable()
    limit = reward.redemption_limit
    if limit is not None:
        taken = coupons_taken(customer=customer, reward=reward).count() + held.of_this_reward
        if taken >= limit:
            raise FreeRewardAlreadyClaimed() if reward.points_required == 0 else AlreadyRedeemed()
    return redemption_price(
        cost=reward.points_required,
        points_balance=customer.points_balance - held.points,
        z_balance=customer.z_balance,
        use_z_tokens=use_z_tokens,
    )


@dataclass(frozen=True)
class Redemption:
    coupon: Coupon
    customer: Customer
    points_used: int
    z_tokens_used: int  # micro-Z$
    use_z_tokens: bool


def coupon_redeem(
    *,
    company: Company,
    customer_id: str,
    reward_id: str,
    use_z_tokens: bool,
    api_key: ApiKey | None,
    otp_session: str | None = None,
) -> Redemption:
    """Redeem a reward for a customer: check, take stock, debit, write the ledger, issue the coupon.

    Locks the Customer row first (``customer_lock``: two redemptions by one customer serialise and
    the second sees the first's debit and coupon), then the Reward row (``reward_lock``: stock is
    taken exactly once). Every writer that takes both locks takes them in this order
    (``coupons.lock_objects``).
    """
    otp_session_check(company=company, customer_id=customer_id, action="redemption", token=otp_session)
    now = timezone.now()
    if not (is_ksuid(customer_id) and is_ksuid(reward_id)):
        raise NotFound("Customer or reward not found.")
    with transaction.atomic():
        customer = customer_lock(company_id=company.pk, customer_id=customer_id)
        if customer is None:
            raise NotFound("Customer not found.")
        reward = reward_lock(company_id=company.pk, reward_id=reward_id)
        if reward is None:
            raise NotFound("Reward not found.")
        points_used, z_used = redemption_terms(
            customer=customer, reward=reward, now=now, use_z_tokens=use_z_tokens
        )
        reward_stock_move(reward_id=reward.pk, taken=1)
        coupon = coupon_issue(
            customer=customer, reward=reward, points_spent=points_used, z_tokens_spent=z_used, now=now
        )
        entries = ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, -points_used, EntryKind.REDEEM),
                Movement(Currency.Z, -z_used, EntryKind.REDEEM),
            ],
            reason=f"Redeemed {reward.name}: {coupon.code}",
            coupon_id=coupon.pk,
            api_key=api_key,
        )
        publish(
            company_id=company.pk,
            event="reward.redeemed",
            data=coupon_event_data(
                coupon, points_spent=points_used, points_used=points_used, z_tokens_used=z_format(z_used)
            ),
        )
        for entry in points_entries(entries):
            # reference_id: the coupon this redemption issued.
            points_moved_publish(
                customer=customer,
                entry=entry,
                source="reward_redemption",
                reference_id=coupon.pk,
                coupon_id=coupon.pk,
            )
    return Redemption(
        coupon=coupon,
        customer=customer,
        points_used=points_used,
        z_tokens_used=z_used,
        use_z_tokens=use_z_tokens,
    )


def coupon_refusal(coupon: Coupon, now: datetime) -> type[DomainError] | None:
    """Why this coupon cannot be used now, or None if it can."""
    if coupon.status == CouponStatus.CANCELLED:
        return CouponCancelled
    if coupon.status == CouponStatus.USED or coupon.remaining_usages <= 0:
        return CouponUsed
    if coupon.status == CouponStatus.EXPIRED or coupon.is_expired(now):
        return CouponExpired
    return None


# The writes of a validation, by hand (core/db.py says why).
VALIDATE_USE = """
UPDATE {c} SET {c.remaining_usages} = %s, {c.usage_date} = %s, {c.status} = %s, {c.updated_at} = %s
 WHERE {c.id} = %s"""
VALIDATE_RECORD = """
INSERT INTO {u} ({u.id}, {u.coupon_id}, {u.company_id}, {u.api_key_id}, {u.used_at}, {u.remaining_after})
VALUES (%s, %s, %s, %s, %s, %s)"""


@dataclass(frozen=True)
class Validation:
    coupon: Coupon
    use: CouponUse
    customer: Customer


def coupon_validate(
    *,
    company: Company,
    customer_id: str,
    coupon_ref: str,
    api_key: ApiKey | None,
    otp_session: str | None = None,
) -> Validation:
    """Use one usage of a coupon, found by KSUID or code (any case).

    Locks the Coupon row (``coupon_lock_for_use``: SELECT ... FOR UPDATE OF the coupon) so that two tills
    validating at once serialise here: the second reads remaining_usages already decremented and
    gets 409. On SQLite the IMMEDIATE transaction takes the database write lock instead, with the same effect.
    An expired coupon is stored as expired even though the call is refused: the mark is committed
    by this block, and the refusal is raised only after it.
    """
    otp_session_check(company=company, customer_id=customer_id, action="coupon_usage", token=otp_session)
    now = timezone.now()
    with transaction.atomic():
        coupon = coupon_lock_for_use(company_id=company.pk, customer_id=customer_id, coupon_ref=coupon_ref)
        if coupon is None:
            if is_ksuid(customer_id) and coupon_ref_lookup(customer_id=customer_id, ref=coupon_ref) is None:
                raise NotFound(f'"{coupon_ref}" is neither a coupon id nor a coupon code. {CODE_EXPECTED}')
            raise NotFound("Coupon not found for this customer.")
        refusal = coupon_refusal(coupon, now)
        if refusal is None:
            coupon.remaining_usages -= 1
            coupon.usage_date = coupon.updated_at = now
            if coupon.remaining_usages == 0:
                coupon.status = CouponStatus.USED
            use = CouponUse(
                coupon=coupon,
                company=company,
                api_key=api_key,
                used_at=now,
                remaining_after=coupon.remaining_usages,
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    statement(VALIDATE_USE, c=Coupon),
                    [coupon.remaining_usages, db_param(now), coupon.status, db_param(now), coupon.pk],
                )
                cursor.execute(
                    statement(VALIDATE_RECORD, u=CouponUse),
                    [use.pk, coupon.pk, company.pk, use.api_key_id, db_param(now), use.remaining_after],
                )
            publish(
                company_id=company.pk,
                event="coupon.used",
                data=coupon_event_data(coupon, used_at=now, validated_at=now),
            )
        elif refusal is CouponExpired and coupon.status == CouponStatus.ACTIVE:
            coupon.status = CouponStatus.EXPIRED
            coupon.save(update_fields=["status", "updated_at"])
            # Stored as expired here, so expire_coupons will not see it: the event goes out now.
            publish(company_id=company.pk, event="coupon.expired", data=coupon_expired_data(coupon))
    if refusal is not None:
        raise refusal()
    return Validation(coupon=coupon, use=use, customer=coupon.customer)


def coupon_cancel(*, coupon_id: str, reason: str = "Coupon cancelled") -> Coupon:
    """Cancel an active, unused coupon: refund its points and Z$ through the ledger, return its stock.

    Locks the Customer row first (``customer_lock``), then the Coupon (``coupon_lock``), then the
    Reward (by its stock UPDATE, ``reward_stock_move``): the same order as a redemption (customer,
    reward), so the two cannot deadlock, and a concurrent validate (which locks only the coupon) is
    serialised against this on the coupon row.
    """
    now = timezone.now()
    with transaction.atomic():
        customer_id = Coupon.objects.filter(pk=coupon_id).values_list("customer_id", flat=True).first()
        if customer_id is None:
            raise NotFound("Coupon not found.")
        customer = customer_lock(customer_id=customer_id)
        coupon = coupon_lock(coupon_id=coupon_id)
        if customer is None or coupon is None:
            raise NotFound("Coupon not found.")
        if (
            coupon.effective_status(now) != CouponStatus.ACTIVE
            or coupon.remaining_usages != coupon.total_usages_allowed
        ):
            raise CouponNotCancellable()
        coupon.status = CouponStatus.CANCELLED
        coupon.cancelled_at = now
        coupon.save(update_fields=["status", "cancelled_at", "updated_at"])
        reward_stock_move(reward_id=coupon.reward_id, taken=-1)
        entries = ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, coupon.points_spent, EntryKind.REFUND),
                Movement(Currency.Z, coupon.z_tokens_spent, EntryKind.REFUND),
            ],
            reason=f"{reason}: {coupon.code}",
            coupon_id=coupon.pk,
        )
        for entry in points_entries(entries):
            # reference_id: the cancelled coupon whose points come back.
            points_moved_publish(
                customer=customer, entry=entry, source="coupon_cancellation", reference_id=coupon.pk
            )
        publish(
            company_id=coupon.company_id,
            event="coupon.cancelled",
            data=coupon_event_data(
                coupon,
                cancelled_at=now,
                points_refunded=coupon.points_spent,
                z_refunded=z_format(coupon.z_tokens_spent),
            ),
        )
    return coupon


def coupon_event_data(coupon: Coupon, **extra: object) -> dict[str, object]:
    """The ``data`` of a coupon's webhook events (reward.redeemed, coupon.*): what the upstream guide
    gives every one of them, plus ours; each event's own fields come in ``extra`` from its one call
    site. Datetimes in ``extra`` are written like the API's. The caller has loaded ``coupon.reward``."""
    data: dict[str, object] = {
        "customer_id": coupon.customer_id,
        "coupon_id": coupon.pk,
        "coupon_code": coupon.code,
        "reward_id": coupon.reward_id,
        "reward_name": coupon.reward.name,
        "remaining_usages": coupon.remaining_usages,
        "total_usages_allowed": coupon.total_usages_allowed,
        "valid_until": iso_utc(coupon.valid_until),
    }
    for key, value in extra.items():
        data[key] = iso_utc(value) if isinstance(value, datetime) else value
    return data


def coupon_expired_data(coupon: Coupon) -> dict[str, object]:
    """``coupon.expired``, from either place that stores the state: it expired at ``valid_until``,
    whenever we noticed."""
    return coupon_event_data(coupon, expired_at=coupon.valid_until)


def coupon_expiring_data(coupon: Coupon, *, now: datetime) -> dict[str, object]:
    """``coupon.expiring``: ``expires_in_days`` counts whole days left, rounded up (1 = within the
    next 24 hours), so a coupon that has not expired yet never says 0."""
    return coupon_event_data(
        coupon, expires_in_days=math.ceil((coupon.valid_until - now) / timedelta(days=1))
    )


@dataclass(frozen=True)
class ExpiryRun:
    expired: int
    expiring: int


def coupon_expire_due(*, now: datetime | None = None, batch: int = 500) -> ExpiryRun:
    """Store ``expired`` for active coupons past valid_until (emitting ``coupon.expired``), and emit
    ``coupon.expiring`` once per coupon COUPON_EXPIRING_DAYS before. Idempotent: each coupon is
    taken under its row lock (SKIP LOCKED, so a validate in progress is left alone for the next
    run) and changes state in the same transaction as its event."""
    now = now or timezone.now()
    expired = expiring = 0
    while True:
        with transaction.atomic():
            due = list(
                coupons_lock_skipping_locked()
                .filter(status=CouponStatus.ACTIVE, valid_until__lte=now)
                .order_by("valid_until")[:batch]
            )
            for coupon in due:
                coupon.status = CouponStatus.EXPIRED
                coupon.save(update_fields=["status", "updated_at"])
                publish(
                    company_id=coupon.company_id, event="coupon.expired", data=coupon_expired_data(coupon)
                )
        expired += len(due)
        if len(due) < batch:
            break
    horizon = now + timedelta(days=settings.COUPON_EXPIRING_DAYS)
    while True:
        with transaction.atomic():
            soon = list(
                coupons_lock_skipping_locked()
                .filter(
                    status=CouponStatus.ACTIVE,
                    valid_until__gt=now,
                    valid_until__lte=horizon,
                    expiring_notified_at__isnull=True,
                )
                .order_by("valid_until")[:batch]
            )
            for coupon in soon:
                coupon.expiring_notified_at = now
                coupon.save(update_fields=["expiring_notified_at", "updated_at"])
                publish(
                    company_id=coupon.company_id,
                    event="coupon.expiring",
                    data=coupon_expiring_data(coupon, now=now),
                )
        expiring += len(soon)
        if len(soon) < batch:
            break
    return ExpiryRun(expired=expired, expiring=expiring)


LEGACY_IMPORT_COLUMNS = ("code", "customer", "reward", "valid_until", "uses")
LEGACY_IMPORT_MAX_ROWS = 5000
LEGACY_USES_MAX = 1000


@dataclass(frozen=True)
class _LegacyCoupon:
    code: str
    customer: Customer
    reward: Reward
    valid_until: datetime
    uses: int


def _legacy_valid_until(raw: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when it names no zone), or a date: valid through that day, UTC."""
    when = parse_datetime(raw)
    if when is None:
        day = parse_date(raw)
        if day is None:
            return None
        when = datetime.combine(day + timedelta(days=1), datetime.min.time())
    return when if timezone.is_aware(when) else timezone.make_aware(when, UTC)


def _legacy_row(
    *, company: Company, row: dict[str, str], now: datetime, seen: set[str]
) -> _LegacyCoupon | str:
    """The coupon one CSV row describes, or why it cannot be imported."""
    typed = (row.get("code") or "").strip()
    code = code_from_typed(typed)
    if code is None or not LEGACY_CODE_RE.match(code):
        return f'code "{typed[:20]}" is not a legacy code (CP- and 8 letters or digits)'
    if code in seen:
        return f"code {code} appears twice in the file"
    if Coupon.objects.filter(code=code).exists():
        return f"code {code} exists already"
    ref = (row.get("customer") or "").strip()
    customer = customer_by_reference(company=company, reference=ref)
    if customer is None:
        return f'customer "{ref[:40]}" is not a customer of {company.name} (give its id, phone or e-mail)'
    name = (row.get("reward") or "").strip()
    rewards = list(Reward.objects.filter(Q(pk=name) | Q(name=name), company=company)[:2])
    if len(rewards) != 1:
        return (
            f'reward "{name[:40]}" names {"no" if not rewards else "more than one"} reward of {company.name}'
        )
    valid_until = _legacy_valid_until((row.get("valid_until") or "").strip())
    if valid_until is None:
        return "valid_until is not an ISO 8601 date or date-time"
    if valid_until <= now:
        return "valid_until is in the past: an expired coupon is not worth importing"
    uses = ascii_int((row.get("uses") or "1").strip())
    if uses is None or not 1 <= uses <= LEGACY_USES_MAX:
        return f"uses must be a whole number from 1 to {LEGACY_USES_MAX}"
    seen.add(code)
    return _LegacyCoupon(code=code, customer=customer, reward=rewards[0], valid_until=valid_until, uses=uses)


def coupons_import_legacy(*, company: Company, rows: list[dict[str, str]]) -> list[Coupon]:
    """Import coupons migrated from the previous generation, with their ``CP-`` codes, for
    ``company``: every row or none. Each row names its code, customer (id, phone or e-mail), reward
    (id or exact name), ``valid_until`` and ``uses``; any bad row refuses the whole file with every
    problem listed by line (``errors``), and nothing is written.

    An imported coupon is active, unused, ``points_spent`` 0 (its points were spent in the previous
    system, so a cancel refunds none) and takes one of its reward's stock, as a redemption does, so
    that a cancel can give it back. Locks each reward's row (``reward_lock``, in id order, so two
    imports cannot deadlock) before its stock is checked and taken; the unique code column settles two
    imports of one code at once (the loser's IntegrityError rolls its whole file back)."""
    if not rows:
        raise ValidationFailed("The file has no coupons.")
    if len(rows) > LEGACY_IMPORT_MAX_ROWS:
        raise ValidationFailed(f"Import at most {LEGACY_IMPORT_MAX_ROWS} coupons at a time.")
    now = timezone.now()
    with transaction.atomic():
        seen: set[str] = set()
        parsed = [_legacy_row(company=company, row=row, now=now, seen=seen) for row in rows]
        problems = [
            {"field": f"line {line}", "detail": found}
            for line, found in enumerate(parsed, start=2)  # line 1 is the header
            if isinstance(found, str)
        ]
        wanted: dict[str, int] = {}
        for item in parsed:
            if isinstance(item, _LegacyCoupon):
                wanted[item.reward.pk] = wanted.get(item.reward.pk, 0) + 1
        for reward_id in sorted(wanted):
            reward = reward_lock(company_id=company.pk, reward_id=reward_id)
            left = reward.quantity_available if reward is not None else None
            if reward is not None and left is not None and left < wanted[reward_id]:
                problems.append(
                    {
                        "field": f"reward {reward.name}",
                        "detail": f"{wanted[reward_id]} coupons, {left} in stock",
                    }
                )
        if problems:
            raise ValidationFailed(
                f"Nothing was imported: {len(problems)} problem(s) in the file.", errors=problems
            )
        coupons = [
            Coupon(
                company=company,
                customer=item.customer,
                reward=item.reward,
                code=item.code,
                status=CouponStatus.ACTIVE,
                origin_type=item.reward.origin_type,
                total_usages_allowed=item.uses,
                remaining_usages=item.uses,
                points_spent=0,
                z_tokens_spent=0,
                valid_until=item.valid_until,
            )
            for item in parsed
            if isinstance(item, _LegacyCoupon)
        ]
        Coupon.objects.bulk_create(coupons)
        for reward_id, taken in wanted.items():
            reward_stock_move(reward_id=reward_id, taken=taken)
    return coupons
