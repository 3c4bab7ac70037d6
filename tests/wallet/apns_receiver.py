"""A loopback APNs for the tests: a real HTTP/2 server over TLS (ALPN "h2" only, the ``h2`` library
on a thread per connection) with throwaway certificates made at run time, recording every request
and answering each device token as the test says. Nothing here leaves 127.0.0.1."""

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASS_TYPE_ID = "pass.test.zupy.loyalty"
TEAM_ID = "TEAMZUPY01"
KEY_ID = "KEYZUPY001"
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True)
class Pki:
    """Files of a throwaway CA, the receiver's server certificate, a Pass Type ID-like client
    certificate and an APNs auth key (.p8), all made for one test run."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    auth_key: Path
    auth_public_key: ec.EllipticCurvePublicKey


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Zupy test APNs CA")])
    ca = _certificate(
        ca_name, ca_key, ca_name, ca_key, [(x509.BasicConstraints(ca=True, path_length=None), True)]
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]),
        server_key,
        ca_name,
        ca_key,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
                ),
                False,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate(
        x509.Name(
            [
                x509.NameAttribute(NameOID.USER_ID, PASS_TYPE_ID),
                x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {PASS_TYPE_ID}"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEAM_ID),
            ]
        ),
        client_key,
        ca_name,
        ca_key,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False),
        ],
    )
    auth_key = ec.generate_private_key(ec.SECP256R1())
    files = {
        "ca": ca.public_bytes(serialization.Encoding.PEM),
        "server_cert": server.public_bytes(serialization.Encoding.PEM),
        "server_key": _pem(server_key),
        "client_cert": client.public_bytes(serialization.Encoding.PEM),
        "client_key": _pem(client_key),
        "auth_key": _pem(auth_key),
    }
    paths = {}
    for name, content in files.items():
        path = directory / f"{name}.pem"
        path.write_bytes(content)
        paths[name] = path
    return Pki(**paths, auth_public_key=auth_key.public_key())


@dataclass(frozen=True)
class Answer:
    """What the receiver answers a push: a status and APNs' ``reason``; ``None`` never answers."""

    status: int | None = 200
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()


OK = Answer()


@dataclass
class Push:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    alpn: str | None
    client_subject: str | None  # the TLS client certificate's subject, when one was presented

    @property
    def token(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class _Stream:
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)


class ApnsReceiver:
    """``answers[token]``: the answers for that token in turn (the last one repeats); any other
    token gets 200. ``pushes``: every request received, in order."""

    def __init__(self, pki: Pki, *, require_client_cert: bool = False) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        self.context.set_alpn_protocols(["h2"])
        if require_client_cert:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(pki.ca)
        self.answers: dict[str, list[Answer]] = {}
        self.pushes: list[Push] = []
        self.connections = 0
        self.handshake_failures = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def pushes_to(self, token: str) -> list[Push]:
        with self._lock:
            return [p for p in self.pushes if p.token == token]

    def _answer(self, token: str) -> Answer:
        with self._lock:
            queue = self.answers.get(token)
            if not queue:
                return OK
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            tls = self.context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with self._lock:
                self.handshake_failures += 1
            conn.close()
            return
        with self._lock:
            self.connections += 1
        peer = tls.getpeercert(binary_form=True)
        subject = x509.load_der_x509_certificate(peer).subject.rfc4514_string() if peer else None
        alpn = tls.selected_alpn_protocol()
        h2conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        h2conn.initiate_connection()
        tls.settimeout(0.2)
        streams: dict[int, _Stream] = {}
        try:
            tls.sendall(h2conn.data_to_send())
            while not self._stop.is_set():
                try:
                    data = tls.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    return
                for event in h2conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = _Stream(
                            headers={_text(k): _text(v) for k, v in event.headers or []}
                        )
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id].body += event.data or b""
                        h2conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        self._respond(h2conn, event.stream_id, streams.pop(event.stream_id), alpn, subject)
                tls.sendall(h2conn.data_to_send())
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            return
        finally:
            tls.close()

    def _respond(
        self,
        h2conn: h2.connection.H2Connection,
        stream_id: int,
        stream: _Stream,
        alpn: str | None,
        subject: str | None,
    ) -> None:
        headers = stream.headers
        push = Push(
            method=headers.get(":method", ""),
            path=headers.get(":path", ""),
            headers={k: v for k, v in headers.items() if not k.startswith(":")},
            body=bytes(stream.body),
            alpn=alpn,
            client_subject=subject,
        )
        with self._lock:
            self.pushes.append(push)
        answer = self._answer(push.token)
        if answer.status is None:
            return  # never answered: the client's deadline ends it
        body = json.dumps({"reason": answer.reason}).encode() if answer.reason else b""
        response = [(":status", str(answer.status)), ("apns-id", f"id-{stream_id}"), *answer.headers]
        if body:
            response.append(("content-type", "application/json"))
        h2conn.send_headers(stream_id, response, end_stream=not body)
        if body:
            h2conn.send_data(stream_id, body, end_stream=True)

    def shutdown(self) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- Fixtures (imported by the push tests' modules) --------------------------------------------
@pytest.fixture(scope="session")
def apns_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("apns-pki"))


def apns_settings(pki: Pki, receiver: ApnsReceiver, *, auth: str = "token") -> dict[str, str]:
    """The settings (as environment variables) that point the APNs client at ``receiver``."""
    return {
        "WALLET_APNS_URL": receiver.url,
        "WALLET_APNS_CA_FILE": str(pki.ca),
        "WALLET_APNS_AUTH": auth,
        "WALLET_APNS_KEY_FILE": str(pki.auth_key),
        "WALLET_APNS_KEY_ID": KEY_ID,
        "WALLET_APPLE_TEAM_ID": TEAM_ID,
        "WALLET_APPLE_PASS_TYPE_ID": PASS_TYPE_ID,
        "WALLET_APPLE_CERT_FILE": str(pki.client_cert),
        "WALLET_APPLE_KEY_FILE": str(pki.client_key),
    }


@pytest.fixture
def apns(apns_pki: Pki, settings: Any) -> Iterator[ApnsReceiver]:
    """A receiver, and this process's APNs client pointed at it with token auth."""
    from wallet.apple import apns as client

    receiver = ApnsReceiver(apns_pki)
    for name, value in apns_settings(apns_pki, receiver).items():
        setattr(settings, name, value)
    settings.WALLET_TIMEOUT = 5.0
    yield receiver
    client.apns_clients_close()
    client._provider_token_forget()
    receiver.shutdown()
