"""A loopback Google for the tests: a real HTTP server on 127.0.0.1 (a thread) playing the OAuth
token endpoint, which verifies the service account's JWT-bearer assertion with its public key, and
the Wallet REST API's class and object routes, which keep what they are sent and record every
request. The service account is a throwaway one, its RSA key made at run time."""

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wallet.google import credentials

ISSUER_ID = "3388000000022111111"
CLIENT_EMAIL = "zupy-wallet@zupy-test.iam.gserviceaccount.com"
API_PREFIX = "/walletobjects/v1"
RESOURCES = frozenset({"loyaltyClass", "loyaltyObject", "offerClass", "offerObject"})


@dataclass
class Recorded:
    method: str
    path: str
    body: Any


@dataclass
class GoogleReceiver:
    url: str
    public_key: rsa.RSAPublicKey
    token_url: str
    requests: list[Recorded] = field(default_factory=list)
    # id -> resource, per resource ("loyaltyObject": {"<issuer>.<id>": {...}}).
    stored: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: {r: {} for r in RESOURCES})
    tokens: set[str] = field(default_factory=set)
    # Answer every API request with this status (and Retry-After), as an overloaded Google.
    fail_status: int | None = None
    retry_after: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def api(self, method: str | None = None, resource: str | None = None) -> list[Recorded]:
        """The API requests (not the token's), of ``method`` on ``resource`` if given."""
        return [
            r
            for r in self.requests
            if r.path.startswith(API_PREFIX)
            and (method is None or r.method == method)
            and (resource is None or r.path[len(API_PREFIX) :].split("/")[1] == resource)
        ]


def _handler(receiver: GoogleReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _token(self, raw: bytes) -> None:
            form = urllib.parse.parse_qs(raw.decode())
            if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
                return self._answer(400, {"error": "unsupported_grant_type"})
            try:
                claims = jwt.decode(
                    form["assertion"][0],
                    receiver.public_key,
                    algorithms=["RS256"],
                    audience=receiver.token_url,
                    issuer=CLIENT_EMAIL,
                    options={"require": ["iat", "exp", "scope"]},
                )
            except (KeyError, jwt.PyJWTError) as exc:
                return self._answer(400, {"error": "invalid_grant", "error_description": str(exc)})
            if claims["scope"] != credentials.SCOPE:
                return self._answer(400, {"error": "invalid_scope"})
            token = f"ya29.test-{len(receiver.tokens) + 1}"
            with receiver.lock:
                receiver.tokens.add(token)
            return self._answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

        def _handle(self, method: str) -> None:
            raw = self._body()
            path = urllib.parse.unquote(self.path)
            body: Any = (
                json.loads(raw) if raw and self.headers.get("Content-Type") == "application/json" else raw
            )
            with receiver.lock:
                receiver.requests.append(Recorded(method, path, body))
            if path == "/token" and method == "POST":
                return self._token(raw)
            if not path.startswith(API_PREFIX):
                return self._answer(404, {"error": {"code": 404, "message": "no such route"}})
            if self.headers.get("Authorization", "").removeprefix("Bearer ") not in receiver.tokens:
                return self._answer(
                    401, {"error": {"code": 401, "message": "Request had invalid credentials."}}
                )
            if receiver.fail_status:
                extra = {"Retry-After": receiver.retry_after} if receiver.retry_after else None
                return self._answer(receiver.fail_status, {"error": {"code": receiver.fail_status}}, extra)
            parts = path[len(API_PREFIX) :].strip("/").split("/")
            resource = parts[0]
            if resource not in RESOURCES:
                return self._answer(404, {"error": {"code": 404, "message": "no such resource"}})
            store = receiver.stored[resource]
            with receiver.lock:
                if method == "POST" and len(parts) == 1:
                    if body["id"] in store:
                        return self._answer(
                            409, {"error": {"code": 409, "message": "Resource already exists"}}
                        )
                    store[body["id"]] = body
                    return self._answer(200, body)
                found = store.get(parts[1]) if len(parts) > 1 else None
                if found is None:
                    return self._answer(404, {"error": {"code": 404, "message": "Resource not found"}})
                if method == "GET" and len(parts) == 2:
                    return self._answer(200, found)
                if method == "PATCH" and len(parts) == 2:
                    found.update(body)
                    return self._answer(200, found)
                if method == "POST" and parts[2:] == ["addMessage"]:
                    found.setdefault("messages", []).append(body["message"])
                    return self._answer(200, {"resource": found})
            return self._answer(400, {"error": {"code": 400, "message": "unexpected request"}})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


def service_account_file(directory: Path) -> tuple[Path, rsa.RSAPublicKey]:
    """A throwaway service account key file, as Google's console hands one out."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "zupy-test",
        "private_key_id": "0123456789abcdef",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "1000000000000000000001",
        "token_uri": "https://oauth2.googleapis.com/token",  # overridden by WALLET_GOOGLE_TOKEN_URL
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info))
    return path, key.public_key()


@pytest.fixture
def google(settings: Any, tmp_path: Path) -> Iterator[GoogleReceiver]:
    """The loopback Google, running, with the settings pointing at it."""
    key_file, public_key = service_account_file(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    receiver = GoogleReceiver(url=url, public_key=public_key, token_url=f"{url}/token")
    server.RequestHandlerClass = _handler(receiver)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="google-receiver", daemon=True
    )
    thread.start()
    settings.WALLET_GOOGLE_ISSUER_ID = ISSUER_ID
    settings.WALLET_GOOGLE_SERVICE_ACCOUNT_FILE = str(key_file)
    settings.WALLET_GOOGLE_API_URL = f"{url}{API_PREFIX}"
    settings.WALLET_GOOGLE_TOKEN_URL = receiver.token_url
    settings.WALLET_GOOGLE_ORIGINS = ["https://parceiro.example"]
    settings.WALLET_PUBLIC_URL = "https://zupy.test"
    credentials.tokens_forget()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        credentials.tokens_forget()
