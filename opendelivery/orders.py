"""Accrual from an ordering platform's orders: the customer events it sends (``order.created``
awards the merchant's points, ``order.cancelled`` takes back what that order awarded), once per
(company, orderId) whatever arrives twice, at once or out of order.

The rules are the integrations' (``integrations.services``): identify by phone or e-mail, find or
enrol the customer on this trusted path (no OTP), the points of ``integrations.models.accrual_points``
at the merchant's rate, one award at most ``POINTS_PER_ADD_MAX``, an order that earns nothing enrols
nobody."""

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from django.db import IntegrityError, transaction

from companies.models import Company
from core.errors import DomainError
from core.money import POINTS_PER_ADD_MAX
from customers.identifiers import NORMALISERS
from customers.services import customer_find_or_create, points_add, points_reverse, z_bonus_for
from integrations.models import accrual_points
from opendelivery.errors import EventInvalid, EventTypeUnknown
from opendelivery.models import OdMerchant, OdOrder, OrderStatus

log = logging.getLogger("zupy.opendelivery")

# The standard's CustomerEventType, in its order. The two order events move points; the others are
# facts a loyalty host has no use for, acknowledged and ignored.
CUSTOMER_EVENT_TYPES = (
    "order.created",
    "order.cancelled",
    "order.delivered",
    "cart.abandoned",
    "customer.updated",
    "customer.consent.updated",
    "review.created",
)
ORDER_CREATED, ORDER_CANCELLED = CUSTOMER_EVENT_TYPES[:2]
# What ``points.earned`` / ``points.spent`` name as the points' source; their reference is the orderId.
SOURCE = "opendelivery"
# The standard's identifier types that lead to a customer here, and the field each one fills.
IDENTIFIER_FIELDS = {"phone": "phone", "email": "email"}
ID_MAX = 100  # OdOrder.order_id and the event ids it keeps
REASON_MAX = 200  # OdOrder.reason
# A total in cents past this is no order anyone took (10^13 currency units); refused as malformed.
TOTAL_CENTS_MAX = 10**15
CENTS = Decimal(100)


@dataclass(frozen=True)
class CustomerEvent:
    """A customer event envelope as read: what the order services need of it."""

    event_type: str
    occurred_at: datetime
    id: str = ""
    order_id: str = ""
    identifier_type: str = ""
    identifier_value: str = ""
    total_cents: int | None = None


class Handled(Enum):
    ACCEPTED = "accepted"  # an order event: recorded (credited, reversed, or nothing to do)
    IGNORED = "ignored"  # a known event that moves no points


@dataclass(frozen=True)
class OrderOutcome:
    order: OdOrder
    duplicate: bool  # this event changed nothing: the order had been decided before


# --- Reading the envelope ---------------------------------------------------------------------------
def _refuse(field: str, detail: str) -> EventInvalid:
    return EventInvalid(f"{field}: {detail}", details=[field])


def _text(
    data: dict[str, Any], name: str, *, limit: int | None = None, required: bool = False, within: str = ""
) -> str:
    value = data.get(name)
    field = f"{within}.{name}" if within else name
    if value is None:
        if required:
            raise _refuse(field, "This field is required.")
        return ""
    if not isinstance(value, str):
        raise _refuse(field, "Must be a string.")
    value = value.strip()
    if required and not value:
        raise _refuse(field, "May not be blank.")
    if limit is not None and len(value) > limit:
        raise _refuse(field, f"At most {limit} characters.")
    if not value.isprintable():
        raise _refuse(field, "Control characters are not allowed.")
    return value


def _object(data: dict[str, Any], field: str) -> dict[str, Any]:
    value = data.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _refuse(field, "Must be an object.")
    return value


def _occurred_at(data: dict[str, Any]) -> datetime:
    raw = _text(data, "occurredAt", limit=64, required=True)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in raw.upper():
        raise _refuse("occurredAt", "An ISO 8601 date-time with its offset, e.g. 2026-07-19T12:00:00Z.")
    return value


def _total_cents(payload: dict[str, Any]) -> int:
    value = payload.get("totalAmount")
    field = "payload.totalAmount"
    if value is None:
        raise _refuse(field, "order.created needs the order's total, in cents.")
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise _refuse(field, "Must be a number (the total in cents).")
    amount = Decimal(str(value))
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise _refuse(field, "The total is in cents: a whole number.")
    if not 0 <= amount <= TOTAL_CENTS_MAX:
        raise _refuse(field, f"Between 0 and {TOTAL_CENTS_MAX} cents.")
    return int(amount)


def customer_event_read(data: object) -> CustomerEvent:
    """The standard's CustomerEventEnvelope read and checked: ``EventInvalid`` (400) for a malformed
    one, ``EventTypeUnknown`` (422) for an ``eventType`` outside the standard's list. An order event
    names its order by ``orderId`` or ``payload.id`` (both: the same), and ``order.created`` its
    ``payload.totalAmount`` in cents."""
    if not isinstance(data, dict):
        raise EventInvalid("The body must be a JSON object (a CustomerEventEnvelope).")
    event_type = _text(data, "eventType", limit=64, required=True)
    occurred_at = _occurred_at(data)
    event_id = _text(data, "id", limit=ID_MAX)
    identifier = _object(data, "customerIdentifier")
    identifier_type = identifier_value = ""
    if "customerIdentifier" in data and data["customerIdentifier"] is not None:
        identifier_type = _text(identifier, "type", limit=32, required=True, within="customerIdentifier")
        identifier_value = _text(identifier, "value", limit=320, required=True, within="customerIdentifier")
    payload = _object(data, "payload")
    order_id = _text(data, "orderId", limit=ID_MAX)
    if event_type not in CUSTOMER_EVENT_TYPES:
        raise EventTypeUnknown(
            f"eventType {event_type!r} is not a customer event type of the standard "
            f"({', '.join(CUSTOMER_EVENT_TYPES)})."
        )
    event = CustomerEvent(
        event_type=event_type,
        occurred_at=occurred_at,
        id=event_id,
        identifier_type=identifier_type.lower(),
        identifier_value=identifier_value,
    )
    if event_type not in (ORDER_CREATED, ORDER_CANCELLED):
        return event
    payload_id = _text(payload, "id", limit=ID_MAX, within="payload")
    if order_id and payload_id and order_id != payload_id:
        raise _refuse("orderId", f"Names another order than payload.id ({payload_id!r}).")
    order_id = order_id or payload_id
    if not order_id:
        raise _refuse("orderId", f"{event_type} needs the order's id (orderId or payload.id).")
    # order.cancelled may say the total too: kept when the order was never seen.
    total = (
        None
        if event_type == ORDER_CANCELLED and payload.get("totalAmount") is None
        else _total_cents(payload)
    )
    return replace(event, order_id=order_id, total_cents=total)


def _customer_identifier(event: CustomerEvent) -> tuple[dict[str, str], str]:
    """The customer's identifier as a Customer field in normal form, or why there is none (a
    document, an external id: no lookup by them here). A phone or e-mail that is not one is 400."""
    if not event.identifier_type:
        return {}, "The event names no customer (customerIdentifier)."
    field = IDENTIFIER_FIELDS.get(event.identifier_type)
    if field is None:
        return {}, (
            f"A customer identified by {event.identifier_type!r} is not looked up: "
            "only phone and email identify a customer for accrual."
        )
    try:
        return {field: NORMALISERS[field](event.identifier_value)}, ""
    except ValueError as exc:
        raise _refuse("customerIdentifier.value", str(exc)) from exc


# --- The services -----------------------------------------------------------------------------------
def od_merchant_configure(
    *, company: Company, points_per_unit: Decimal | None, rounding: str | None = None
) -> tuple[OdMerchant, bool]:
    """Set the company's accrual rate for orders (points per currency unit; None: accrual off) and
    its rounding (None keeps it), creating its OdMerchant row (its ``externalCode``) if it has
    none; answers it and whether it was created. Validated like the admin's form. Locks the row so
    that two changes at once do not mix their fields."""
    with transaction.atomic():
        merchant = OdMerchant.objects.select_for_update().filter(company=company).first()
        created = merchant is None
        if merchant is None:
            merchant = OdMerchant(company=company)
        merchant.points_per_unit = points_per_unit
        if rounding is not None:
            merchant.rounding = rounding
        merchant.full_clean(validate_unique=False)
        merchant.save()
        merchant.refresh_from_db()  # the stored values (the rate with its four places)
    return merchant, created


def od_customer_event(*, company: Company, data: object) -> Handled:
    """One customer event an ordering platform sent for ``company`` (the merchant its token
    selected): read it, and hand an order event to its service. Every other known event is
    ``IGNORED``. Refusals (malformed, unknown type) write nothing."""
    event = customer_event_read(data)
    if event.event_type == ORDER_CREATED:
        od_order_created(company=company, event=event)
    elif event.event_type == ORDER_CANCELLED:
        od_order_cancelled(company=company, event=event)
    else:
        return Handled.IGNORED
    return Handled.ACCEPTED


def _order_get(company: Company, order_id: str, *, for_update: bool = False) -> OdOrder | None:
    orders = OdOrder.objects.filter(company=company, order_id=order_id)
    return (orders.select_for_update() if for_update else orders).first()


def od_order_created(*, company: Company, event: CustomerEvent) -> OrderOutcome:
    """``order.created``: award the merchant's points for the order's total, once per orderId.

    The cents are currency units times 100; the merchant's ``points_per_unit`` and ``rounding``
    make them points. Recorded with nothing awarded (and answered as accepted): a customer named
    by a document or not at all, a merchant without a rate, a total that earns no points or more
    than one award may, a suspended (inactive) customer, a balance at its cap. Only an order that
    earns points finds or enrols its customer.

    Takes no lock before the order's row: inserting it is what decides between 20 identical events
    (the ``od_order_once`` unique index holds the others until the first commits, then refuses
    them, and their whole transaction, an enrolment included, rolls back). ``points_add`` then
    locks the customer's row."""
    before = _order_get(company, event.order_id)
    if before is not None:
        return OrderOutcome(order=before, duplicate=True)
    order = OdOrder(
        company=company,
        order_id=event.order_id,
        total_cents=event.total_cents,
        created_event_id=event.id,
        status=OrderStatus.NOTHING,
    )
    identifiers, why_not = _customer_identifier(event)
    points = 0
    if identifiers:
        merchant = OdMerchant.objects.filter(company=company).first()
        if merchant is None or merchant.points_per_unit is None:
            why_not = "The merchant has no accrual rate: orders award nothing."
        else:
            points = accrual_points(
                Decimal(event.total_cents or 0) / CENTS, merchant.points_per_unit, merchant.rounding
            )
            if points < 1:
                why_not = f"The total of {event.total_cents} cents earns no points."
            elif points > POINTS_PER_ADD_MAX:
                why_not = (
                    f"The total of {event.total_cents} cents earns {points} points: "
                    f"one award is at most {POINTS_PER_ADD_MAX}."
                )
    try:
        with transaction.atomic():
            if why_not:
                order.reason = why_not[:REASON_MAX]
                order.save(force_insert=True)
                return OrderOutcome(order=order, duplicate=False)
            customer = customer_find_or_create(company=company, **identifiers).customer
            order.customer = customer
            if not customer.is_active:
                # The standard's SUSPENDED account (an inactive customer) must not earn points.
                order.reason = "The customer's account is suspended: it earns no points."
                order.save(force_insert=True)
                return OrderOutcome(order=order, duplicate=False)
            order.save(force_insert=True)
            try:
                with transaction.atomic():
                    points_add(
                        company=company,
                        customer_id=customer.pk,
                        amount=points,
                        reason=f"OpenDelivery order {event.order_id}",
                        api_key=None,
                        source=SOURCE,
                        reference_id=event.order_id,
                    )
            except DomainError as exc:  # the points cap, a balance bound: the order awards nothing
                order.reason = exc.detail[:REASON_MAX]
            else:
                order.status = OrderStatus.CREDITED
                order.points_awarded = points
                # What points_add credited beside the points, in this transaction: the same rate.
                order.z_awarded = z_bonus_for(company=company, points=points)
            order.save(update_fields=["status", "points_awarded", "z_awarded", "reason", "updated_at"])
    except IntegrityError:
        existing = _order_get(company, event.order_id)
        if existing is None:  # not the order's unique constraint
            raise
        return OrderOutcome(order=existing, duplicate=True)
    log.info("opendelivery: order %s of %s: %s", order.order_id, company.pk, order.status)
    return OrderOutcome(order=order, duplicate=False)


def od_order_cancelled(*, company: Company, event: CustomerEvent) -> OrderOutcome:
    """``order.cancelled``: take back what the order awarded (points and the Z$ bonus with them),
    once. What the customer has spent since stays spent: the reversal is at most the balance, and
    the order records what was taken back and the shortfall. A cancel of an order never seen is
    recorded, so that its ``order.created`` arriving late awards nothing; a second cancel changes
    nothing.

    Locks the order's row (``SELECT ... FOR UPDATE``) so that two cancels, or a cancel and the
    order's creation, are decided one after the other; ``points_reverse`` then locks the customer,
    in the same order as the creation takes them (order, then customer)."""
    with transaction.atomic():
        order = _order_get(company, event.order_id, for_update=True)
        if order is None:
            early = OdOrder(
                company=company,
                order_id=event.order_id,
                total_cents=event.total_cents,
                cancelled_event_id=event.id,
                status=OrderStatus.CANCELLED,
                reason="Cancelled before its order.created arrived: the order awards nothing.",
            )
            try:
                with transaction.atomic():
                    early.save(force_insert=True)
                return OrderOutcome(order=early, duplicate=False)
            except IntegrityError:  # its order.created committed meanwhile
                order = _order_get(company, event.order_id, for_update=True)
                assert order is not None
        if order.status == OrderStatus.CANCELLED:
            return OrderOutcome(order=order, duplicate=True)
        due_points = order.points_awarded - order.points_reversed
        due_z = order.z_awarded - order.z_reversed
        reason = "Cancelled: nothing had been awarded."
        if order.customer_id and (due_points or due_z):
            taken = points_reverse(
                company=company,
                customer_id=order.customer_id,
                points=due_points,
                z_micro=due_z,
                reason=f"OpenDelivery order {order.order_id} cancelled",
                source=SOURCE,
                reference_id=order.order_id,
            )
            order.points_reversed += taken.points
            order.z_reversed += taken.z_micro
            reason = f"Cancelled: {taken.points} of {due_points} points taken back."
            if taken.points < due_points or taken.z_micro < due_z:
                reason += (
                    f" The customer had spent the rest ({due_points - taken.points} points, "
                    f"{due_z - taken.z_micro} micro-Z$): it stays spent."
                )
        elif due_points or due_z:
            reason = "Cancelled: the customer no longer exists, nothing to take back."
        order.status = OrderStatus.CANCELLED
        order.cancelled_event_id = event.id
        order.reason = reason[:REASON_MAX]
        order.save(
            update_fields=[
                "status",
                "cancelled_event_id",
                "reason",
                "points_reversed",
                "z_reversed",
                "updated_at",
            ]
        )
    log.info("opendelivery: order %s of %s cancelled (%s)", order.order_id, company.pk, reason)
    return OrderOutcome(order=order, duplicate=False)
