"""gunicorn's own refusals (a request it cannot or will not parse) as problem+json, not its HTML page.

gunicorn.conf.py sets its limits above the application's, so most oversized requests reach
RequestBoundsMiddleware; this covers what still cannot: a request line over gunicorn's hard maximum, a
Content-Length that is not a number, a broken request line. The request path is not known then, so
``instance`` is ``about:blank``.
"""

import json
import socket

from gunicorn import util

from core.problems import PROBLEM_CONTENT_TYPE, problem


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    if status_int == 501:
        # gunicorn's only 501: a Transfer-Encoding other than chunked. With chunked not the final
        # coding the body's length cannot be known, and RFC 9112 6.3 says 400 and close.
        status_int, reason = 400, "Bad Request"
    # gunicorn's message may quote the client's bytes back; the problem's default detail does not.
    body = json.dumps(problem(status_int, instance="about:blank")).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: {PROBLEM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin1") + body)


def install() -> None:
    """Called in each worker (gunicorn.conf.py post_worker_init): gunicorn writes every refusal of a
    request through ``util.write_error``, so replacing it there changes the body and nothing else."""
    util.write_error = write_problem
