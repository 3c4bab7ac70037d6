"""APNs over HTTP/2: the push that tells a device one of its passes changed. Wallet pushes carry no
content (the body is ``{}``, the topic is the Pass Type ID); the device then asks the PassKit web
service which of its passes changed and downloads them.

One HTTP/2 connection per process, kept open and shared by the worker's sender threads (through
one event loop, below): APNs wants connections reused, not opened per push. Auth is either the
Pass Type ID certificate as the TLS client certificate (``WALLET_APNS_AUTH=certificate``) or a
provider token, a JWT signed ES256 with the team's APNs auth key (``token``), made again after
``TOKEN_LIFETIME``: APNs refuses tokens older than an hour and also refuses new ones more often
than every 20 minutes."""

import asyncio
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import certifi
import httpx
import jwt
from django.conf import settings

from wallet.apple.credentials import apple_team_id
from wallet.models import WalletJob
from wallet.platforms import JobResult

logger = logging.getLogger(__name__)

# A background push with priority 5: what APNs asks of a push that shows nothing and only makes
# the device fetch (Wallet ignores any alert, badge or sound anyway).
PUSH_TYPE = "background"
PRIORITY = "5"
TOKEN_LIFETIME = 50 * 60

# APNs' reasons for a device token that will never work again: drop the registration.
GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered", "ExpiredToken"})
# 403 reasons that mean our provider token itself is refused: make a new one for the next try.
TOKEN_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken", "MissingProviderToken"})


class NotConfigured(Exception):
    """What this server lacks to push (a setting, a file)."""


def _ssl_context() -> ssl.SSLContext:
    """TLS towards APNs: its server certificate checked against ``WALLET_APNS_CA_FILE`` (or the
    public CAs), and with certificate auth the Pass Type ID certificate and key presented."""
    context = ssl.create_default_context(cafile=settings.WALLET_APNS_CA_FILE or certifi.where())
    if settings.WALLET_APNS_AUTH == "certificate":
        if not (settings.WALLET_APPLE_CERT_FILE and settings.WALLET_APPLE_KEY_FILE):
            raise NotConfigured("certificate auth needs WALLET_APPLE_CERT_FILE and WALLET_APPLE_KEY_FILE")
        context.load_cert_chain(
            settings.WALLET_APPLE_CERT_FILE,
            settings.WALLET_APPLE_KEY_FILE,
            password=settings.WALLET_APPLE_KEY_PASSWORD or None,
        )
    return context


_lock = threading.Lock()
_clients: dict[tuple[object, ...], httpx.AsyncClient] = {}
_loop: asyncio.AbstractEventLoop | None = None


def _client_key() -> tuple[object, ...]:
    return (
        settings.WALLET_APNS_URL,
        settings.WALLET_APNS_AUTH,
        settings.WALLET_APNS_CA_FILE,
        settings.WALLET_APPLE_CERT_FILE,
        settings.WALLET_APPLE_KEY_FILE,
        settings.WALLET_APPLE_KEY_PASSWORD,
        settings.WALLET_TIMEOUT,
    )


def _client() -> httpx.AsyncClient:
    """This process's client for the configuration in force (a changed setting, in tests, gets a
    client of its own). HTTP/2 only: APNs speaks nothing else."""
    key = _client_key()
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                http1=False,
                http2=True,
                verify=_ssl_context(),
                timeout=httpx.Timeout(settings.WALLET_TIMEOUT),
                follow_redirects=False,
            )
            _clients[key] = client
        return client


def _event_loop() -> asyncio.AbstractEventLoop:
    """The one event loop (on a daemon thread) that owns the connections. The worker's sender
    threads hand their pushes to it: on one HTTP/2 connection, streams are multiplexed fairly
    there, whereas threads sharing a synchronous connection wait for each other's answers, so a
    push APNs is slow to answer would hold up every other."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="apns", daemon=True).start()
        return _loop


def apns_clients_close() -> None:
    """Close this process's connections (the worker on its way out, a test after its receiver)."""
    with _lock:
        clients, loop = list(_clients.values()), _loop
        _clients.clear()
    if loop is None or not clients:
        return
    for client in clients:
        try:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        except Exception:
            logger.warning("apns: a connection did not close cleanly", exc_info=True)


@dataclass
class _Token:
    key: tuple[str, str, str]
    value: str
    issued: float


_token_lock = threading.Lock()
_token: _Token | None = None


def provider_token() -> str:
    """The current provider token: ``{"alg": "ES256", "kid": key id}``, ``{"iss": team id, "iat"}``,
    signed with the APNs auth key; the same one for ``TOKEN_LIFETIME`` seconds."""
    global _token
    key = (settings.WALLET_APNS_KEY_FILE, settings.WALLET_APNS_KEY_ID, apple_team_id())
    if not all(key):
        raise NotConfigured(
            "token auth needs WALLET_APNS_KEY_FILE, WALLET_APNS_KEY_ID and WALLET_APPLE_TEAM_ID"
        )
    now = time.time()
    with _token_lock:
        if _token is None or _token.key != key or now - _token.issued >= TOKEN_LIFETIME:
            pem = Path(settings.WALLET_APNS_KEY_FILE).read_bytes()
            value = jwt.encode(
                {"iss": key[2], "iat": int(now)},
                pem,
                algorithm="ES256",
                headers={"kid": settings.WALLET_APNS_KEY_ID},
            )
            _token = _Token(key=key, value=value, issued=now)
        return _token.value


def _provider_token_forget() -> None:
    global _token
    with _token_lock:
        _token = None


def _headers() -> dict[str, str]:
    if not settings.WALLET_APPLE_PASS_TYPE_ID:
        raise NotConfigured("WALLET_APPLE_PASS_TYPE_ID is not set")
    headers = {
        "apns-topic": settings.WALLET_APPLE_PASS_TYPE_ID,
        "apns-push-type": PUSH_TYPE,
        "apns-priority": PRIORITY,
        "content-type": "application/json",
    }
    if settings.WALLET_APNS_AUTH == "token":
        headers["authorization"] = f"bearer {provider_token()}"
    return headers


def _reason(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return ""
    reason = body.get("reason") if isinstance(body, dict) else None
    return reason if isinstance(reason, str) else ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 24 * 3600 else None


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return "".join(c if c.isprintable() else "?" for c in text)[:500]


async def _post(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(url, content=b"{}", headers=headers)


def apns_push(*, push_token: str) -> JobResult:
    """POST one empty push to ``push_token`` and wait for APNs' answer (at most ``WALLET_TIMEOUT``
    for each step: connect, send, answer). Never raises: a refusal, a timeout or a missing setting
    is the result (``gone`` when APNs says the token is dead)."""
    try:
        headers = _headers()
        client = _client()  # the TLS set-up reads the files: a bad one is this try's error
    except (NotConfigured, OSError, ssl.SSLError, ValueError) as exc:
        logger.error("apns: not configured to push: %s", _error_text(exc))
        return JobResult(ok=False, error=f"not configured: {_error_text(exc)}"[:500])
    url = f"{settings.WALLET_APNS_URL}/3/device/{quote(push_token, safe='')}"
    pending = asyncio.run_coroutine_threadsafe(_post(client, url, headers), _event_loop())
    try:
        # The client's own timeouts end the call; this one only guards against a loop that died.
        response = pending.result(timeout=4 * settings.WALLET_TIMEOUT + 5)
    except Exception as exc:
        # A refused connection, a TLS failure, a timeout, a reset: this try's result.
        pending.cancel()
        return JobResult(ok=False, error=_error_text(exc))
    status = response.status_code
    if status == 200:
        return JobResult(ok=True, status_code=status)
    reason = _reason(response)
    error = f"HTTP {status} {reason}".strip()
    if status == 410 or reason in GONE_REASONS:
        return JobResult(ok=False, gone=True, status_code=status, error=error)
    if status == 403:
        # Our credentials, not this device: every push fails until an operator fixes them.
        logger.error("apns: refused our credentials (%s): check WALLET_APNS_AUTH and its keys", error)
        if reason in TOKEN_REASONS:
            _provider_token_forget()
    return JobResult(ok=False, status_code=status, error=error, retry_after=_retry_after(response))


def apns_job_run(*, job: WalletJob) -> JobResult:
    """Send an ``apple_push`` job: one push to the device of its registration."""
    registration = job.registration
    if registration is None:
        return JobResult(ok=False, gone=True, error="the job names no registration")
    return apns_push(push_token=registration.device.push_token)
