"""When the serving worker's event loop has read a request whole (core/gunicorn_worker.py), and the
Content-Length bound it shares with the application. The worker itself is run in tests/test_edge_errors.py
and tests/e2e/test_quickstart_server.py."""

import pytest

from core.gunicorn_worker import TOO_LARGE, WAIT, WHOLE, request_state
from core.inputs import content_length_exceeds

HEAD = b"POST /x HTTP/1.1\r\nHost: h\r\n"


@pytest.mark.parametrize(
    ("buf", "expected"),
    [
        (b"GET /x HTTP/1.1\r\nHost: h\r\n", (WAIT, False)),  # head not ended
        (b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n", (WHOLE, False)),
        (b"GET /x HTTP/1.1\nHost: h\n\n", (WHOLE, False)),  # bare LF: gunicorn's to judge, not to wait for
        (HEAD + b"Content-Length: 5\r\n\r\nabc", (WAIT, False)),  # body not all in
        (HEAD + b"content-length:5\r\n\r\nabcde", (WHOLE, False)),
        (HEAD + b"Content-Length: 0000000005\r\n\r\nabcde", (WHOLE, False)),  # padded: read as its number
        (HEAD + b"Content-Length: 101\r\n\r\n", (WHOLE, True)),  # over the limit: refused from the head
        (HEAD + b"Content-Length: " + b"9" * 30 + b"\r\n\r\n", (WHOLE, True)),
        (HEAD + b"Content-Length: 000000000000000000002000024\r\n\r\n", (WHOLE, True)),
        (HEAD + b"Content-Length: 12abc\r\n\r\n", (WHOLE, True)),  # malformed: gunicorn's 400
        (HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n", (WHOLE, True)),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", (WHOLE, True)),  # the application's 411
        (b"GET /x HTTP/1.1\r\nX: " + b"a" * 70_000, (TOO_LARGE, False)),
        (b"GET /x HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", (TOO_LARGE, False)),
    ],
)
def test_request_state(buf: bytes, expected: tuple[str, bool]) -> None:
    assert request_state(buf, max_body=100) == expected


@pytest.mark.parametrize(
    ("raw", "exceeds"),
    [
        ("100", False),
        ("101", True),
        ("0000000000000000000000000100", False),
        ("000000000000000000002000024", True),
        ("9" * 30, True),
        ("", False),
        ("12abc", False),  # not a number: RequestBoundsMiddleware's 400
        ("\u0661\u0660\u0661", False),  # Arabic-Indic 101, not ASCII: the same
    ],
)
def test_content_length_exceeds(raw: str, exceeds: bool) -> None:
    assert content_length_exceeds(raw, 100) is exceeds
