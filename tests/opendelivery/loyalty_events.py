"""What an ordering platform's receiver checks on every OpenDelivery loyalty event: the standard's
headers, the signature over the raw body, and the body against the standard's
``LoyaltyEventEnvelope`` schema."""

import hashlib
import hmac
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker

from companies.models import Company
from opendelivery.events import od_client_webhook_configure
from opendelivery.models import ClientKind, OdClient
from opendelivery.services import od_client_create, od_merchant_link
from tests.webhooks.conftest import Receiver

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER_DOCUMENT = ROOT / "docs" / "reference" / "opendelivery" / "customer.openapi.yaml"


@cache
def envelope_validator() -> OAS31Validator:
    components = yaml.safe_load(CUSTOMER_DOCUMENT.read_text())["components"]
    schema = {"$ref": "#/components/schemas/LoyaltyEventEnvelope", "components": components}
    return OAS31Validator(schema, format_checker=oas31_format_checker)


def standard_event_types() -> list[str]:
    return list(envelope_validator().schema["components"]["schemas"]["LoyaltyEventType"]["enum"])


def verified(item: dict[str, Any], *, secret: str, merchant_id: str, app_id: str) -> dict[str, Any]:
    """The envelope of one received request, after the checks a receiver makes; fails otherwise."""
    headers, body = item["headers"], item["body"]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-App-Signature"] == expected, "the signature does not verify"
    assert headers["X-App-Id"] == app_id and uuid.UUID(headers["X-App-Id"])
    assert headers["X-App-MerchantId"] == merchant_id
    assert headers["Content-Type"] == "application/json"
    assert not any(name.startswith("X-Webhook-") for name in headers), "a native header leaked"
    envelope = item["json"]
    errors = [error.message for error in envelope_validator().iter_errors(envelope)]
    assert errors == [], errors
    return dict(envelope)


def od_subscriber(
    *,
    company: Company,
    url: str,
    events: list[str] | None = None,
    merchant_id: str = "merchant-1",
    kind: str = ClientKind.BY_MERCHANT,
    name: str = "Platform",
) -> tuple[OdClient, str]:
    """A client linked to ``company`` under ``merchant_id`` whose webhook is ``url``; and the secret
    it was shown once."""
    if kind == ClientKind.BY_MERCHANT:
        client, _ = od_client_create(name=name, kind=kind, company=company, merchant_id=merchant_id)
    else:
        client, _ = od_client_create(name=name, kind=kind)
        od_merchant_link(client=client, company=company, merchant_id=merchant_id)
    configured = od_client_webhook_configure(client_id=client.pk, url=url, events=events or [])
    assert configured.new_secret
    return configured.client, configured.new_secret


@contextmanager
def platform_receiver(settings: Any) -> Iterator[Receiver]:
    """An ordering platform's webhook receiver on loopback (webhooks may go to loopback over http
    here), and a worker that retries at once."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 0.0, 0.0]
    settings.WEBHOOK_TIMEOUT = 2.0
    server = Receiver()
    try:
        yield server
    finally:
        server.shutdown()
