"""Outbound webhooks: configuration, the transactional outbox, delivery with retries, signatures."""

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import EVENTS, DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from zupy.cache import memo_forget, memo_get
from zupy.db import one_or_none
from zupy.errors import ValidationFailed
from zupy.ids import new_id
from zupy.models import Company
from zupy.timefmt import iso_utc

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


def webhook_emit(*, company_id: str, event: str, data: dict[str, Any]) -> WebhookDelivery | None:
    """Record ``event`` in the outbox if the company subscribes to it.

    Call it inside the transaction of the change it reports: the row commits with the change or
    not at all, so an event is never lost and never sent for a change that rolled back.
    """
    subscription = _subscription(company_id)
    if subscription is None or event not in subscription["events"]:
        return None
    now = timezone.now()
    delivery = WebhookDelivery(
        company_id=company_id, event=event, url=subscription["url"], next_attempt_at=now
    )
    delivery.payload = {
        "event": event,
        "webhook_id": delivery.id,
        "timestamp": iso_utc(now),
        "data": data,
    }
    delivery.save(force_insert=True)
    return delivery


# --- Configuration ---------------------------------------------------------------------------
def url_refusal(url: str) -> str | None:
    """Why ``url`` may not receive webhooks (no SSRF into the private network), or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Must be an absolute http(s) URL."
    if parts.scheme != "https" and not settings.WEBHOOK_ALLOW_HTTP:
        return "Must use https."
    if parts.username or parts.password:
        return "Credentials in the URL are not allowed; use the signature to authenticate."
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (socket.gaierror, UnicodeError):
        return "The host name does not resolve."
    for address in addresses:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            return "The host resolves to a private, loopback or reserved address."
    return None


@dataclass(frozen=True)
class Configured:
    endpoint: WebhookEndpoint
    new_secret: str | None  # shown once: when generated


def webhook_configure(
    *, company: Company, url: str | None, events: list[str] | None, rotate_secret: bool = False
) -> Configured:
    """Set the company's endpoint. An empty URL disables webhooks. A secret is generated the first
    time (and on ``rotate_secret``) and returned once."""
    url = (url or "").strip()
    errors = []
    if url and (reason := url_refusal(url)):
        errors.append({"field": "webhook_url", "detail": reason})
    unknown = sorted(set(events or []) - set(EVENTS))
    if unknown:
        errors.append({"field": "webhook_events", "detail": f"Unknown events: {', '.join(unknown)}."})
    if errors:
        raise ValidationFailed("Invalid webhook configuration.", errors=errors)
    new_secret = None
    with transaction.atomic():
        endpoint = one_or_none(WebhookEndpoint.objects.select_for_update().filter(company=company))
        if endpoint is None:
            endpoint = WebhookEndpoint(company=company)
        if not endpoint.secret or rotate_secret:
            endpoint.secret = new_secret = "whsec_" + secrets.token_urlsafe(32)
        endpoint.url = url
        if events is not None:
            endpoint.events = sorted(set(events))
        elif endpoint.pk is None:
            endpoint.events = list(EVENTS)
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


def webhook_send(*, url: str, secret: str, payload: dict[str, Any]) -> SendResult:
    """POST one signed payload. The URL is checked again here: DNS may have changed since it was
    configured."""
    if reason := url_refusal(url):
        return SendResult(None, f"refused: {reason}", 0)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(  # noqa: S310 (checked by url_refusal above)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Id": payload["webhook_id"],
            "X-Webhook-Event": payload["event"],
            "X-Webhook-Signature": signature(secret, body),
            "X-Webhook-Timestamp": timestamp,
            "X-Webhook-Timestamp-Signature": signature(secret, body, timestamp),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT) as response:  # noqa: S310
            status, error = response.status, ""
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        status, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:500]
    return SendResult(status, error, int((time.monotonic() - started) * 1000))


def webhook_deliver_next() -> WebhookDelivery | None:
    """Deliver the oldest due delivery, if any. Several workers may run this at once: the row is
    taken with SELECT ... FOR UPDATE SKIP LOCKED and held until its attempt is recorded, so each
    attempt is made by exactly one worker."""
    now = timezone.now()
    with transaction.atomic():
        delivery = one_or_none(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
        )
        if delivery is None:
            return None
        endpoint = one_or_none(WebhookEndpoint.objects.filter(company_id=delivery.company_id))
        result = (
            webhook_send(url=delivery.url, secret=endpoint.secret, payload=delivery.payload)
            if endpoint is not None
            else SendResult(None, "the company has no webhook endpoint any more", 0)
        )
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
        delivery.attempts += 1
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delays = settings.WEBHOOK_RETRY_DELAYS
        if result.ok:
            delivery.status, delivery.delivered_at = DeliveryStatus.SUCCEEDED, timezone.now()
        elif delivery.attempts > len(delays):
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = timezone.now() + timedelta(seconds=delays[delivery.attempts - 1])
        delivery.save()
    return delivery


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
    payload = {
        "event": "ping",
        "webhook_id": new_id(),
        "timestamp": iso_utc(timezone.now()),
        "data": {"company_id": company.pk},
    }
    return webhook_send(url=endpoint.url, secret=endpoint.secret, payload=payload)
