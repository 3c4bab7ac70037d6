"""Google Wallet's service account: the JSON key file the settings name (never the repository),
read once per process, and the OAuth access tokens it is exchanged for.

The token is minted here (an RS256 JWT-bearer assertion signed with pyjwt, exchanged at
WALLET_GOOGLE_TOKEN_URL in one POST) rather than through google-auth: the exchange may run inside
the transaction that issues a pass, so it must be one call bounded by WALLET_TIMEOUT, and
google-auth's token request retries 5xx answers with backoff sleeps of its own. Nothing here logs
the key or a token."""

import functools
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from wallet.google.client import GoogleUnreachable, google_send

log = logging.getLogger("zupy.wallet")

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
# A token is used until this many seconds before Google says it expires.
TOKEN_MARGIN = 60.0
ASSERTION_LIFETIME = 3600


class CredentialsUnusable(Exception):
    """A setting is missing, or the service account file cannot be read or is not one."""


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    key_id: str
    key: rsa.RSAPrivateKey


@functools.lru_cache(maxsize=4)
def _load(issuer_id: str, path: str) -> ServiceAccount:
    if not issuer_id:
        raise CredentialsUnusable("WALLET_GOOGLE_ISSUER_ID is not set")
    if not path:
        raise CredentialsUnusable("WALLET_GOOGLE_SERVICE_ACCOUNT_FILE is not set")
    try:
        info = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise CredentialsUnusable(
            f"WALLET_GOOGLE_SERVICE_ACCOUNT_FILE: the file cannot be read ({exc.strerror})"
        ) from None
    except ValueError:
        raise CredentialsUnusable("WALLET_GOOGLE_SERVICE_ACCOUNT_FILE: the file is not JSON") from None
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str) and info.get(k) for k in ("client_email", "private_key")
    ):
        raise CredentialsUnusable(
            "WALLET_GOOGLE_SERVICE_ACCOUNT_FILE: not a service account key (client_email, private_key)"
        )
    try:
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise CredentialsUnusable(
            "WALLET_GOOGLE_SERVICE_ACCOUNT_FILE: private_key is not a PEM key"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsUnusable("WALLET_GOOGLE_SERVICE_ACCOUNT_FILE: private_key is not an RSA key")
    return ServiceAccount(info["client_email"], str(info.get("private_key_id") or ""), key)


def service_account() -> ServiceAccount:
    """The service account the settings name, loaded on first use and kept (keyed by the settings).
    Raises ``CredentialsUnusable``."""
    return _load(settings.WALLET_GOOGLE_ISSUER_ID, settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE)


def service_account_or_none() -> ServiceAccount | None:
    try:
        return service_account()
    except CredentialsUnusable as exc:
        _log_unusable(str(exc))
        return None


@functools.lru_cache(maxsize=16)
def _log_unusable(reason: str) -> None:
    log.warning("google wallet not configured: %s", reason)


def sign(account: ServiceAccount, claims: dict[str, object]) -> str:
    """An RS256 JWT of ``claims`` signed with the service account's key (``kid`` its key id)."""
    headers = {"kid": account.key_id} if account.key_id else None
    return jwt.encode(claims, account.key, algorithm="RS256", headers=headers)


class TokenRefused(GoogleUnreachable):
    """The token endpoint answered, but not with a token."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_lock = threading.Lock()
# (token URL, client email) -> (access token, monotonic time it stops being used)
_tokens: dict[tuple[str, str], tuple[str, float]] = {}


def access_token() -> str:
    """A Bearer token for the Wallet API: the cached one, or a new one from one exchange of a
    JWT-bearer assertion at WALLET_GOOGLE_TOKEN_URL. Raises ``CredentialsUnusable``,
    ``GoogleUnreachable`` (no answer) or ``TokenRefused`` (an answer without a token)."""
    account = service_account()
    url = settings.WALLET_GOOGLE_TOKEN_URL
    cache_key = (url, account.client_email)
    with _lock:
        cached = _tokens.get(cache_key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    now = int(time.time())
    assertion = sign(
        account,
        {
            "iss": account.client_email,
            "scope": SCOPE,
            "aud": url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        },
    )
    body = urllib.parse.urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    ).encode()
    answer = google_send(
        "POST", url, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    token = answer.data.get("access_token") if answer.status == 200 else None
    if not isinstance(token, str) or not token:
        raise TokenRefused(f"the token endpoint answered {answer.status} without a token", answer.status)
    expires_in = answer.data.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 3600.0
    with _lock:
        _tokens[cache_key] = (token, time.monotonic() + max(lifetime - TOKEN_MARGIN, 0.0))
    return token


def tokens_forget() -> None:
    """Drop the cached tokens (a 401 from the API: the token was revoked or the key rotated)."""
    with _lock:
        _tokens.clear()
