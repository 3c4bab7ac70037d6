"""Errors before Django are problem+json too: through a real gunicorn (gunicorn.conf.py, as scripts/serve
and the image's CMD run it) and a real nginx with deploy/nginx.conf (compose's lb)."""

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.nginx import start_nginx
from tests.e2e.servers import GUNICORN, ROOT, free_port, production_env, stop, wait_ready
from tests.e2e.slow_clients import SlowClients

READ_TIMEOUT = 5  # seconds the server gives a request's head and body (GUNICORN_READ_TIMEOUT)


def raw_request(
    port: int, head: bytes, body: bytes = b"", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """One request as bytes on a socket: what a hostile or broken client sends, unparsed by a library."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_answer(b"".join(chunks))


def parse_answer(data: bytes) -> tuple[int, dict[str, str], bytes]:
    header_block, _, payload = data.partition(b"\r\n\r\n")
    lines = header_block.decode("latin1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size_line, _, payload = payload.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if not size:
                break
            body, payload = body + payload[:size], payload[size + 2 :]
        payload = body
    return status, headers, payload


def get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin1")


def assert_problem(answer: tuple[int, dict[str, str], bytes], status: int) -> dict[str, object]:
    got, headers, payload = answer
    assert got == status, payload[:300]
    assert headers["content-type"].split(";")[0] == "application/problem+json", headers
    body = json.loads(payload)
    assert body["status"] == status
    assert str(body["type"]).startswith("https://api.zupy.com/errors/")
    assert body["title"] and body["detail"] and body["instance"]
    return body


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data = tmp_path_factory.mktemp("edge")
    env = production_env(
        "edge",
        DATABASE_URL=f"sqlite:///{data}/db.sqlite3",
        CACHE_URL="locmemcache://edge",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
        LOG_LEVEL="WARNING",
        GUNICORN_READ_TIMEOUT=str(READ_TIMEOUT),
    )
    port = free_port()
    # As the image's CMD: gunicorn reads gunicorn.conf.py from its working directory.
    server = subprocess.Popen(
        [GUNICORN, "zupy.wsgi:application", "--bind", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process=server)
        yield port
    finally:
        stop(server)


def test_a_request_line_over_the_apps_bound_is_the_apps_414(gunicorn_port: int) -> None:
    body = assert_problem(raw_request(gunicorn_port, get("/healthz?q=" + "a" * 5000)), 414)
    assert "4094" in str(body["detail"])  # the application's bound, not gunicorn's


def test_a_request_line_beyond_gunicorns_hard_maximum_is_still_problem_json(gunicorn_port: int) -> None:
    assert_problem(raw_request(gunicorn_port, get("/healthz?q=" + "a" * 9000)), 414)


def test_a_header_over_8_kb_is_the_apps_431(gunicorn_port: int) -> None:
    body = assert_problem(raw_request(gunicorn_port, get("/healthz", "X-Big: " + "b" * 9000)), 431)
    assert "8190" in str(body["detail"])


def test_too_many_headers_is_431(gunicorn_port: int) -> None:
    many = [f"X-H{i}: v" for i in range(150)]
    assert_problem(raw_request(gunicorn_port, get("/healthz", *many)), 431)


def test_a_header_beyond_gunicorns_maximum_is_still_problem_json(gunicorn_port: int) -> None:
    assert_problem(raw_request(gunicorn_port, get("/healthz", "X-Big: " + "b" * 40000)), 431)


def test_a_malformed_content_length_is_400_problem_json(gunicorn_port: int) -> None:
    head = get("/api/v2/rewards/", "Content-Length: 12abc").replace(b"GET", b"POST", 1)
    assert_problem(raw_request(gunicorn_port, head, b"{}"), 400)


def test_ordinary_requests_still_pass(gunicorn_port: int) -> None:
    status, _, payload = raw_request(gunicorn_port, get("/healthz", "X-Fine: " + "c" * 4000))
    assert status == 200 and json.loads(payload) == {"status": "ok"}


# --- nginx, compose's lb, with deploy/nginx.conf -------------------------------------------------


@pytest.fixture(scope="module")
def nginx_port(gunicorn_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    proc, port = start_nginx(tmp_path_factory.mktemp("nginx"), gunicorn_port)
    try:
        yield port
    finally:
        stop(proc)


def test_nginx_passes_the_apps_answers_through(nginx_port: int) -> None:
    status, headers, _ = raw_request(nginx_port, get("/healthz"))
    assert status == 200 and headers["content-type"] == "application/json"
    assert_problem(raw_request(nginx_port, get("/api/v2/nowhere/")), 404)


def test_nginx_own_413_for_a_large_body(nginx_port: int) -> None:
    head = get("/api/v2/rewards/", "Content-Type: application/json", "Content-Length: 2000000")
    body = assert_problem(raw_request(nginx_port, head.replace(b"GET", b"POST", 1), b"x" * 2_000_000), 413)
    assert body["instance"] == "/api/v2/rewards/"


def test_nginx_own_414_for_a_long_request_line(nginx_port: int) -> None:
    assert_problem(raw_request(nginx_port, get("/api/v2/rewards/?q=" + "a" * 10000)), 414)


def test_nginx_own_431_for_a_large_header(nginx_port: int) -> None:
    assert_problem(raw_request(nginx_port, get("/healthz", "X-Big: " + "b" * 10000)), 431)


def test_nginx_own_400_for_a_malformed_request(nginx_port: int) -> None:
    assert_problem(
        raw_request(nginx_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n"), 400
    )


def test_nginx_own_502_when_the_api_is_down(tmp_path: Path) -> None:
    proc, port = start_nginx(tmp_path, free_port(), wait=False)  # nothing listens upstream
    try:
        body = assert_problem(raw_request(port, get('/api/v2/rewards/"quoted"')), 502)
        assert body["instance"] == "about:blank"  # a path that is not plainly JSON-safe is not echoed
    finally:
        stop(proc)


def test_nginx_own_504_when_the_api_does_not_answer(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never answers
        proc, port = start_nginx(tmp_path, silent.getsockname()[1], wait=False, read_timeout="1s")
        try:
            body = assert_problem(raw_request(port, get("/api/v2/rewards/")), 504)
            assert body["instance"] == "/api/v2/rewards/"
        finally:
            stop(proc)


def test_a_chunked_body_is_refused_411_not_read_as_empty(gunicorn_port: int) -> None:
    """Django reads a body by its Content-Length: a chunked one would read as ``{}`` and a redeem would
    go on without ``use_z_tokens``. gunicorn facing clients (scripts/serve, the image) passes it on."""
    body = b'{"use_z_tokens": true}'
    head = (
        b"POST /api/v2/customers/c/rewards/r/redeem/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    problem = assert_problem(raw_request(gunicorn_port, head, chunked), 411)
    assert "Content-Length" in str(problem["detail"])


# --- slow clients and sloppy framing, against gunicorn facing clients as the image's CMD runs it ----


def test_slow_clients_hold_no_thread_and_are_answered_408(gunicorn_port: int) -> None:
    """Four times as many sockets as the server has threads, each sending its head one line at a
    time, or its head and then its body a byte at a time: other clients are answered meanwhile, and
    each slow one gets 408 problem+json once GUNICORN_READ_TIMEOUT is over."""
    with SlowClients(gunicorn_port, count=8, drip_for=READ_TIMEOUT + 4) as slow:
        for _ in range(3):
            status, _, payload = raw_request(gunicorn_port, get("/healthz"), timeout=READ_TIMEOUT - 1)
            assert status == 200 and json.loads(payload) == {"status": "ok"}
            assert slow.still_open() == 8  # served while every slow client still held its socket
        answers = slow.answers()
    assert len(answers) == 8
    for answer in answers:
        body = assert_problem(parse_answer(answer), 408)
        assert str(body["type"]).endswith("/request-timeout")


def test_a_head_over_64_kib_is_431_without_waiting_for_its_end(gunicorn_port: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: " + b"b" * 70_000  # no end
    with socket.create_connection(("127.0.0.1", gunicorn_port), timeout=READ_TIMEOUT - 1) as sock:
        sock.sendall(head)
        answer = sock.recv(65536)
    assert_problem(parse_answer(answer), 431)


def test_expect_100_continue_is_answered_before_the_body_is_sent(gunicorn_port: int) -> None:
    """The worker reads bodies before a thread does: a client that waits for 100 Continue first must
    still get it (stock gthread sent it from the thread)."""
    head = get("/api/v2/rewards/", "Content-Type: application/json", "Expect: 100-continue")
    head = head.replace(b"\r\n\r\n", b"\r\nContent-Length: 2\r\n\r\n", 1)
    with socket.create_connection(("127.0.0.1", gunicorn_port), timeout=READ_TIMEOUT - 1) as sock:
        sock.sendall(head)
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"{}")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    while answer.startswith(b"HTTP/1.1 100 "):  # gunicorn may send its own 100 too (any number of 1xx)
        answer = answer.split(b"\r\n\r\n", 1)[1]
    assert_problem(parse_answer(answer), 401)  # the body arrived and the request went on: no key


@pytest.mark.parametrize("length", ["000000000000000000002000024", "0" * 40 + "65537", "9" * 30])
def test_a_content_length_over_the_limit_is_413_however_it_is_padded(gunicorn_port: int, length: str) -> None:
    head = get("/api/v2/rewards/", "Content-Type: application/json", f"Content-Length: {length}")
    body = assert_problem(raw_request(gunicorn_port, head.replace(b"GET", b"POST", 1), b"{}"), 413)
    assert body["instance"] == "/api/v2/rewards/"


def test_a_transfer_coding_other_than_chunked_is_400_not_501(gunicorn_port: int) -> None:
    head = get("/api/v2/rewards/", "Transfer-Encoding: xchunked").replace(b"GET", b"POST", 1)
    body = assert_problem(raw_request(gunicorn_port, head, b"2\r\n{}\r\n0\r\n\r\n"), 400)
    assert str(body["type"]).endswith("/validation-error")
