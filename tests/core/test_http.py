"""The one outbound HTTP client against real loopback servers: one try, no redirect followed, a bound
on a server that never answers."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from core.http import HttpFailed, http_post, pinned_pool


class Receiver(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str, bytes]] = []
    status = 200
    location = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.seen.append(("POST", self.path, self.headers["Host"], body))
        self.send_response(Receiver.status)
        if Receiver.location:
            self.send_header("Location", Receiver.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        Receiver.seen.append(("GET", self.path, self.headers["Host"], b""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Receiver.seen, Receiver.status, Receiver.location = [], 200, ""
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_post_sends_the_body_and_returns_the_status(receiver):
    Receiver.status = 202
    assert http_post(f"{receiver}/send", body=b'{"a": 1}', headers={"X-T": "1"}, timeout=5) == 202
    assert Receiver.seen == [("POST", "/send", receiver.removeprefix("http://"), b'{"a": 1}')]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_an_answer_and_is_not_followed(receiver, status):
    Receiver.status, Receiver.location = status, f"{receiver}/elsewhere"
    assert http_post(f"{receiver}/send", body=b"{}", headers={}, timeout=5) == status
    assert [path for _, path, _, _ in Receiver.seen] == ["/send"]


def test_a_refused_connection_is_tried_once_and_fails():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: refused at once
        with pytest.raises(HttpFailed) as failed:
            http_post(f"http://127.0.0.1:{closed.getsockname()[1]}/", body=b"", headers={}, timeout=5)
    assert "127.0.0.1" not in str(failed.value)


def test_a_dropped_connection_is_not_retried():
    accepted: list[int] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)

        def drop() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                accepted.append(1)
                conn.recv(65536)
                conn.close()  # no answer at all

        threading.Thread(target=drop, daemon=True).start()
        with pytest.raises(HttpFailed):
            http_post(f"http://127.0.0.1:{server.getsockname()[1]}/", body=b"x", headers={}, timeout=5)
    assert accepted == [1]


def test_a_server_that_never_answers_is_given_up_on():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
        with pytest.raises(HttpFailed) as failed:
            http_post(f"http://127.0.0.1:{silent.getsockname()[1]}/", body=b"", headers={}, timeout=0.3)
    assert "Timeout" in str(failed.value)


@pytest.mark.parametrize("url", ["", "gateway.example.com/send", "file:///etc/passwd", "http://[::1/"])
def test_a_url_that_is_not_http_fails_as_a_failed_call(url):
    with pytest.raises(HttpFailed):
        http_post(url, body=b"", headers={}, timeout=1)


def test_a_pinned_pool_connects_to_the_checked_address_with_the_callers_host(receiver):
    port = int(receiver.rsplit(":", 1)[1])
    with pinned_pool(
        scheme="http", address="127.0.0.1", port=port, server_hostname="hooks.example.com", timeout=5
    ) as pool:
        response = pool.urlopen(
            "POST", "/hook", body=b"{}", headers={"Host": "hooks.example.com"},
            redirect=False, assert_same_host=False,
        )  # fmt: skip
    assert response.status == 200
    assert Receiver.seen == [("POST", "/hook", "hooks.example.com", b"{}")]
