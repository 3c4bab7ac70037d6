"""A noisy neighbour: one tenant's catalog latency, quiet and while 16 threads hammer a free-tier key.

    .venv/bin/python -m bench.neighbour                      # this checkout, gunicorn direct
    .venv/bin/python -m bench.neighbour --nginx              # behind deploy/nginx.conf (compose's lb)
    .venv/bin/python -m bench.neighbour --root ../other-checkout --tag before

Serves the API under gunicorn with production settings (``gunicorn.conf.py``: 2 workers x 4 threads;
PostgreSQL, Redis, JSON logs), seeds a fresh ``zupy_bench_neighbour`` database with the demo company
(its key raised to an unlimited tier: the measured tenant) and a free-tier company (60 a minute: the
noisy one). It measures the demo tenant's ``GET /api/v2/rewards/?customer_id=`` one request at a time
on a keep-alive connection: ``--requests`` quiet, then as many again while another process runs
``--threads`` threads that send the free key's catalog request as fast as they are answered (nearly all
429). It reports both p50/p99, the ratio of the p99s and what the hammer got, and writes
``bench/results/<date>-neighbour[-tag].json`` and ``.md``. Loopback only; a figure, not a test.
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG = "postgres://postgres@127.0.0.1:5432"
DATABASE = "zupy_bench_neighbour"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def server_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="zupy.settings",
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-bench-only-secret-key-0123456789",
        OTP_ALLOW_CONSOLE_SENDER="true",
        DATABASE_URL=f"{PG}/{DATABASE}",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-bench-neighbour-{os.getpid()}",
        RATE_LIMIT_ENTERPRISE=str(10**9),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONPATH=str(root),
    )
    return env


def manage(root: Path, env: dict[str, str], *args: str) -> str:
    run = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True
    )
    if run.returncode:
        sys.exit(f"bench: manage.py {' '.join(args)} failed:\n{run.stderr}")
    return run.stdout


def seed(root: Path, env: dict[str, str]) -> dict[str, str]:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DATABASE}"')
    manage(root, env, "migrate", "--no-input", "-v", "0")
    demo = json.loads(manage(root, env, "seed_demo", "--json"))
    company = demo["company_id"]
    code = "from companies.models import Company; "
    code += f"Company.objects.filter(pk={company!r}).update(rate_tier='enterprise')"
    manage(root, env, "shell", "-c", code)
    noisy = json.loads(
        manage(root, env, "create_company", "Noisy", "--email", "ola@noisy.example.com", "--tier", "free")
    )["company_id"]
    noisy_key = json.loads(manage(root, env, "create_api_key", noisy))["api_key"]
    return {"key": demo["api_key"], "customer_id": demo["customer_id"], "noisy_key": noisy_key}


def wait_ready(url: str) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    sys.exit(f"bench: {url} did not become ready")


def measure(url: str, key: str, count: int, rate: float = 0) -> list[float]:
    """``count`` requests one after another, at most ``rate`` a second (0: as fast as answered); their
    latencies in milliseconds (each must be a 200)."""
    import requests

    latencies = []
    interval = 1 / rate if rate else 0.0
    with requests.Session() as session:
        session.headers["X-API-Key"] = key
        next_start = time.perf_counter()
        for _ in range(count):
            pause = next_start - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            started = time.perf_counter()
            next_start = max(next_start + interval, started)
            response = session.get(url, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                sys.exit(f"bench: the measured tenant got {response.status_code}: {response.text[:300]}")
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def hammer(url: str, key: str, threads: int) -> None:
    """The noisy tenant (``--hammer``): ``threads`` threads until stdin closes; prints the statuses."""
    import requests

    stop = threading.Event()
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def run() -> None:
        with requests.Session() as session:
            session.headers["X-API-Key"] = key
            while not stop.is_set():
                response = session.get(url, timeout=30)
                # nginx's own 429 carries no X-RateLimit-* (those are the application's).
                nginx = response.status_code == 429 and "X-RateLimit-Limit" not in response.headers
                with lock:
                    counts["429 nginx" if nginx else str(response.status_code)] += 1

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    sys.stdin.read()
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    elapsed = time.monotonic() - started
    print(json.dumps({"statuses": dict(counts), "seconds": round(elapsed, 2)}))


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve (default: this one)")
    parser.add_argument("--nginx", action="store_true", help="measure through deploy/nginx.conf")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per phase")
    parser.add_argument("--threads", type=int, default=16, help="the noisy tenant's threads")
    parser.add_argument(
        "--rate",
        type=float,
        default=50,
        help="the measured tenant's requests a second at most (default 50, the enterprise tier's 3000 "
        "a minute, under nginx's per-key ceiling; 0: one after another as fast as answered)",
    )
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--hammer", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hammer:
        url, key = args.hammer
        hammer(url, key, args.threads)
        return
    load_at_start = list(os.getloadavg())
    for script in ("ensure-postgres", "ensure-redis"):
        subprocess.run([str(ROOT / "scripts" / script)], check=True)
    root = args.root.resolve()
    env = server_env(root)
    seeded = seed(root, env)
    from bench.__main__ import free_port

    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="zupy-bench-neighbour-"))
    server = subprocess.Popen(
        [GUNICORN, "zupy.wsgi:application", "--bind", f"127.0.0.1:{port}"],
        cwd=root,
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    proxy = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz")
        base = f"http://127.0.0.1:{port}"
        if args.nginx:
            sys.path.insert(0, str(root))  # the served checkout's deploy/nginx.conf, through its helper
            from tests.e2e.nginx import start_nginx

            proxy, proxy_port = start_nginx(work / "nginx", port)
            base = f"http://127.0.0.1:{proxy_port}"
        catalog = f"{base}/api/v2/rewards/?customer_id={seeded['customer_id']}"
        measure(catalog, seeded["key"], 100)  # warm-up: every worker thread's first requests
        quiet = measure(catalog, seeded["key"], args.requests, args.rate)
        target = [f"{base}/api/v2/rewards/", seeded["noisy_key"]]
        noisy = subprocess.Popen(
            [sys.executable, "-m", "bench.neighbour", "--threads", str(args.threads), "--hammer", *target],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # every hammer thread under way
        loaded = measure(catalog, seeded["key"], args.requests, args.rate)
        out, _ = noisy.communicate("", timeout=120)
        hammered = json.loads(out)
    finally:
        if proxy is not None:
            os.killpg(proxy.pid, signal.SIGTERM)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "root": str(root),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip(),
        "via": "nginx" if args.nginx else "gunicorn",
        "requests_per_phase": args.requests,
        "threads": args.threads,
        "rate": args.rate,
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
        "quiet": summary(quiet),
        "loaded": summary(loaded),
        "hammer": hammered,
    }
    result["p99_ratio"] = round(result["loaded"]["p99_ms"] / result["quiet"]["p99_ms"], 2)
    sent = sum(hammered["statuses"].values())
    result["hammer"]["requests_per_second"] = round(sent / hammered["seconds"], 1)
    line = (
        f"{result['date']}, {result['via']}, commit {result['commit']}: other tenant's catalog p99 "
        f"{result['quiet']['p99_ms']} ms quiet, {result['loaded']['p99_ms']} ms while {args.threads} threads "
        f"hammered a free key (p50 {result['quiet']['p50_ms']} -> {result['loaded']['p50_ms']} ms): x"
        f"{result['p99_ratio']}. The hammer sent {sent} requests in {hammered['seconds']} s "
        f"({result['hammer']['requests_per_second']}/s), statuses {hammered['statuses']}. Load average "
        f"{' '.join(f'{x:.2f}' for x in load_at_start)} at the start, "
        f"{' '.join(f'{x:.2f}' for x in result['load_average_at_end'])} at the end."
    )
    print(line)
    RESULTS.mkdir(exist_ok=True)
    name = f"{result['date'][:10]}-neighbour" + (f"-{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(line + "\n")


if __name__ == "__main__":
    main()
