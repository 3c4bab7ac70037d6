"""The HTTP under Google Wallet: one call through the process's urllib3 PoolManager
(``core.http.pool_manager``: no retries, no redirects, certificates verified), bounded by
WALLET_TIMEOUT, its JSON answer read up to ``MAX_ANSWER_BYTES``. Google's server is the one the
operator configured, so its answer is read (the token, an error's reason), but never without bound."""

import json
from dataclasses import dataclass, field
from typing import Any

import urllib3
from django.conf import settings

from core.http import pool_manager

MAX_ANSWER_BYTES = 256 * 1024


class GoogleUnreachable(Exception):
    """No answer: refused, reset, timed out, a TLS failure. ``str(exc)`` names the error's type only."""


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict[str, Any] = field(default_factory=dict)
    # Seconds Google asked to wait (Retry-After), if it said.
    retry_after: float | None = None

    @property
    def reason(self) -> str:
        """Google's error message, if the answer carries one (``{"error": {"message": ...}}``)."""
        error = self.data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        return str(message)[:300] if message else ""


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


def google_send(method: str, url: str, *, body: bytes | None, headers: dict[str, str]) -> Answer:
    """Send one request and return its answer. Raises ``GoogleUnreachable`` when none came within
    WALLET_TIMEOUT seconds, or ``url`` is not http(s)."""
    if not url.startswith(("https://", "http://")):
        raise GoogleUnreachable("not an http(s) URL")
    seconds = settings.WALLET_TIMEOUT
    try:
        response = pool_manager().request(
            method, url, body=body, headers=headers,
            timeout=urllib3.Timeout(total=seconds, connect=seconds, read=seconds),
            retries=False, redirect=False, preload_content=False,
        )  # fmt: skip
        try:
            raw = response.read(MAX_ANSWER_BYTES)
        finally:
            response.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise GoogleUnreachable(type(exc).__name__) from exc
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return Answer(
        response.status,
        data if isinstance(data, dict) else {},
        _retry_after(response.headers.get("Retry-After")),
    )
