import json
import threading
import time
from collections.abc import Callable, Iterator
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
