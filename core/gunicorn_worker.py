"""gunicorn's threaded worker, reading each request whole before a thread takes it.

gunicorn's own gthread worker hands a connection to a thread as soon as its first byte arrives, and the
thread then blocks on the socket until the request's head and body are in: a client that sends one
header line every few seconds holds a thread for as long as it likes, and as many such clients as there
are threads stop the server for everyone. Here the worker's event loop (the one that already accepts
connections and watches kept-alive ones) reads each request without blocking and without a thread until
its head and its body (when the body is within the application's limit) are buffered, and only then hands
it to a thread, which finds every byte it needs already read. A request not read whole within
``GUNICORN_READ_TIMEOUT`` seconds of its first read is answered 408, a head over ``MAX_HEAD_BYTES`` 431,
both problem+json, and the connection is closed. gunicorn.conf.py names this class as ``worker_class``.
"""

import contextlib
import os
import re
import selectors
import time
from functools import partial
from typing import Any

from django.conf import settings
from gunicorn.workers.gthread import ThreadWorker


def _read_timeout() -> float:
    raw = os.environ.get("GUNICORN_READ_TIMEOUT", "10")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"GUNICORN_READ_TIMEOUT must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ValueError(f"GUNICORN_READ_TIMEOUT must be more than 0, not {raw!r}")
    return value


READ_TIMEOUT = _read_timeout()
# Above every head the application accepts in practice (its own bounds answer 414/431 for long lines
# and many headers) and above gunicorn's longest header line (gunicorn.conf.py): what is larger is
# refused here rather than buffered.
MAX_HEAD_BYTES = 64 * 1024
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(.*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)

WAIT, WHOLE, TOO_LARGE = "wait", "whole", "too-large"


def request_state(buf: bytes | bytearray, max_body: int) -> tuple[str, bool]:
    """Whether ``buf`` holds a whole request to hand to a thread: (``WAIT``, ``WHOLE`` or ``TOO_LARGE``,
    whether the body was left on the socket). A body is waited for only when its Content-Length is one
    plain number within ``max_body``: anything else (chunked, over the limit, malformed, two lengths)
    is refused by gunicorn or the application from the head alone, without reading the body."""
    end = _HEAD_END.search(buf)
    if end is None:
        return (TOO_LARGE if len(buf) > MAX_HEAD_BYTES else WAIT), False
    if end.start() > MAX_HEAD_BYTES:
        return TOO_LARGE, False
    head = bytes(buf[: end.start()])
    lengths = _CONTENT_LENGTH.findall(head)
    if _TRANSFER_ENCODING.search(head) or len(lengths) > 1:
        return WHOLE, True
    if not lengths:
        return WHOLE, False
    digits = lengths[0]
    significant = digits.lstrip(b"0")
    if not (digits.isdigit() and len(significant) <= 18 and int(significant or b"0") <= max_body):
        return WHOLE, True
    return (WHOLE if len(buf) >= end.end() + int(significant or b"0") else WAIT), False


class BufferingThreadWorker(ThreadWorker):
    """gthread, with each request read by the event loop first (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections being read, oldest first: every one has the same timeout, so the first to
        # expire is always at the front.
        self.reading: dict[Any, None] = {}

    # --- the event loop's side --------------------------------------------------------------------
    def enqueue_req(self, conn: Any) -> None:
        """Every connection with a request to serve comes here (a new one, a kept-alive one that became
        readable, one whose read-ahead holds the next request): read the request first."""
        if self.cfg.is_ssl or getattr(conn, "zupy_whole", False):
            conn.zupy_whole = False
            super().enqueue_req(conn)
            return
        conn.zupy_buf = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.zupy_deadline = time.monotonic() + READ_TIMEOUT
        conn.zupy_continued = False
        conn.sock.setblocking(False)
        self.reading[conn] = None
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn))
        # The bytes are often there already (a kept-alive connection became readable, a new one sent
        # its request with the handshake): no need to wait a turn of the loop for them.
        self.on_request_bytes(conn, conn.sock)

    def on_request_bytes(self, conn: Any, _sock: Any) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            self._drop(conn)
            return
        if data == b"":
            self._drop(conn)
            return
        conn.zupy_buf += data or b""
        state, body_left = request_state(conn.zupy_buf, settings.ZUPY_MAX_BODY_BYTES)
        if state == TOO_LARGE:
            self._refuse(conn, 431, "Request Header Fields Too Large")
        elif state == WHOLE:
            self._forget(conn)
            conn.zupy_whole, conn.zupy_body_left, conn.data_ready = True, body_left, True
            self.enqueue_req(conn)
        elif not conn.zupy_continued and self._expects_continue(conn.zupy_buf):
            # The client waits for this before it sends the body; gunicorn would send it from the
            # thread. A second 100 from gunicorn later is allowed (RFC 9110 15.2: any number of 1xx).
            conn.zupy_continued = True
            with contextlib.suppress(OSError):  # a full send buffer is the client's own doing
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    @staticmethod
    def _expects_continue(buf: bytearray) -> bool:
        end = _HEAD_END.search(buf)
        return end is not None and _EXPECT_CONTINUE.search(buf, 0, end.start()) is not None

    def murder_pending(self) -> None:
        """Called by the worker's loop about every second: also close requests read for too long."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading:
            conn = next(iter(self.reading))
            if conn.zupy_deadline > now:
                break
            self._refuse(conn, 408, "Request Timeout")

    def _forget(self, conn: Any) -> None:
        self.reading.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError, OSError):  # already unregistered, or closed
            self.poller.unregister(conn.sock)

    def _drop(self, conn: Any) -> None:
        self._forget(conn)
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn: Any, status: int, reason: str) -> None:
        # gunicorn's master loads this class before Django is set up; the problem needs the app's kit.
        from core.gunicorn_errors import write_problem

        self._forget(conn)
        with contextlib.suppress(OSError):  # the client is gone or does not read: closed either way
            write_problem(conn.sock, status, reason, "")
        self.nr_conns -= 1
        conn.close()

    # --- the thread's side ------------------------------------------------------------------------
    def handle(self, conn: Any) -> Any:
        buffered = getattr(conn, "zupy_buf", None)
        if buffered is not None:  # read by the event loop (always, but over TLS)
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(bytes(buffered))
            conn.zupy_buf = None
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        # Everything the request needs is buffered; what can still block is writing the answer to a
        # client that does not read it. Bound that too (sendall's timeout is for the whole answer).
        conn.sock.settimeout(READ_TIMEOUT)
        return super().handle_request(req, conn)

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        # A body left on the socket (refused from the head: too large, chunked) would be drained by
        # this thread at the client's pace: close the connection instead.
        if getattr(conn, "zupy_body_left", False):
            return False
        return bool(super()._keepalive_after(conn, keepalive))
