"""Writes to customers' balances. Every change of points or Z$ goes through ``ledger_post``."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from companies.models import ApiKey, Company, LoyaltyProgram
from core.db import row_update, rows_insert
from core.errors import DomainError, NotFound, ValidationFailed
from core.events import publish
from core.money import POINTS_MAX, Z_MICRO_MAX, z_format, z_to_micro
from core.timefmt import iso_utc
from customers.errors import BalanceLimit, PointsCapReached
from customers.lock_objects import customer_lock
from customers.models import Currency, Customer, EntryKind, LedgerEntry
from otp.policy import otp_session_check


@dataclass(frozen=True)
class Movement:
    currency: str
    amount: int  # signed (negative spends), in the currency's unit: points or micro-Z$
    kind: str


def ledger_post(
    *,
    customer: Customer,
    movements: list[Movement],
    reason: str = "",
    coupon_id: str | None = None,
    api_key: ApiKey | None = None,
) -> list[LedgerEntry]:
    """Apply movements to ``customer`` and write one ledger row each, with balance before/after.

    The caller must hold the customer's row lock (``customer_lock``) in its open transaction:
    the balance read here is then the one the UPDATE overwrites, so no concurrent change is lost.
    A movement that would make a balance negative is a bug in the caller (it checks first), and the
    database's CHECK constraints refuse it anyway. One that would take a balance or a lifetime
    counter past its bound, or that earns or adjusts points past the balance cap (``core.money``),
    is refused here with ``BalanceLimit`` (422), before anything is written; the caller's
    transaction rolls back whatever it did before.
    """
    entries: list[LedgerEntry] = []
    fields = {"last_activity_date", "updated_at"}
    for move in movements:
        amount = int(move.amount)
        if amount == 0:
            continue
        if move.currency == Currency.POINTS:
            earns = move.kind in (EntryKind.EARN, EntryKind.ADJUST)
            if earns and amount > customer.points_room():
                raise PointsCapReached()
            before = customer.points_balance
            customer.points_balance += amount
            fields.add("points_balance")
            if amount > 0 and move.kind in (EntryKind.EARN, EntryKind.ADJUST):
                customer.points_earned += amount
                fields.add("points_earned")
                if move.kind == EntryKind.EARN:
                    customer.visit_count += 1  # the segment rule's frequency
                    fields.add("visit_count")
            elif amount < 0 and move.kind in (EntryKind.REDEEM, EntryKind.ADJUST):
                customer.points_spent += -amount
                fields.add("points_spent")
            elif move.kind == EntryKind.REFUND:
                customer.points_spent -= amount
                fields.add("points_spent")
            after = customer.points_balance
            if max(after, customer.points_earned, customer.points_spent, abs(amount)) > POINTS_MAX:
                raise BalanceLimit(f"Points balances and lifetime totals may not exceed {POINTS_MAX}.")
        else:
            before = customer.z_balance
            customer.z_balance = after = before + amount
            fields.add("z_balance")
            if max(after, abs(amount)) > Z_MICRO_MAX:
                raise BalanceLimit(f"A Z$ balance may not exceed {z_format(Z_MICRO_MAX)}.")
        if after < 0:
            raise ValueError(f"ledger_post would make {move.currency} negative for {customer.pk}")
        entries.append(
            LedgerEntry(
                company_id=customer.company_id,
                customer=customer,
                currency=move.currency,
                kind=move.kind,
                amount=amount,
                balance_before=before,
                balance_after=after,
                reason=reason[:255],
                coupon_id=coupon_id,
                api_key=api_key,
            )
        )
    if not entries:
        return []
    now = customer.last_activity_date = timezone.now()
    customer.segment = customer.segment_now(now)
    fields.add("segment")
    if "points_earned" in fields:
        _tier_follow(customer, now)
        fields.add("tier")
    # Compiled once (core/db.py): this runs on every balance change.
    row_update(customer, sorted(fields))
    return rows_insert(entries)


def _tier_follow(customer: Customer, now: datetime) -> None:
    """Apply the program's tier rule (``LoyaltyProgram.tier_for``) after lifetime points changed; a
    change emits ``customer.tier_changed`` in the caller's transaction. Only lifetime points move a
    tier, so spending and refunds never do. ``customer.company`` should be the key's (cached with
    its program): then this costs no query."""
    try:
        program = customer.company.loyalty_program
    except LoyaltyProgram.DoesNotExist:
        return
    old, new = customer.tier, program.tier_for(customer.points_earned)
    if new == old:
        return
    customer.tier = new
    publish(
        company_id=customer.company_id,
        event="customer.tier_changed",
        data={"customer_id": customer.pk, "old_tier": old, "new_tier": new, "changed_at": iso_utc(now)},
    )


def points_moved_publish(
    *,
    customer: Customer,
    entry: LedgerEntry,
    source: str,
    reference_id: str,
    coupon_id: str | None = None,
    z_bonus: int = 0,
) -> None:
    """Emit ``points.earned`` or ``points.spent`` (by the sign of ``entry``) for a points movement
    just written to the ledger, in the caller's transaction, with the data a points add or a
    redemption carries: upstream's fields, then this service's own names beside them. Every change
    of a points balance tells its listeners (webhooks, wallet cards) through here. ``z_bonus`` is the
    program's Z$ bonus (micro-Z$) credited with earned points: only points/add credits one."""
    amount = entry.amount
    at = iso_utc(entry.created_at)
    if amount > 0:
        publish(
            company_id=customer.company_id,
            event="points.earned",
            data={
                "customer_id": customer.pk,
                "points_added": amount,
                "new_balance": customer.points_balance,
                "source": source,
                "reference_id": reference_id,
                "awarded_at": at,
                "amount": amount,
                "balance_after": customer.points_balance,
                "reason": entry.reason,
                "activity_id": entry.pk,
                "z_bonus": z_format(z_bonus),
            },
        )
    elif amount < 0:
        publish(
            company_id=customer.company_id,
            event="points.spent",
            data={
                "customer_id": customer.pk,
                "points_spent": -amount,
                "new_balance": customer.points_balance,
                "source": source,
                "reference_id": reference_id,
                "spent_at": at,
                "amount": -amount,
                "balance_after": customer.points_balance,
                "coupon_id": coupon_id,
            },
        )


def points_entries(entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """The points rows of what ``ledger_post`` wrote (it skips zero movements, so there may be none)."""
    return [entry for entry in entries if entry.currency == Currency.POINTS]


def customer_adjust_balance(
    *, customer_id: str, points: int = 0, z_amount: Decimal | int = 0, reason: str
) -> Customer:
    """An admin's manual correction of points and/or Z$ (a decimal amount, at most 6 places),
    written to the ledger like any other change.

    Locks the Customer row for the same reason as every balance change (see ``ledger_post``).
    """
    if not reason.strip():
        raise ValidationFailed("A reason is required for a manual adjustment.")
    z_micro = z_to_micro(z_amount)
    with transaction.atomic():
        customer = customer_lock(customer_id=customer_id)
        if customer is None:
            raise NotFound("Customer not found.")
        refusals = adjustment_refusals(customer=customer, points=points, z_micro=z_micro)
        if refusals:
            raise next(iter(refusals.values()))
        entries = ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, points, EntryKind.ADJUST),
                Movement(Currency.Z, z_micro, EntryKind.ADJUST),
            ],
            reason=reason,
        )
        for entry in points_entries(entries):
            # The adjustment's own ledger row is what it refers to: there is no order or coupon.
            points_moved_publish(
                customer=customer, entry=entry, source="admin_adjustment", reference_id=entry.pk
            )
    return customer


def adjustment_refusals(*, customer: Customer, points: int, z_micro: int) -> dict[str, DomainError]:
    """Why adjusting ``customer``'s balances by ``points`` and ``z_micro`` (signed) cannot be written,
    by currency (``"points"``, ``"z"``); empty when it can. The rules ``ledger_post`` enforces for an
    adjustment: no balance below zero, no points past the cap, no balance or lifetime counter past its
    bound. Read from a
    locked row, the answer still holds when the ledger is written in the same transaction."""
    refusals: dict[str, DomainError] = {}
    balance = customer.points_balance + points
    earned = customer.points_earned + max(points, 0)
    spent = customer.points_spent + max(-points, 0)
    if balance < 0:
        refusals["points"] = ValidationFailed(
            f"The adjustment would make the points balance negative: it is {customer.points_balance}, "
            f"so at most {customer.points_balance} points can be taken away."
        )
    elif points > customer.points_room():
        refusals["points"] = PointsCapReached()
    elif max(balance, earned, spent) > POINTS_MAX:
        refusals["points"] = BalanceLimit(f"Points balances and lifetime totals may not exceed {POINTS_MAX}.")
    z_balance = customer.z_balance + z_micro
    if z_balance < 0:
        refusals["z"] = ValidationFailed(
            f"The adjustment would make the Z$ balance negative: it is {z_format(customer.z_balance)}, "
            "so at most that much can be taken away."
        )
    elif z_balance > Z_MICRO_MAX:
        refusals["z"] = BalanceLimit(f"A Z$ balance may not exceed {z_format(Z_MICRO_MAX)}.")
    return refusals


def customer_set_balances(
    *, customer_id: str, points: int, z_balance: Decimal | int, reason: str
) -> Customer:
    """Bring a customer's balances to the given values (Z$ as a decimal amount) through adjustment
    entries (demo seeding). Locks the Customer row, like every balance change. It emits no points
    event: it sets up a starting state (a demo customer's, a fixture's), which is no news to a partner;
    an admin's correction of a real customer goes through ``customer_adjust_balance``."""
    z_micro = z_to_micro(z_balance)
    with transaction.atomic():
        customer = customer_lock(customer_id=customer_id)
        if customer is None:
            raise NotFound("Customer not found.")
        ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, points - customer.points_balance, EntryKind.ADJUST),
                Movement(Currency.Z, z_micro - customer.z_balance, EntryKind.ADJUST),
            ],
            reason=reason,
        )
    return customer


def customer_create(
    *,
    company: Company,
    full_name: str = "",
    phone: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
    customer_id: str | None = None,
) -> Customer:
    customer = Customer(company=company, full_name=full_name, phone=phone, email=email, cpf=cpf)
    if customer_id:
        customer.id = customer_id
    customer.save(force_insert=True)
    return customer


@dataclass(frozen=True)
class Enrolment:
    customer: Customer
    created: bool
    matched_on: str | None


def _match(company: Company, identifiers: dict[str, str]) -> tuple[Customer, str] | None:
    query = Q()
    for field, value in identifiers.items():
        query |= Q(**{field: value})
    found = list(Customer.objects.filter(query, company=company)[:3])
    for customer in found:
        customer.company = company  # the key's, cached with its program (the answer names it)
    for field in ("phone", "email", "cpf"):  # phone is the strongest identifier at a till
        for customer in found:
            if field in identifiers and getattr(customer, field) == identifiers[field]:
                return customer, field
    return None


def customer_enrol(
    *,
    company: Company,
    otp_session: str | None,
    full_name: str = "",
    phone: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
) -> Enrolment:
    """A partner's enrolment (POST /customers/) under the company's OTP policy.

    When the policy asks for OTP on enrolment, the request must carry a live session (checked before
    anything is looked up), and the customer the identifiers lead to must be the session's: a
    customer created for anyone else is rolled back with the 403. (With such a policy, new
    customers are enrolled by verify-otp.)
    """
    otp_session_check(company=company, customer_id=None, action="enrollment", token=otp_session)
    with transaction.atomic():
        enrolment = customer_find_or_create(
            company=company, full_name=full_name, phone=phone, email=email, cpf=cpf
        )
        otp_session_check(
            company=company, customer_id=enrolment.customer.pk, action="enrollment", token=otp_session
        )
    return enrolment


def customer_find_or_create(
    *,
    company: Company,
    full_name: str = "",
    phone: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
) -> Enrolment:
    """Find the company's customer with this phone, e-mail or CPF (already normalised), or create one.

    An existing customer is returned as it is (nothing is merged into it). Two simultaneous
    enrolments of one phone both try to insert; the per-company unique constraint lets one win and
    the loser, whose savepoint rolls back, answers with the winner as a match.
    """
    identifiers = {k: v for k, v in {"phone": phone, "email": email, "cpf": cpf}.items() if v}
    if not identifiers:
        raise ValidationFailed(
            "Give at least one of phone, email or cpf.",
            errors=[{"field": "body", "detail": "At least one of phone, email or cpf is required."}],
        )
    with transaction.atomic():
        match = _match(company, identifiers)
        if match is not None:
            return Enrolment(customer=match[0], created=False, matched_on=match[1])
        try:
            with transaction.atomic():
                customer = customer_create(company=company, full_name=full_name, **identifiers)
            publish(
                company_id=company.pk,
                event="customer.enrolled",
                data={
                    **identifiers,  # the e-mail and CPF when given
                    "customer_id": customer.pk,
                    "program_id": company.loyalty_program.pk,
                    "name": customer.full_name,
                    "phone": customer.phone or "",
                    "enrolled_at": iso_utc(customer.created_at),
                    "full_name": customer.full_name,  # beside upstream's "name", for receivers written to it
                },
            )
            return Enrolment(customer=customer, created=True, matched_on=None)
        except IntegrityError:
            match = _match(company, identifiers)
            if match is None:
                raise
            return Enrolment(customer=match[0], created=False, matched_on=match[1])


def points_add(
    *,
    company: Company,
    customer_id: str,
    amount: int,
    reason: str,
    api_key: ApiKey | None,
    source: str = "api",
    reference_id: str | None = None,
) -> LedgerEntry:
    """Award points (a purchase, a promotion). Locks the Customer row, like every balance change.

    ``source`` and ``reference_id`` are what the ``points.earned`` event says about where the points
    came from: the partner API's points/add by default (its reference the ledger entry), or a
    partner integration's order (``integration:<slug>``, ``<slug>:<order id>``).

    The program's Z$ bonus (``LoyaltyProgram.z_bonus_per_point``, set by ops) is credited to the Z$
    balance in the same lock and transaction, right after the points: a ledger entry of its own
    (currency Z$, kind earn) that points history shows as ``earn_zupys``."""
    with transaction.atomic():
        customer = customer_lock(company_id=company.pk, customer_id=customer_id)
        if customer is None:
            raise NotFound("Customer not found.")
        customer.company = company  # the key's, cached with its program: the tier rule reads it
        z_bonus = z_bonus_for(company=company, points=amount)
        # The points first, then the program's Z$ bonus, in one posting: both or neither.
        entry, *_ = ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, amount, EntryKind.EARN),
                Movement(Currency.Z, z_bonus, EntryKind.EARN),
            ],
            reason=reason,
            api_key=api_key,
        )
        points_moved_publish(
            customer=customer,
            entry=entry,
            source=source,
            # By default the points-history entry of this award (the add's activity_id).
            reference_id=reference_id or entry.pk,
            z_bonus=z_bonus,
        )
    return entry


def z_bonus_for(*, company: Company, points: int) -> int:
    """The Z$ bonus (micro-Z$) the company's program credits for ``points`` awarded: what
    ``points_add`` credits, so a caller that must undo an award later can record it."""
    try:
        program = company.loyalty_program
    except LoyaltyProgram.DoesNotExist:
        return 0
    return program.z_bonus_micro(points)


@dataclass(frozen=True)
class Reversal:
    points: int  # taken back (at most what was asked)
    z_micro: int


def points_reverse(
    *,
    company: Company,
    customer_id: str,
    points: int,
    z_micro: int = 0,
    reason: str,
    source: str,
    reference_id: str,
) -> Reversal:
    """Take back an award (an order that was cancelled): ``points`` and the Z$ bonus ``z_micro``
    credited with them, each at most what the balance holds now (what the customer already spent
    stays spent: no balance goes below zero). Answers what was taken back. Written as adjustment
    entries with ``reason``, every ledger reader knowing that kind already; the points' entry is
    told as ``points.spent`` with ``source`` and ``reference_id``, as admin adjustments are. A
    customer that no longer exists has nothing to take back.

    Locks the Customer row, like every balance change: the balance the bound reads is the one the
    entries are written against."""
    if points < 0 or z_micro < 0:
        raise ValueError("points_reverse takes back non-negative amounts")
    with transaction.atomic():
        customer = customer_lock(company_id=company.pk, customer_id=customer_id)
        if customer is None:
            return Reversal(points=0, z_micro=0)
        customer.company = company
        taken = Reversal(
            points=min(points, customer.points_balance), z_micro=min(z_micro, customer.z_balance)
        )
        entries = ledger_post(
            customer=customer,
            movements=[
                Movement(Currency.POINTS, -taken.points, EntryKind.ADJUST),
                Movement(Currency.Z, -taken.z_micro, EntryKind.ADJUST),
            ],
            reason=reason,
        )
        for entry in points_entries(entries):
            points_moved_publish(customer=customer, entry=entry, source=source, reference_id=reference_id)
    return taken


def customer_segments_refresh(*, now: datetime | None = None, chunk_size: int = 2000) -> int:
    """Bring every stored RFM segment up to date with time (recency moves while nothing happens);
    return how many changed.

    Takes no lock: a customer whose row changed since it was read here (``ledger_post`` stores a
    fresh segment and ``updated_at``) is left alone by the conditional UPDATE, so this never
    overwrites a newer segment with an older one.
    """
    now = now or timezone.now()
    changed = 0
    rows = Customer.objects.only(
        "id", "created_at", "updated_at", "last_activity_date", "visit_count", "points_earned", "segment"
    ).order_by("id")
    for customer in rows.iterator(chunk_size=chunk_size):
        segment = customer.segment_now(now)
        if segment != customer.segment:
            changed += Customer.objects.filter(pk=customer.pk, updated_at=customer.updated_at).update(
                segment=segment
            )
    return changed
