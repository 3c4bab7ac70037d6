"""Signed OpenDelivery loyalty events: a company's native events (``core.events``) as the standard's
``LoyaltyEventEnvelope``, one delivery per client that links the company and has a webhook, written
to the webhook outbox (webhooks/) in the transaction of the change. The webhook worker sends them
like any delivery (retries, SSRF rules, per-company fairness), signed the OpenDelivery way:
``X-App-Id``, ``X-App-MerchantId`` and ``X-App-Signature``.

The signing key is the client's webhook secret, generated when its webhook URL is set and shown once.
The standard keys the signature with the client secret, but we keep that only as a digest (so a
leaked database does not hand out credentials), and a key we cannot read cannot sign."""

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from companies.models import LoyaltyProgram
from core.cache import memo_forget, memo_get
from core.db import one_or_none
from core.errors import NotFound, ValidationFailed
from core.timefmt import iso_utc
from opendelivery.models import OdClient, OdMerchantLink, OdRedemption
from opendelivery.redemptions import od_redemption_correlation
from webhooks.models import Surface, WebhookDelivery
from webhooks.services import SurfaceTarget, webhook_enqueue
from webhooks.transport import url_refusal

# The native events the standard's LoyaltyEventType names, delivered by default (an empty
# ``webhook_events``)...
STANDARD = {
    "points.earned": "loyalty.points.earned",
    "reward.redeemed": "loyalty.redemption.created",
    "coupon.used": "loyalty.coupon.used",
    "customer.tier_changed": "loyalty.tier.changed",
}
# ...and the ones delivered only to a client that lists them (RC.2 draft values of the same enum).
EXTENSIONS = {
    "points.spent": "loyalty.points.adjusted",
    "coupon.expired": "loyalty.coupon.expired",
    "coupon.cancelled": "loyalty.coupon.cancelled",
}
EVENT_TYPES = {**STANDARD, **EXTENSIONS}
# What a client may list in ``webhook_events``: OpenDelivery event types, never native names.
SUBSCRIBABLE = tuple(EVENT_TYPES.values())

# Each type's ``payload`` (upstream's fields, from the native event's data) and the field that
# says when it happened (``occurredAt``).
PAYLOAD_FIELDS = {
    "loyalty.points.earned": ("points_added", "new_balance", "source", "reference_id", "awarded_at"),
    "loyalty.redemption.created": (
        "reward_id",
        "reward_name",
        "coupon_id",
        "coupon_code",
        "points_spent",
        "valid_until",
    ),
    "loyalty.coupon.used": ("coupon_id", "coupon_code", "reward_name", "used_at"),
    "loyalty.tier.changed": ("old_tier", "new_tier", "changed_at"),
    "loyalty.points.adjusted": ("points_spent", "new_balance", "source", "reference_id", "spent_at"),
    "loyalty.coupon.expired": ("coupon_id", "coupon_code", "reward_name", "expired_at"),
    "loyalty.coupon.cancelled": ("coupon_id", "coupon_code", "reward_name", "cancelled_at"),
}
OCCURRED_AT = {
    "loyalty.points.earned": "awarded_at",
    "loyalty.redemption.created": None,  # the coupon is issued as the event is published
    "loyalty.coupon.used": "used_at",
    "loyalty.tier.changed": "changed_at",
    "loyalty.points.adjusted": "spent_at",
    "loyalty.coupon.expired": "expired_at",
    "loyalty.coupon.cancelled": "cancelled_at",
}


def subscribed(events: list[str], event_type: str) -> bool:
    """Whether a client's ``webhook_events`` takes ``event_type``: an empty list is the standard's
    four, a list only what it names."""
    return event_type in events if events else event_type in STANDARD.values()


# --- Who listens --------------------------------------------------------------------------------
def _subscribers_key(company_id: str) -> str:
    return f"zupy:od-subscribers:{company_id}"


def _subscribers(company_id: str) -> dict[str, Any] | None:
    """The company's program and the clients that get its events ({id, url, events}), cached like
    the native subscription: most companies have none, and every balance change asks."""

    def load() -> dict[str, Any] | str:
        clients = [
            {
                "id": link["client_id"],
                "url": link["client__webhook_url"],
                "events": list(link["client__webhook_events"] or []),
            }
            for link in OdMerchantLink.objects.filter(
                company_id=company_id, enabled=True, client__enabled=True
            )
            .exclude(client__webhook_url="")
            .order_by("client_id")
            .values("client_id", "client__webhook_url", "client__webhook_events")
        ]
        if not clients:
            return "none"
        program = LoyaltyProgram.objects.filter(company_id=company_id).values_list("pk", flat=True)
        return {"program_id": next(iter(program), None), "clients": clients}

    found = memo_get(
        _subscribers_key(company_id),
        load,
        shared_ttl=settings.API_KEY_CACHE_TTL,
        local_ttl=settings.API_KEY_LOCAL_TTL,
    )
    return found if isinstance(found, dict) else None


def od_subscribers_forget(*company_ids: str) -> None:
    """Drop the cached subscribers after a client or link changed (``opendelivery.apps`` does it on
    every save and delete), so new events follow the change at once here and within
    ``API_KEY_LOCAL_TTL`` elsewhere. The worker reads the client again before every attempt."""
    if not company_ids:
        return
    keys = [_subscribers_key(company_id) for company_id in company_ids]
    memo_forget(*keys)
    # Again once the change is committed: a process that read the rows in between cached them old.
    transaction.on_commit(lambda: memo_forget(*keys))


def od_client_companies(client: OdClient) -> list[str]:
    """Every company whose events ``client`` may get (its links; a by_merchant client's own too)."""
    companies = set(OdMerchantLink.objects.filter(client_id=client.pk).values_list("company_id", flat=True))
    if client.company_id:
        companies.add(client.company_id)
    return sorted(companies)


# --- The redemption a coupon answers ------------------------------------------------------------
def _correlation(*, coupon_id: str) -> tuple[str, str] | None:
    """(correlationId, the client that asked) of the OpenDelivery redemption that issued this
    coupon, or None (a redemption on /api/v2)."""
    correlation_id = od_redemption_correlation(coupon_id=coupon_id)
    if correlation_id is None:
        return None
    client_id = OdRedemption.objects.filter(pk=correlation_id).values_list("client_id", flat=True).first()
    return (str(correlation_id), client_id) if client_id else None


# --- The envelope -------------------------------------------------------------------------------
def envelope(
    *,
    event_type: str,
    event_id: uuid.UUID,
    data: dict[str, Any],
    program_id: str | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The standard's ``LoyaltyEventEnvelope`` for a native event's ``data``. ``id`` is the
    delivery's, the same on every retry, so receivers dedupe by it."""
    occurred = OCCURRED_AT[event_type]
    body: dict[str, Any] = {
        "id": str(event_id),
        "eventType": event_type,
        "occurredAt": (occurred and data.get(occurred)) or iso_utc(timezone.now()),
        "accountId": data["customer_id"],
        "customerId": data["customer_id"],
    }
    if program_id:
        body["programId"] = program_id
    body["payload"] = {name: data.get(name) for name in PAYLOAD_FIELDS[event_type]} | (extra or {})
    return body


def od_event_record(*, company_id: str, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Write one outbox delivery per client that takes ``event`` for this company, each with its own
    envelope id. Runs inside the publishing transaction (``core.events``): the deliveries commit with
    the change or not at all. Locks nothing: it only inserts."""
    event_type = EVENT_TYPES.get(event)
    if event_type is None or "customer_id" not in data:
        return []
    found = _subscribers(company_id)
    if found is None:
        return []
    wanting = [client for client in found["clients"] if subscribed(client["events"], event_type)]
    if not wanting:
        return []
    # The correlationId goes to the client whose createLoyaltyRedemption it answers, no other.
    redeeming = _correlation(coupon_id=str(data["coupon_id"])) if event == "reward.redeemed" else None
    recorded = []
    for client in wanting:
        asked = redeeming is not None and redeeming[1] == client["id"]
        extra = {"correlation_id": redeeming[0]} if asked and redeeming else None
        event_id = uuid.uuid4()
        recorded.append(
            webhook_enqueue(
                company_id=company_id,
                surface=Surface.OPENDELIVERY,
                recipient=client["id"],
                event=event_type,
                # Where it is meant to go; each attempt reads the client's URL as it is then.
                url=client["url"],
                webhook_id=event_id,
                payload=envelope(
                    event_type=event_type,
                    event_id=event_id,
                    data=data,
                    program_id=found["program_id"],
                    extra=extra,
                ),
            )
        )
    return recorded


# --- Where an attempt goes ----------------------------------------------------------------------
def od_delivery_target(delivery: WebhookDelivery) -> SurfaceTarget | str:
    """The worker's lookup for an OpenDelivery delivery (``webhooks.services.webhook_surface_register``):
    the client's webhook URL and secret and the link's ``merchantId`` as they are now, or why
    nothing is sent (retried on the worker's schedule, so a client enabled again in time still gets
    it)."""
    link = one_or_none(
        OdMerchantLink.objects.select_related("client").filter(
            client_id=delivery.recipient, company_id=delivery.company_id
        )
    )
    if link is None:
        return "not sent: the OpenDelivery client no longer links this merchant"
    client = link.client
    if not client.enabled or not link.enabled:
        return "not sent: the OpenDelivery client or its merchant link is disabled"
    if not client.webhook_url:
        return "not sent: the OpenDelivery client has no webhook URL"
    if not client.webhook_secret:
        return "not sent: the OpenDelivery client has no webhook secret to sign with"
    if not subscribed(list(client.webhook_events or []), delivery.event):
        return "not sent: the OpenDelivery client no longer subscribes to this event"
    return SurfaceTarget(
        url=client.webhook_url,
        secret=client.webhook_secret,
        headers={"X-App-Id": settings.OPENDELIVERY_APP_ID, "X-App-MerchantId": link.merchant_id},
    )


# --- Configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookConfigured:
    client: OdClient
    new_secret: str | None  # shown once: when generated


def od_client_webhook_configure(
    *,
    client_id: str,
    url: str | None = None,
    events: list[str] | None = None,
    rotate_secret: bool = False,
) -> WebhookConfigured:
    """Set a client's webhook: ``url`` (checked like every webhook URL; empty turns events off;
    None keeps it), ``events`` (OpenDelivery event types; empty: the standard's four; None keeps
    them). A secret is generated when a URL is set and the client has none, and on
    ``rotate_secret``; it is returned once. Locks the client's row so two changes apply one after
    the other."""
    errors = []
    if url is not None:
        url = url.strip()
        if url and (reason := url_refusal(url)):
            errors.append({"field": "webhook_url", "detail": reason})
    if events is not None and (unknown := sorted(set(events) - set(SUBSCRIBABLE))):
        errors.append(
            {
                "field": "webhook_events",
                "detail": f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(SUBSCRIBABLE)}.",
            }
        )
    if errors:
        raise ValidationFailed("Invalid webhook configuration.", errors=errors)
    new_secret = None
    with transaction.atomic():
        client = one_or_none(OdClient.objects.select_for_update().filter(pk=client_id))
        if client is None:
            raise NotFound("OpenDelivery client not found.")
        if url is not None:
            client.webhook_url = url
        if events is not None:
            client.webhook_events = sorted(set(events))
        if (client.webhook_url and not client.webhook_secret) or rotate_secret:
            client.webhook_secret = new_secret = "odwh_" + secrets.token_urlsafe(32)
        client.save()
    return WebhookConfigured(client=client, new_secret=new_secret)
