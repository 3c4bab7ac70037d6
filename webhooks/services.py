"""Outbound webhooks: configuration, the transactional outbox, delivery with retries, signatures."""

import enum
import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from companies.models import Company
from core.cache import memo_forget, memo_get
from core.db import one_or_none
from core.errors import ValidationFailed
from core.outbox import error_text, outbox_claim
from core.timefmt import iso_utc
from webhooks.errors import PingInFlight, PingRateLimited, PingsBusy
from webhooks.models import (
    EVENTS,
    DeliveryStatus,
    Surface,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.transport import DeadlineExceeded, Interrupted, Refused, post, url_refusal

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


# --- Other surfaces ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SurfaceTarget:
    """Where a delivery of another surface goes now, as the surface's app answers it: the
    subscriber's URL and signing secret, and the surface's own headers."""

    url: str
    secret: str
    headers: dict[str, str] = field(default_factory=dict)


# A surface's lookup of a delivery's subscriber as it is at the attempt: its target, or why nothing
# is sent (the text recorded as the attempt's error; the delivery is retried on its schedule).
SurfaceLookup = Callable[[WebhookDelivery], SurfaceTarget | str]
_surfaces: dict[str, SurfaceLookup] = {}


def webhook_surface_register(*, surface: Surface, lookup: SurfaceLookup) -> None:
    """Let the app that owns a surface's subscribers (OpenDelivery: its clients) answer where each
    attempt goes; it registers in its ``AppConfig.ready``, so the worker has it too."""
    _surfaces[surface] = lookup


def webhook_enqueue(
    *,
    company_id: str,
    surface: Surface,
    recipient: str,
    event: str,
    url: str,
    webhook_id: uuid.UUID,
    payload: dict[str, Any],
) -> WebhookDelivery:
    """Record a delivery of another surface in the outbox: its app chose the subscriber and built
    the envelope (which carries ``webhook_id``, the id that stays the same on every retry). The
    worker sends it like any delivery, signed with the surface's scheme.

    Call it inside the transaction of the change it reports, like ``webhook_emit``."""
    delivery = WebhookDelivery(
        company_id=company_id,
        webhook_id=webhook_id,
        event=event,
        surface=surface,
        recipient=recipient,
        url=url,
        payload=payload,
        next_attempt_at=timezone.now(),
    )
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
    webhook_forget(company_id=company.pk)
    return Configured(endpoint=endpoint, new_secret=new_secret)


def webhook_forget(*, company_id: str) -> None:
    """Drop the cached subscription after the endpoint changed (API, admin, delete), so new events
    follow the change at once here and within ``API_KEY_LOCAL_TTL`` in other processes. The worker
    reads the endpoint again before every attempt, so nothing goes to a URL that was just removed."""
    memo_forget(_config_key(company_id))


# --- Delivery ---------------------------------------------------------------------------------
def signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    message = f"{timestamp}.".encode() + body if timestamp is not None else body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def body_signature(secret: str, body: bytes) -> str:
    """OpenDelivery's ``X-App-Signature``: HMAC-SHA256 of the raw body, lowercase hex, no prefix."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signed_headers(*, surface: str, secret: str, body: bytes, payload: dict[str, Any]) -> dict[str, str]:
    """The signature headers of ``surface``'s scheme for ``body``."""
    if surface == Surface.OPENDELIVERY:
        return {"X-App-Signature": body_signature(secret, body)}
    timestamp = str(int(time.time()))
    return {
        "X-Webhook-Id": payload["webhook_id"],
        "X-Webhook-Event": payload["event"],
        "X-Webhook-Signature": signature(secret, body),
        "X-Webhook-Timestamp": timestamp,
        "X-Webhook-Timestamp-Signature": signature(secret, body, timestamp),
    }


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str
    duration_ms: int
    # The caller stopped the attempt (the worker is shutting down): not the receiver's failure.
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_send(
    *,
    url: str,
    secret: str,
    payload: dict[str, Any],
    stop: threading.Event | None = None,
    surface: str = Surface.ZUPY,
    headers: dict[str, str] | None = None,
) -> SendResult:
    """POST one payload signed with ``surface``'s scheme, with that surface's ``headers`` (see
    ``webhooks.transport.post``: the URL and its addresses are checked again here, redirects are not
    followed, and the whole attempt ends after ``WEBHOOK_TIMEOUT`` seconds or as soon as ``stop`` is
    set). Never raises: any failure is the result."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **(headers or {}),
        **_signed_headers(surface=surface, secret=secret, body=body, payload=payload),
    }
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        status, _ = post(url=url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT, stop=stop)
    except Refused as exc:
        return SendResult(None, f"refused: {exc}"[:500], 0)
    except DeadlineExceeded as exc:
        return SendResult(None, str(exc)[:500], elapsed_ms())
    except Interrupted as exc:
        return SendResult(None, str(exc)[:500], elapsed_ms(), interrupted=True)
    except Exception as exc:
        # Whatever the receiver or the network did (a malformed status line, a reset, a TLS
        # failure) is this attempt's result, never the worker's end.
        return SendResult(None, error_text(exc), elapsed_ms())
    if 300 <= status < 400:
        return SendResult(status, f"HTTP {status}: redirects are not followed", elapsed_ms())
    return SendResult(status, "" if 200 <= status < 300 else f"HTTP {status}", elapsed_ms())


# How many deliveries one claim leases. They are sent side by side, each within WEBHOOK_TIMEOUT;
# the lease keeps the margin of sending them one after another with a connect and a read timeout
# each, so a worker that dies loses its lease then and no live worker ever outlasts its own.
BATCH_SIZE = 10


def _lease_seconds() -> float:
    return float(BATCH_SIZE * (2 * settings.WEBHOOK_TIMEOUT + 5))


def webhook_claim(*, limit: int = BATCH_SIZE) -> list[WebhookDelivery]:
    """Lease up to ``limit`` due deliveries: the oldest due row of each company, oldest first, so
    one company's backlog or dead receiver costs another company at most one attempt per batch
    (``core.outbox.outbox_claim``: no lock is held while sending)."""
    ids, token = outbox_claim(
        WebhookDelivery,
        pending=DeliveryStatus.PENDING,
        limit=limit,
        per_company=1,
        lease_seconds=_lease_seconds(),
    )
    return list(WebhookDelivery.objects.filter(pk__in=ids, lease=token).order_by("next_attempt_at", "id"))


@dataclass(frozen=True)
class _Target:
    """Where an attempt goes: the endpoint as it is now, not as it was when the event was written."""

    url: str
    secret: str
    surface: str = Surface.ZUPY
    headers: dict[str, str] = field(default_factory=dict)


def _target(delivery: WebhookDelivery) -> _Target | SendResult:
    """The subscriber's current URL and secret, or why nothing is sent: an admin (or the API) may
    have changed the URL, disabled webhooks or dropped the event since the row was written. Such a
    row is a failed attempt, retried on its schedule, so a URL set again in time still gets it.
    Another surface's subscriber is its app's to answer (``webhook_surface_register``)."""
    if delivery.surface != Surface.ZUPY:
        lookup = _surfaces.get(delivery.surface)
        if lookup is None:
            return SendResult(None, f"not sent: nothing answers for the {delivery.surface} surface", 0)
        found = lookup(delivery)
        if isinstance(found, str):
            return SendResult(None, found[:500], 0)
        return _Target(url=found.url, secret=found.secret, surface=delivery.surface, headers=found.headers)
    endpoint = one_or_none(WebhookEndpoint.objects.filter(company_id=delivery.company_id))
    if endpoint is None:
        return SendResult(None, "the company has no webhook endpoint any more", 0)
    if not endpoint.url:
        return SendResult(None, "not sent: webhooks are disabled for this company", 0)
    if endpoint.events and delivery.event not in endpoint.events:
        return SendResult(None, "not sent: the company no longer subscribes to this event", 0)
    return _Target(url=endpoint.url, secret=endpoint.secret)


def _send(
    delivery: WebhookDelivery, target: _Target | SendResult, stop: threading.Event | None
) -> SendResult:
    """Send to ``target`` (no database: this may run on a sender thread). Never raises."""
    if isinstance(target, SendResult):
        return target
    try:
        return webhook_send(
            url=target.url,
            secret=target.secret,
            payload=delivery.payload,
            stop=stop,
            surface=target.surface,
            headers=target.headers,
        )
    except Exception as exc:
        logger.exception("webhook %s: attempt failed unexpectedly", delivery.pk)
        return SendResult(None, error_text(exc), 0)


def _target_or_failure(delivery: WebhookDelivery) -> _Target | SendResult:
    try:
        return _target(delivery)
    except Exception as exc:
        logger.exception("webhook %s: could not read the endpoint", delivery.pk)
        return SendResult(None, error_text(exc), 0)


def webhook_attempt(*, delivery: WebhookDelivery, stop: threading.Event | None = None) -> WebhookDelivery:
    """Make one attempt of a leased delivery and record it. Any exception on the way (a URL that was
    valid once, a receiver that breaks HTTP) is recorded as a failed attempt with its text, and the
    delivery is retried on its schedule; it never escapes to stop the worker."""
    target = _target_or_failure(delivery)
    result = _send(delivery, target, stop)
    return _record(delivery=delivery, result=result, url=target.url if isinstance(target, _Target) else "")


def _record(*, delivery: WebhookDelivery, result: SendResult, url: str = "") -> WebhookDelivery:
    """Record an attempt in its own transaction. Locks the delivery row, and updates it only if the
    lease is still this worker's: if it ran out (a send slower than the lease), another worker owns
    the row now and its attempt is the one that counts; ours is still logged.

    An interrupted attempt (the worker stopping) is logged but not counted: the lease is given back
    and the row is due again at once for the next worker, with all of its retries left."""
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
        row.lease, row.locked_until = "", None
        if result.interrupted:
            row.save(update_fields=["lease", "locked_until"])
            return row
        if url:
            row.url = url  # where this attempt went (the endpoint's URL at the time)
        row.attempts += 1
        row.last_status_code = result.status_code
        row.last_error = result.error
        delays = settings.WEBHOOK_RETRY_DELAYS
        if result.ok:
            row.status, row.delivered_at = DeliveryStatus.SUCCEEDED, timezone.now()
        elif row.attempts > len(delays):
            row.status = DeliveryStatus.EXHAUSTED
        else:
            row.next_attempt_at = timezone.now() + timedelta(seconds=delays[row.attempts - 1])
        row.save()
    return row


def _release(deliveries: list[WebhookDelivery]) -> None:
    """Give leases back unattempted (the worker is stopping before it sent them)."""
    for delivery in deliveries:
        WebhookDelivery.objects.filter(pk=delivery.pk, lease=delivery.lease).update(
            lease="", locked_until=None
        )


# How long the worker's thread waits for the batch's sends at a time: it must come back to Python
# regularly, because that is the only thread that runs the worker's SIGTERM handler.
_WAIT_SLICE = 0.2


def webhook_deliver_batch(*, limit: int = BATCH_SIZE, stop: threading.Event | None = None) -> int:
    """Claim a batch and attempt each delivery in it; return how many attempts were made.

    The batch holds at most one row per company and its sends run side by side, each within its
    deadline (``WEBHOOK_TIMEOUT``), so a receiver that stalls delays the other companies of its
    batch by at most one deadline, however many such receivers there are. The database is read and
    written on this thread only (the endpoints before, each result as it comes in); the sender
    threads only send. Setting ``stop`` cuts the sends short: they are logged, not counted, and
    their leases given back."""
    claimed = webhook_claim(limit=limit)
    if not claimed:
        return 0
    if stop is not None and stop.is_set():
        _release(claimed)
        return 0
    targets = {delivery.pk: _target_or_failure(delivery) for delivery in claimed}
    made = 0
    with ThreadPoolExecutor(max_workers=len(claimed), thread_name_prefix="webhook-send") as senders:
        pending: dict[Future[SendResult], WebhookDelivery] = {
            senders.submit(_send, delivery, targets[delivery.pk], stop): delivery for delivery in claimed
        }
        while pending:
            done, _ = wait(pending, timeout=_WAIT_SLICE, return_when=FIRST_COMPLETED)
            for future in done:
                delivery = pending.pop(future)
                target = targets[delivery.pk]
                try:
                    url = target.url if isinstance(target, _Target) else ""
                    _record(delivery=delivery, result=future.result(), url=url)
                except Exception:
                    # Recording failed (the database went away?): the lease runs out and the row is
                    # tried again; the rest of the batch still gets its turn.
                    logger.exception("webhook %s: could not record the attempt", delivery.pk)
                made += 1
    return made


def webhook_resend(*, delivery_id: str) -> None:
    """Admin: send a delivery again, as soon as a worker is free."""
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )


# --- Test pings -------------------------------------------------------------------------------
# Pings run on the API's request threads, each for up to WEBHOOK_TIMEOUT against a slow receiver. How
# many of this process's threads may be sending one at once (the rest keep answering everyone else).
_pings_lock = threading.Lock()
_pings_running = 0
PING_WINDOW = 60


def _ping_rate_count(company_id: str) -> int | None:
    """Count a ping in the company's one-minute window; None when the cache is away (fail open: the
    per-process cap still bounds what pings can hold)."""
    key = f"zupy:webhook-ping:{company_id}:{int(time.time()) // PING_WINDOW}"
    try:
        cache.add(key, 0, timeout=PING_WINDOW + 5)
        try:
            return int(cache.incr(key))
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=PING_WINDOW + 5)
            return 1
    except Exception:
        logger.warning("webhook ping: cache unavailable, rate not counted", exc_info=True)
        return None


def _ping_flag(company_id: str) -> str:
    return f"zupy:webhook-ping-busy:{company_id}"


def _ping_flag_take(company_id: str) -> bool:
    """Mark a ping of the company in flight, in the shared cache (every API process sees it). It
    expires on its own shortly after the deadline, should this process die mid-ping."""
    try:
        return bool(cache.add(_ping_flag(company_id), 1, timeout=math.ceil(settings.WEBHOOK_TIMEOUT) + 5))
    except Exception:
        logger.warning("webhook ping: cache unavailable, in-flight check skipped", exc_info=True)
        return True


def _ping_flag_drop(company_id: str) -> None:
    try:
        cache.delete(_ping_flag(company_id))
    except Exception:
        logger.warning("webhook ping: cache unavailable, in-flight mark left to expire", exc_info=True)


def webhook_test(*, company: Company) -> SendResult:
    """POST a signed ``ping`` to the configured URL now, outside the outbox, within the delivery
    deadline (``WEBHOOK_TIMEOUT``). A company may have one ping in flight and
    ``WEBHOOK_PING_PER_MINUTE`` a minute (429), and one API process sends at most
    ``WEBHOOK_PING_CONCURRENCY`` at once (503 beyond): a receiver that stalls holds no more than
    that share of the request threads, for no longer than the deadline."""
    endpoint = one_or_none(WebhookEndpoint.objects.filter(company=company).exclude(url=""))
    if endpoint is None:
        raise ValidationFailed(
            "No webhook URL is configured.",
            errors=[{"field": "webhook_url", "detail": "Configure one first."}],
        )
    global _pings_running
    deadline = math.ceil(settings.WEBHOOK_TIMEOUT)
    count = _ping_rate_count(company.pk)
    if count is not None and count > settings.WEBHOOK_PING_PER_MINUTE:
        raise PingRateLimited(retry_after=max(1, PING_WINDOW - int(time.time()) % PING_WINDOW))
    if not _ping_flag_take(company.pk):
        raise PingInFlight(retry_after=deadline)
    try:
        with _pings_lock:
            if _pings_running >= settings.WEBHOOK_PING_CONCURRENCY:
                raise PingsBusy(retry_after=deadline)
            _pings_running += 1
        try:
            payload = envelope(
                event="ping", webhook_id=uuid.uuid4(), now=timezone.now(), data={"company_id": company.pk}
            )
            return webhook_send(url=endpoint.url, secret=endpoint.secret, payload=payload)
        finally:
            with _pings_lock:
                _pings_running -= 1
    finally:
        _ping_flag_drop(company.pk)
