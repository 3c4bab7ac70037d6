"""python -m bench.servers [--scale large] [--servers gunicorn,granian] [--slow 8] [--wait 5]

What each HTTP server does with the clients the throughput runs never send, served exactly as
``python -m bench`` serves it (same settings, workers and threads, on the seeded bench database;
seed first with ``python -m bench``):

- **slow bodies**: ``--slow`` sockets (workers x threads by default) send a whole head announcing a
  100-byte body to the OpenDelivery token endpoint (no key needed to reach it) and then the body one
  byte every 0.5 s; meanwhile a GET /readyz must be answered within ``--wait`` seconds;
- **slow heads**: the same number of sockets send a head one header line every 0.5 s;
- **its own refusals**: requests the server refuses before the application sees them (a broken
  request line, a Content-Length that is not a number, an unknown Transfer-Encoding, 150 headers, a
  600 KB header), each answered with what status and what body.

Prints a Markdown table and writes it with its JSON to bench/results/<date>-<scale>-servers.{md,json}.
"""

import argparse
import json
import os
import signal
import socket
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import RESULTS, SERVERS, django_env, start_server, wait_ready

H = b"Host: 127.0.0.1\r\n"
REFUSALS = {
    "broken request line": b"GARBAGE\r\n\r\n",
    "Content-Length: abc": b"POST /api/v2/rewards/ HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
    "Transfer-Encoding: xchunked": b"POST /api/v2/rewards/ HTTP/1.1\r\n" + H
    + b"Transfer-Encoding: xchunked\r\n\r\n",
    "150 headers": b"GET /api/v2/rewards/ HTTP/1.1\r\n" + H
    + b"".join(b"X-H%d: a\r\n" % n for n in range(150)) + b"\r\n",
    "a 600 KB header": b"GET /api/v2/rewards/ HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 600_000 + b"\r\n\r\n",
}  # fmt: skip
SLOW_HEAD = b"GET /readyz HTTP/1.1\r\n" + H
SLOW_BODY = (
    b"POST /v2/oauth/token HTTP/1.1\r\n" + H
    + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
)  # fmt: skip


def refusal(port: int, request: bytes) -> dict[str, Any]:
    """The status line, content type and body length of the server's answer to ``request``."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return {
        "status": " ".join(lines[0].split(" ")[1:]) if lines[0] else "no answer",
        "content_type": headers.get("content-type", "-"),
        "body_bytes": len(body),
    }


def while_slow(port: int, count: int, start: bytes, drip: bytes, wait: float) -> dict[str, Any]:
    """Whether GET /readyz is answered within ``wait`` s while ``count`` sockets drip requests."""
    stop = time.monotonic() + wait + 3
    ready = threading.Barrier(count + 1, timeout=30)

    def drip_one() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(start)
            ready.wait()
            sock.settimeout(0.5)
            while time.monotonic() < stop:
                try:
                    if sock.recv(65536) == b"":
                        return  # answered and closed
                except TimeoutError:
                    pass
                except OSError:
                    return
                try:
                    sock.sendall(drip)
                except OSError:
                    return

    threads = [threading.Thread(target=drip_one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(1)  # every socket has been taken in and has dripped
    began = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=wait) as response:
            result = {"readyz": response.status, "ms": round((time.monotonic() - began) * 1000, 1)}
    except OSError as error:
        result = {"readyz": f"no answer in {wait:g} s ({type(error).__name__})", "ms": None}
    for thread in threads:
        thread.join(timeout=wait + 10)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("--scale", default="large")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "4")))
    parser.add_argument("--slow", type=int, default=0, help="slow sockets (default: workers x threads)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds /readyz may take")
    args = parser.parse_args()
    slow = args.slow or args.workers * args.threads
    work = Path(tempfile.mkdtemp(prefix="zupy-bench-servers-"))
    rows: dict[str, dict[str, Any]] = {}
    for kind in args.servers.split(","):
        metrics = work / f"metrics-{kind}"
        metrics.mkdir()
        env = {
            **os.environ, **django_env(args.scale), "DB_POOL": "true", "WEB_CONCURRENCY": str(args.workers),
            "GUNICORN_THREADS": str(args.threads), "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        }  # fmt: skip
        server, port = start_server(env, work / f"{kind}.log", kind)
        try:
            wait_ready(port)
            rows[kind] = {
                "slow bodies": while_slow(port, slow, SLOW_BODY, b"a", args.wait),
                "slow heads": while_slow(port, slow, SLOW_HEAD, b"X-Drip: 1\r\n", args.wait),
                **{name: refusal(port, request) for name, request in REFUSALS.items()},
            }
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    lines = [
        f"Servers under clients the throughput runs never send ({args.workers} workers x {args.threads} "
        f"threads; {slow} slow sockets, one byte or header line every 0.5 s; /readyz allowed "
        f"{args.wait:g} s), {datetime.now(UTC).isoformat(timespec='seconds')}:",
        "",
        "| case | " + " | ".join(rows) + " |",
        "|---|" + "---|" * len(rows),
    ]
    for case in ["slow bodies", "slow heads", *REFUSALS]:
        cells = []
        for found in rows.values():
            got = found[case]
            if "readyz" in got:
                cells.append(f"/readyz {got['readyz']}" + (f" in {got['ms']} ms" if got["ms"] else ""))
            else:
                cells.append(f"{got['status']}, {got['content_type']}, {got['body_bytes']} body bytes")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    stem = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{args.scale}-servers"
    stem.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    stem.with_suffix(".md").write_text(table)
    print(f"results: {stem}.md, {stem}.json")


if __name__ == "__main__":
    main()
