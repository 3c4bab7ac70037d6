"""python -m bench.refusal [--root CHECKOUT] [--requests 2000] [--repeat 5]

The CPU one over-limit request costs the application: a free-tier key's catalog request, already over
its limit, through the WSGI application in a fresh process (no HTTP server, no client), with
production settings and JSON logs (written to stderr: redirect it). Prints the lowest and the median
CPU time per request of ``--repeat`` rounds. ``--root`` measures another checkout (run from this one:
``python -m bench.refusal --root ../before 2>/dev/null``). Stable where whole-server runs are not: it
counts this process's CPU, not the wall clock another process can take. Uses a throwaway SQLite file
and a Redis key prefix of its own.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(requests: int, repeat: int) -> list[float]:
    """CPU microseconds per refusal, one figure a round (runs in the served checkout's process)."""
    import django
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", "--no-input", verbosity=0)
    out = io.StringIO()
    call_command("create_company", "Noisy", "--email", "ola@noisy.example.com", "--tier", "free", stdout=out)
    company = json.loads(out.getvalue())["company_id"]
    out = io.StringIO()
    call_command("create_api_key", company, stdout=out)
    key = json.loads(out.getvalue())["api_key"]
    app = get_wsgi_application()

    def call() -> str:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/v2/rewards/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_X_API_KEY": key,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        status: list[str] = []

        def start_response(
            line: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            status.append(line)
            return lambda data: None  # the WSGI write() callable; Django never calls it

        response = app(environ, start_response)
        b"".join(response)
        response.close()
        return status[0]

    for _ in range(100):  # past the free tier's 60 a minute, and every cache warm
        call()
    last = call()
    if not last.startswith("429"):
        sys.exit(f"bench: expected a 429, got {last}")
    rounds = []
    for _ in range(repeat):
        started = time.process_time()
        for _ in range(requests):
            call()
        rounds.append((time.process_time() - started) / requests * 1e6)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--requests", type=int, default=2000, help="refusals a round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.requests, args.repeat)), file=sys.__stdout__)
        return
    root = args.root.resolve()
    subprocess.run([str(ROOT / "scripts" / "ensure-redis")], check=True)
    data = tempfile.mkdtemp(prefix="zupy-bench-refusal-")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="zupy.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-bench-only-secret-key-0123456789",
        DATABASE_URL=f"sqlite:///{data}/db.sqlite3",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-bench-refusal-{os.getpid()}",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(root),
    )
    # This file run as a script (an older checkout may lack it), -P: without its folder on the path,
    # so that the measured checkout's packages are the ones imported.
    child = [sys.executable, "-P", __file__, "--child"]
    child += ["--requests", str(args.requests), "--repeat", str(args.repeat)]
    run = subprocess.run(child, cwd=root, env=env, stdout=subprocess.PIPE, text=True)
    if run.returncode:
        sys.exit(f"bench: the measuring process failed ({run.returncode})")
    rounds = json.loads(run.stdout.strip().splitlines()[-1])
    print(
        f"{root}: CPU per over-limit request {min(rounds):.0f} µs lowest, "
        f"{statistics.median(rounds):.0f} µs median of {args.repeat} x {args.requests}"
    )


if __name__ == "__main__":
    main()
