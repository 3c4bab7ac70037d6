"""Outbound webhooks: configuration, the transactional outbox, delivery with retries, signatures."""

import enum
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from companies.models import Company
from core.cache import memo_forget, memo_get
from core.db import one_or_none
from core.errors import ValidationFailed
from core.timefmt import iso_utc
from webhooks.models import EVENTS, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.transport import Refused, post, url_refusal

logger = logging.getLogger(__name__)

USER_AGENT = "Zupy-Webhook/1.0"


def _config_key(company_id: str) -> str:
    return f"zupy:webhook:{company_id}"


def _subscription(company_id: str) -> dict[str, Any] | None:
    """The company's active endpoint as {url, events}, cached like API keys (most companies have
    none, and asking costs nothing then)."""

    def load() -> dict[str, Any] | str:
        endpoint = one_or_none(WebhookEndpoint.objects.filter(company_id=company_id).exclude(url=""))
        return {"url": endpoint.url, "events": list(endpoint.events)} if endpoint else "none"

    found = memo_get(
        _config_key(company_id),
        load,
        shared_ttl=settings.API_KEY_CACHE_TTL,
        local_ttl=settings.API_KEY_LOCAL_TTL,
    )
    return found if isinstance(found, dict) else None


def envelope(*, event: str, webhook_id: uuid.UUID, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """What every delivery POSTs, as the upstream outbound-webhooks guide writes it."""
    return {"event": event, "webhook_id": str(webhook_id), "timestamp": iso_utc(now), "data": data}


def webhook_emit(*, company_id: str, event: str, data: dict[str, Any]) -> WebhookDelivery | None:
    """Record ``event`` in the outbox if the company subscribes to it.

    Call it inside the transaction of the change it reports: the row commits with the change or
    not at all, so an event is never lost and never sent for a change that rolled back.
    """
    subscription = _subscription(company_id)
    # An empty event list subscribes to every event, as the upstream guide says.
    if subscription is None or (subscription["events"] and event not in subscription["events"]):
        return None
    now = timezone.now()
    delivery = WebhookDelivery(
        company_id=company_id, event=event, url=subscription["url"], next_attempt_at=now
    )
    delivery.payload = envelope(event=event, webhook_id=delivery.webhook_id, now=now, data=data)
    delivery.save(force_insert=True)
    return delivery


# --- Configuration ---------------------------------------------------------------------------
class Keep(enum.Enum):
    """A field the request did not mention: it keeps its value."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class Configured:
    endpoint: WebhookEndpoint
    new_secret: str | None  # shown once: when generated


def webhook_configure(
    *,
    company: Company,
    url: str | Keep | None = KEEP,
    events: list[str] | Keep = KEEP,
    rotate_secret: bool = False,
) -> Configured:
    """Set the company's endpoint. What is not given (``KEEP``) keeps its value; ``None`` or an empty
    URL disables webhooks. A secret is generated the first time (and on ``rotate_secret``) and
    returned once. Locks the company's endpoint row so two PUTs at once apply one after the other."""
    errors = []
    if isinstance(url, str):
        url = url.strip()
        if url and (reason := url_refusal(url)):
            errors.append({"field": "webhook_url", "detail": reason})
    unknown = sorted(set(events) - set(EVENTS)) if isinstance(events, list) else []
    if unknown:
        errors.append({"field": "webhook_events", "detail": f"Unknown events: {', '.join(unknown)}."})
    if errors:
        raise ValidationFailed("Invalid webhook configuration.", errors=errors)
    new_secret = None
    with transaction.atomic():
        endpoint = one_or_none(WebhookEndpoint.objects.select_for_update().filter(company=company))
        if endpoint is None:
            endpoint = WebhookEndpoint(company=company, events=list(EVENTS))
        if not endpoint.secret or rotate_secret:
            endpoint.secret = new_secret = "whsec_" + secrets.token_urlsafe(32)
        if url is not KEEP:
            endpoint.url = url or ""
        if isinstance(events, list):
            endpoint.events = sorted(set(events))
        endpoint.save()
    memo_forget(_config_key(company.pk))
    return Configured(endpoint=endpoint, new_secret=new_secret)


# --- Delivery ---------------------------------------------------------------------------------
def signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    message = f"{timestamp}.".encode() + body if timestamp is not None else body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _error_text(exc: BaseException) -> str:
    """What went wrong, fit for a CharField: printable (PostgreSQL refuses NUL) and bounded."""
    text = f"{type(exc).__name__}: {exc}"
    return "".join(c if c.isprintable() else "?" for c in text)[:500]


def webhook_send(*, url: str, secret: str, payload: dict[str, Any]) -> SendResult:
    """POST one signed payload (see ``webhooks.transport.post``: the URL and its addresses are
    checked again here, redirects are not followed). Never raises: any failure is the result."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Id": payload["webhook_id"],
        "X-Webhook-Event": payload["event"],
        "X-Webhook-Signature": signature(secret, body),
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Timestamp-Signature": signature(secret, body, timestamp),
    }
    started = time.monotonic()
    try:
        status, _ = post(url=url, body=body, headers=headers)
    except Refused as exc:
        return SendResult(None, f"refused: {exc}"[:500], 0)
    except Exception as exc:
        # Whatever the receiver or the network did (a malformed status line, a reset, a timeout, a
        # TLS failure) is this attempt's result, never the worker's end.
        return SendResult(None, _error_text(exc), int((time.monotonic() - started) * 1000))
    duration_ms = int((time.monotonic() - started) * 1000)
    if 300 <= status < 400:
        return SendResult(status, f"HTTP {status}: redirects are not followed", duration_ms)
    return SendResult(status, "" if 200 <= status < 300 else f"HTTP {status}", duration_ms)


# How many deliveries one claim leases. Each takes at most about two timeouts (connect, then read),
# one after another, so the lease covers the whole batch; a worker that dies loses its lease then.
BATCH_SIZE = 10


def _lease_seconds() -> float:
    return float(BATCH_SIZE * (2 * settings.WEBHOOK_TIMEOUT + 5))


def webhook_claim(*, limit: int = BATCH_SIZE) -> list[WebhookDelivery]:
    """Lease up to ``limit`` due deliveries: the oldest due row of each company, oldest first, so
    one company's backlog or dead receiver costs another company at most one attempt per batch.

    Locks the candidate rows (SELECT ... FOR UPDATE SKIP LOCKED) only for this short transaction,
    sets their lease and commits: no lock is held while sending. The UPDATE repeats the "due and not
    leased" condition, so the claim is exclusive on SQLite too (no row locks there).
    """
    now = timezone.now()
    token = secrets.token_hex(16)
    due = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )
    oldest_of_each_company = (
        due.annotate(
            rank=Window(RowNumber(), partition_by=[F("company_id")], order_by=[F("next_attempt_at"), F("id")])
        )
        .filter(rank=1)
        .values("pk")
    )
    with transaction.atomic():
        ids = list(
            due.select_for_update(skip_locked=True)
            .filter(pk__in=oldest_of_each_company)
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        due.filter(pk__in=ids).update(lease=token, locked_until=now + timedelta(seconds=_lease_seconds()))
    return list(WebhookDelivery.objects.filter(pk__in=ids, lease=token).order_by("next_attempt_at", "id"))


def webhook_attempt(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Make one attempt of a leased delivery and record it. Any exception on the way (a URL that was
    valid once, a receiver that breaks HTTP) is recorded as a failed attempt with its text, and the
    delivery is retried on its schedule; it never escapes to stop the worker."""
    started = time.monotonic()
    try:
        endpoint = one_or_none(WebhookEndpoint.objects.filter(company_id=delivery.company_id))
        result = (
            webhook_send(url=delivery.url, secret=endpoint.secret, payload=delivery.payload)
            if endpoint is not None
            else SendResult(None, "the company has no webhook endpoint any more", 0)
        )
    except Exception as exc:
        logger.exception("webhook %s: attempt failed unexpectedly", delivery.pk)
        result = SendResult(None, _error_text(exc), int((time.monotonic() - started) * 1000))
    return _record(delivery=delivery, result=result)


def _record(*, delivery: WebhookDelivery, result: SendResult) -> WebhookDelivery:
    """Record an attempt in its own transaction. Locks the delivery row, and updates it only if the
    lease is still this worker's: if it ran out (a send slower than the lease), another worker owns
    the row now and its attempt is the one that counts; ours is still logged."""
    with transaction.atomic():
        row = one_or_none(
            WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk, lease=delivery.lease)
        )
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
        if row is None:
            logger.warning("webhook %s: lease lost during the attempt; not updating the row", delivery.pk)
            return delivery
        row.attempts += 1
        row.last_status_code = result.status_code
        row.last_error = result.error
        row.lease, row.locked_until = "", None
        delays = settings.WEBHOOK_RETRY_DELAYS
        if result.ok:
            row.status, row.delivered_at = DeliveryStatus.SUCCEEDED, timezone.now()
        elif row.attempts > len(delays):
            row.status = DeliveryStatus.EXHAUSTED
        else:
            row.next_attempt_at = timezone.now() + timedelta(seconds=delays[row.attempts - 1])
        row.save()
    return row


def webhook_deliver_batch(*, limit: int = BATCH_SIZE) -> int:
    """Claim a batch and attempt each delivery in it; return how many attempts were made."""
    made = 0
    for delivery in webhook_claim(limit=limit):
        try:
            webhook_attempt(delivery=delivery)
        except Exception:
            # Recording failed (the database went away?): the lease runs out and the row is tried
            # again; the rest of the batch still gets its turn.
            logger.exception("webhook %s: could not record the attempt", delivery.pk)
        made += 1
    return made


def webhook_deliver_next() -> WebhookDelivery | None:
    """Deliver one due delivery, if any (a batch of one). Several workers may run at once."""
    claimed = webhook_claim(limit=1)
    return webhook_attempt(delivery=claimed[0]) if claimed else None


def webhook_resend(*, delivery_id: str) -> None:
    """Admin: send a delivery again, as soon as a worker is free."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )


def webhook_test(*, company: Company) -> SendResult:
    """POST a signed ``ping`` to the configured URL now, outside the outbox."""
    endpoint = one_or_none(WebhookEndpoint.objects.filter(company=company).exclude(url=""))
    if endpoint is None:
        raise ValidationFailed(
            "No webhook URL is configured.",
            errors=[{"field": "webhook_url", "detail": "Configure one first."}],
        )
    payload = envelope(
        event="ping", webhook_id=uuid.uuid4(), now=timezone.now(), data={"company_id": company.pk}
    )
    return webhook_send(url=endpoint.url, secret=endpoint.secret, payload=payload)
