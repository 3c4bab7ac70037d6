"""The Wallet REST API (WALLET_GOOGLE_API_URL), authorized with the service account's token: the
few calls the platform makes, each one request."""

import json
import urllib.parse
from typing import Any

from django.conf import settings

from wallet.google.client import Answer, google_send
from wallet.google.credentials import access_token, tokens_forget


def wallet_call(method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
    """``method`` ``path`` (e.g. ``/loyaltyObject``) with ``body`` as JSON. A 401 drops the cached
    token, so the next call gets a new one. Raises what ``access_token`` and ``google_send`` raise."""
    headers = {"Authorization": f"Bearer {access_token()}", "Accept": "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers["Content-Type"] = "application/json"
    answer = google_send(method, f"{settings.WALLET_GOOGLE_API_URL}{path}", body=payload, headers=headers)
    if answer.status == 401:
        tokens_forget()
    return answer


def resource_path(resource: str, resource_id: str, action: str = "") -> str:
    """``/<resource>/<id>[/<action>]``, the id quoted (an issuer id and a suffix, with a dot)."""
    path = f"/{resource}/{urllib.parse.quote(resource_id, safe='.-_')}"
    return f"{path}/{action}" if action else path
