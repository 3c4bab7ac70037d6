"""Inbound orders: receive a partner's body (stored raw, once), and process it out of the request
into points, order by order."""

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from companies.models import ApiKey, Company
from core.errors import DomainError
from core.money import POINTS_PER_ADD_MAX
from core.outbox import error_text, outbox_claim
from customers.identifiers import NORMALISERS
from customers.services import customer_find_or_create, points_add
from integrations.adapters import Order, OrderError, order_items, order_read, printable
from integrations.models import BatchStatus, InboundBatch, Integration, IntegrationKey, OrderOutcome, Outcome

log = logging.getLogger("zupy.integrations")

# The worker's batch: bodies claimed at once, at most this many of one company, each leased this long
# (a body of a thousand orders is processed well within it; an expired lease lets another worker
# take the body again, and orders already recorded are not processed twice).
CLAIM_LIMIT = 20
CLAIM_PER_COMPANY = 5
LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class Received:
    batch: InboundBatch
    duplicate: bool


def inbound_receive(*, company: Company, integration: Integration, body: bytes) -> Received:
    """Store a partner's body raw with its SHA-256, to be processed by ``integration_worker``.

    The same body again answers the first row (``duplicate``): the unique (company, integration,
    sha256) constraint decides, so two requests with one body at the same instant store it once (on
    PostgreSQL the second INSERT waits for the first to commit, then fails and reads the winner)."""
    digest = hashlib.sha256(body).hexdigest()
    existing = InboundBatch.objects.filter(company=company, integration=integration, sha256=digest).first()
    if existing is not None:
        return Received(batch=existing, duplicate=True)
    batch = InboundBatch(
        company=company,
        integration=integration,
        sha256=digest,
        body=body.decode("utf-8"),
        next_attempt_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            batch.save(force_insert=True)
    except IntegrityError:
        return Received(
            batch=InboundBatch.objects.get(company=company, integration=integration, sha256=digest),
            duplicate=True,
        )
    return Received(batch=batch, duplicate=False)


def integration_configure(
    *,
    company: Company,
    slug: str,
    name: str | None = None,
    adapter: str | None = None,
    points_per_unit: Decimal | None = None,
    rounding: str | None = None,
    enabled: bool | None = None,
    otp_preset: str | None = None,
) -> tuple[Integration, bool]:
    """Create the company's integration ``slug`` or change the given fields of it (None keeps a
    field); answers it and whether it was created. Validated like the admin's form."""
    with transaction.atomic():
        integration = Integration.objects.select_for_update().filter(company=company, slug=slug).first()
        created = integration is None
        if integration is None:
            integration = Integration(company=company, slug=slug, name=slug)
        for field, value in {
            "name": name,
            "adapter": adapter,
            "points_per_unit": points_per_unit,
            "rounding": rounding,
            "enabled": enabled,
            "otp_preset": otp_preset,
        }.items():
            if value is not None:
                setattr(integration, field, value)
        integration.full_clean(validate_unique=False)
        integration.save()
        integration.refresh_from_db()  # the stored values (the rate with its four places)
    return integration, created


def integration_key_bind(*, integration: Integration, api_key_id: str) -> IntegrationKey:
    """Bind one of the company's API keys to ``integration``: the protected actions made with it
    follow the integration's OTP preset. A key bound to another integration moves here (a key
    serves one integration). Locks the key's binding row, if any, so two binds of one key serialise."""
    key = ApiKey.objects.filter(pk=api_key_id, company_id=integration.company_id).first()
    if key is None:
        raise ValidationError({"api_key": f"The company has no API key {api_key_id[:40]!r}."})
    with transaction.atomic():
        binding = IntegrationKey.objects.select_for_update().filter(api_key=key).first()
        if binding is None:
            try:
                with transaction.atomic():
                    return IntegrationKey.objects.create(integration=integration, api_key=key)
            except IntegrityError:  # bound at the same instant by another call: move it below
                binding = IntegrationKey.objects.select_for_update().get(api_key=key)
        binding.integration = integration
        binding.save(update_fields=["integration"])
    return binding


def integration_key_unbind(*, integration: Integration, api_key_id: str) -> bool:
    """The key no longer speaks for ``integration`` (the company's OTP policy applies to it again)."""
    deleted, _ = IntegrationKey.objects.filter(integration=integration, api_key_id=api_key_id).delete()
    return deleted > 0


# --- The worker ----------------------------------------------------------------------------------
def inbound_process_due(*, stop: threading.Event | None = None) -> int:
    """Process the bodies that are due; answers how many were processed (0: nothing due)."""
    ids, token = outbox_claim(
        InboundBatch,
        pending=BatchStatus.PENDING,
        limit=CLAIM_LIMIT,
        per_company=CLAIM_PER_COMPANY,
        lease_seconds=LEASE_SECONDS,
    )
    done = 0
    for batch_id in ids:
        if stop is not None and stop.is_set():
            # Not started: its lease is given back, another run takes it.
            InboundBatch.objects.filter(pk=batch_id, lease=token).update(lease="", locked_until=None)
            continue
        inbound_batch_process(batch_id=batch_id, lease=token)
        done += 1
    return done


def inbound_batch_process(*, batch_id: str, lease: str) -> None:
    """Process one claimed body, order by order, then mark it processed (only while ``lease`` is
    still this worker's). Orders already recorded for this body (a run cut off before) are not
    processed again. Takes no lock itself: each order's credit locks its customer (``points_add``).

    The attempt is counted before the work, so a body that kills its worker counts too. A body whose
    processing fails as a whole is tried again after each delay of INTEGRATION_RETRY_DELAYS, then
    left ``exhausted`` with its reason (for ops, in the admin)."""
    if not InboundBatch.objects.filter(pk=batch_id, lease=lease).update(attempts=F("attempts") + 1):
        return  # the lease was lost: another worker has the body
    batch = InboundBatch.objects.select_related("integration", "company", "company__loyalty_program").get(
        pk=batch_id
    )
    delays = settings.INTEGRATION_RETRY_DELAYS
    if batch.attempts > len(delays) + 1:
        # The last attempt allowed never finished: the worker stopped (or was killed) in it.
        reason = f"attempt {batch.attempts - 1} did not finish (the worker stopped while processing it)"
        _batch_retry_or_give_up(batch, lease, reason)
        return
    status = BatchStatus.PROCESSED
    error = ""
    try:
        items = order_items(json.loads(batch.body))
    except (OrderError, ValueError) as exc:
        items, status, error = [], BatchStatus.FAILED, error_text(exc)
    try:
        recorded = set(OrderOutcome.objects.filter(batch=batch).values_list("position", flat=True))
        for position, item in enumerate(items):
            if position not in recorded:
                _order_process(batch=batch, position=position, item=item)
    except Exception as exc:
        # Not one order's fault (those are recorded on the order): the database, most likely.
        log.exception("integrations: body %s could not be processed", batch.pk)
        _batch_retry_or_give_up(batch, lease, error_text(exc))
        return
    InboundBatch.objects.filter(pk=batch.pk, lease=lease).update(
        status=status,
        last_error=error,
        processed_at=timezone.now(),
        lease="",
        locked_until=None,
    )


def _batch_retry_or_give_up(batch: InboundBatch, lease: str, error: str) -> None:
    delays = settings.INTEGRATION_RETRY_DELAYS
    if batch.attempts > len(delays):
        log.error("integrations: body %s exhausted after %s attempts: %s", batch.pk, batch.attempts, error)
        changes: dict[str, object] = {
            "status": BatchStatus.EXHAUSTED,
            "last_error": printable(
                f"Gave up after {min(batch.attempts, len(delays) + 1)} attempts: {error}", 500
            ),
        }
    else:
        changes = {
            "last_error": error,
            "next_attempt_at": timezone.now() + timedelta(seconds=delays[batch.attempts - 1]),
        }
    InboundBatch.objects.filter(pk=batch.pk, lease=lease).update(lease="", locked_until=None, **changes)


def inbound_batches_requeue(*, batch_ids: list[str]) -> int:
    """Ops' "process again" (admin): exhausted or failed bodies back to pending, due now, with a
    fresh retry budget. Orders already recorded are not processed twice. Answers how many."""
    return InboundBatch.objects.filter(
        pk__in=batch_ids, status__in=[BatchStatus.EXHAUSTED, BatchStatus.FAILED]
    ).update(
        status=BatchStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), lease="", locked_until=None
    )


def _identifiers(order: Order) -> tuple[dict[str, str], list[str]]:
    """The order's identifiers in normal form, and why the ones given were unusable."""
    found: dict[str, str] = {}
    unusable: list[str] = []
    for field, raw in (("phone", order.phone), ("email", order.email), ("cpf", order.cpf)):
        if not raw:
            continue
        try:
            found[field] = NORMALISERS[field](raw)
        except ValueError as exc:
            unusable.append(f"{field}: {exc}")
    return found, unusable


def _record(batch: InboundBatch, position: int, outcome: str, reason: str = "", **fields: object) -> None:
    OrderOutcome.objects.create(
        company_id=batch.company_id,
        integration=batch.integration,
        batch=batch,
        position=position,
        outcome=outcome,
        reason=printable(reason, 500),
        **fields,
    )


def _sent_order_id(item: object) -> str:
    order_id = item.get("id_venda", item.get("order_id", "")) if isinstance(item, dict) else ""
    return printable(order_id or "")


def _order_process(*, batch: InboundBatch, position: int, item: object) -> None:
    """One order, whatever it holds: what goes wrong with it (a value the database refuses too) is
    recorded on this order and the batch goes on. Only a failure to record it (the database went
    away) reaches the batch, which is then tried again."""
    try:
        _order_outcome(batch=batch, position=position, item=item)
    except Exception as exc:
        log.warning("integrations: order %s of body %s failed", position, batch.pk, exc_info=True)
        _record(batch, position, Outcome.FAILED, error_text(exc), order_id=_sent_order_id(item))


def _order_outcome(*, batch: InboundBatch, position: int, item: object) -> None:
    """One order: read, identify (phone, then e-mail, then CPF), find or enrol the customer (no OTP:
    the partner's own sales are a trusted path), credit the integration's points once per order id,
    and record the outcome."""
    integration = batch.integration
    try:
        order = order_read(integration.adapter, item)
    except OrderError as exc:
        _record(batch, position, Outcome.FAILED, str(exc), order_id=_sent_order_id(item))
        return
    known = {"order_id": order.order_id, "amount": order.amount}
    identifiers, unusable = _identifiers(order)
    if not identifiers:
        reason = "No usable customer identifier (phone, e-mail or CPF)"
        _record(batch, position, Outcome.SKIPPED, "; ".join([reason, *unusable]), **known)
        return
    points = integration.points_for(order.amount)
    if points < 1:
        _record(batch, position, Outcome.SKIPPED, f"The total {order.amount} earns no points.", **known)
        return
    if points > POINTS_PER_ADD_MAX:
        # The bound of one points/add: an order is one award, and may not move more than the API may.
        reason = f"The total {order.amount} earns {points} points: one award is at most {POINTS_PER_ADD_MAX}."
        _record(batch, position, Outcome.FAILED, reason, **known)
        return
    try:
        # One transaction for the customer and the credit: an order that fails enrols nobody.
        with transaction.atomic():
            customer = customer_find_or_create(
                company=batch.company, full_name=order.name[:150], **identifiers
            ).customer
            outcome = OrderOutcome(
                company_id=batch.company_id,
                integration=integration,
                batch=batch,
                position=position,
                outcome=Outcome.CREDITED,
                customer_id=customer.pk,
                points=points,
                **known,
            )
            try:
                with transaction.atomic():
                    outcome.save(force_insert=True)
            except IntegrityError:
                # The partial unique (integration, order_id) of credited orders: credited before.
                _record(
                    batch,
                    position,
                    Outcome.DUPLICATE,
                    "This order was credited before.",
                    customer_id=customer.pk,
                    **known,
                )
                return
            entry = points_add(
                company=batch.company,
                customer_id=customer.pk,
                amount=points,
                reason=f"{integration.name or integration.slug} order {order.order_id}",
                api_key=None,
                source=f"integration:{integration.slug}",
                reference_id=f"{integration.slug}:{order.order_id}",
            )
            outcome.ledger_entry_id = entry.pk
            outcome.save(update_fields=["ledger_entry_id"])
    except DomainError as exc:
        _record(batch, position, Outcome.FAILED, exc.detail, **known)
    except Exception as exc:
        log.warning("integrations: order %s of body %s failed", order.order_id, batch.pk, exc_info=True)
        _record(batch, position, Outcome.FAILED, error_text(exc), **known)
