import itertools
import json
import select
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pytest_django.fixtures import Settings


class Receiver:
    """A real HTTP receiver on loopback that records what it gets and answers as told."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        # per request: a status code, ("sleep", seconds) or ("redirect", location)
        self.script: list[int | tuple[str, Any]] = []
        self.during: Callable[[], object] | None = None  # called while a request is being answered
        self.during_results: list[object] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"headers": dict(self.headers), "body": body, "json": json.loads(body)}
                )
                if receiver.during is not None:
                    receiver.during_results.append(receiver.during())
                action = receiver.script.pop(0) if receiver.script else 200
                location = None
                if isinstance(action, tuple) and action[0] == "redirect":
                    location, action = action[1], 302
                elif isinstance(action, tuple):
                    time.sleep(action[1])
                    action = 200
                self.send_response(action)
                if location:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[str]:
        return [item["json"]["event"] for item in self.received]


@dataclass
class Trickled:
    """One connection to a TrickleReceiver."""

    opened: float  # time.monotonic() when it was accepted
    request: bytes = b""
    sent: int = 0  # bytes of the answer sent so far
    closed: float | None = None  # when the client hung up (or the receiver stopped)
    hung_up: bool = False  # the client closed the connection, not the receiver


class TrickleReceiver:
    """Reads the whole POST, then answers one byte every ``interval`` seconds for as long as the
    client listens: ``HTTP/1.1 200 OK``, then header line after header line, never the blank line
    that would end them. Each read of the client sees a byte well inside any socket timeout."""

    def __init__(self, interval: float = 0.5) -> None:
        self.connections: list[Trickled] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                record = Trickled(opened=time.monotonic())
                outer.connections.append(record)
                sock = self.request
                while b"\r\n\r\n" not in record.request:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    record.request += chunk
                head, _, body = record.request.partition(b"\r\n\r\n")
                lengths = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
                length = int(lengths[0].split(b":")[1]) if lengths else 0
                while len(body) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                record.request = head + b"\r\n\r\n" + body
                answer = itertools.chain(b"HTTP/1.1 200 OK\r\n", itertools.cycle(b"X-Trickle: 1\r\n"))
                for byte in answer:
                    readable, _, _ = select.select([sock], [], [], interval)
                    if outer.stopping.is_set():
                        break
                    if readable and not sock.recv(1):
                        record.hung_up = True  # the client closed its end
                        break
                    try:
                        sock.sendall(bytes([byte]))
                    except OSError:
                        record.hung_up = True
                        break
                    record.sent += 1
                record.closed = time.monotonic()

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def shutdown(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def wait_until(condition: Callable[[], object], *, timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


@pytest.fixture
def trickle(settings: Settings) -> Iterator[TrickleReceiver]:
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    server = TrickleReceiver()
    yield server
    server.shutdown()


@pytest.fixture
def receiver(settings: Settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_DELAYS = [0.0, 0.0, 0.0]
    settings.WEBHOOK_TIMEOUT = 1.0
    server = Receiver()
    yield server
    server.shutdown()


@pytest.fixture
def second_receiver(receiver: Receiver) -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.shutdown()
