"""Container health probe, stdlib only (no Django start-up every few seconds):
``python -m core.probe /readyz`` exits 0 when gunicorn's own address answers that path with 200."""

import os
import sys
import urllib.request


def local_url(path: str) -> str:
    """The address gunicorn.conf.py binds (GUNICORN_BIND), seen from inside the container."""
    host, _, port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):  # noqa: S104 (a wildcard bind is reached on loopback)
        host = "127.0.0.1"
    return f"http://{host}:{port}{path}"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    try:
        with urllib.request.urlopen(local_url(path), timeout=2) as response:  # noqa: S310 (loopback)
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"probe {path}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
