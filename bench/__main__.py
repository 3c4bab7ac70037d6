"""python -m bench — the API under gunicorn against PostgreSQL's own ceiling.

    python -m bench                       # small scale, 1/8/32 clients, 10 s a run
    python -m bench --scale large         # 100k customers, 1M coupons (seeding takes a few minutes)
    python -m bench --scale both --duration 20

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (scripts/ensure-postgres,
scripts/ensure-redis), wrk (installed from Debian's packages when missing and root) and pgbench.
Writes bench/results/<date>-<scale>.json, .md and .png.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG = "postgres://postgres@127.0.0.1:5432"


def django_env(scale: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "zupy.settings",
        "DEBUG": "false",
        "OTP_ALLOW_CONSOLE_SENDER": "true",  # no OTP is sent; without it DEBUG=false refuses to start
        "SECRET_KEY": "bench-only-secret-key-bench-only-secret-key-0123456789",
        "DATABASE_URL": f"{PG}/zupy_bench_{scale}",
        "CACHE_URL": f"redis://127.0.0.1:6379/0?key_prefix=zupy-bench-{scale}",
        "RATE_LIMIT_ENTERPRISE": str(10**9),
        "LOG_LEVEL": "INFO",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        # This process seeds and clones the database: no pooled connections may linger. The server
        # it starts gets the pool back (its own environment below).
        "DB_POOL": "false",
    }


def ensure_tools() -> None:
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk from Debian's packages")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    for tool in ("wrk", "pgbench"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is required")
    for script in ("ensure-postgres", "ensure-redis"):
        subprocess.run([str(ROOT / "scripts" / script)], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=["small", "large", "both"], default="small")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--reseed", action="store_true", help="drop and seed the bench database again")
    # gunicorn.conf.py's production defaults: 2 workers x 4 threads.
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "4")))
    parser.add_argument("--scenarios", default="", help="comma-separated subset")
    parser.add_argument("--tag", default="", help="added to the result file names")
    args = parser.parse_args()
    ensure_tools()
    clients = [int(c) for c in args.clients.split(",")]
    scales = ["small", "large"] if args.scale == "both" else [args.scale]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for scale in scales:
        run_scale(scale, clients, args)


def run_scale(scale: str, clients: list[int], args: argparse.Namespace) -> None:
    os.environ.update(django_env(scale))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import ceiling, report, scenarios
    from bench.seed import Seeded, seed

    state = RESULTS / f".state-{scale}.json"
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [f"zupy_bench_{scale}"]
        ).fetchone()
        if args.reseed or not exists or not state.exists():
            admin.execute(f'DROP DATABASE IF EXISTS "zupy_bench_{scale}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "zupy_bench_{scale}"')
            exists = None
    call_command("migrate", "--no-input", verbosity=0)  # an existing bench database follows new migrations
    if not exists:
        seeded = seed(scale)
        seeded.save(state)
    else:
        seeded = Seeded.load(state)
    chosen = [s for s in scenarios.SCENARIOS if not args.scenarios or s.name in args.scenarios.split(",")]
    work = Path(tempfile.mkdtemp(prefix=f"zupy-bench-{scale}-"))
    ceiling.prepare_pick_table(seeded)
    connections.close_all()
    # pgbench replays the API's statements, literal values included, so it writes rows that would
    # confuse the checks on the API's own writes: it gets a copy of the same data.
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "zupy_bench_{scale}_pg" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "zupy_bench_{scale}_pg" TEMPLATE "zupy_bench_{scale}"')
    sql = {s.name: scenarios.capture_sql(s, seeded) for s in chosen}
    connections.close_all()

    port = free_port()
    env = {
        **os.environ,
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
    }
    log = (work / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "zupy.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results = []
    try:
        wait_ready(port)
        for scenario in chosen:
            requests_file = work / f"{scenario.name}.tsv"
            scenario.write_requests(seeded, requests_file)
            script = ceiling.pgbench_script(scenario, sql[scenario.name], seeded, work)
            for count in clients:
                run_wrk(port, requests_file, count, 1, work)  # warm up: workers, pools, caches
                api = run_wrk(port, requests_file, count, args.duration, work)
                db = ceiling.run_pgbench(script, count, args.duration, work, scale)
                row = {
                    "scenario": scenario.name,
                    "clients": count,
                    "api": api,
                    "ceiling": db,
                    "statements": scenarios.statement_count(sql[scenario.name]),
                    "ratio": round(api["rps"] / db["tps"], 3) if db["tps"] else None,
                }
                print(report.line(row), flush=True)
                results.append(row)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    checks = report.post_checks()
    meta = {
        "scale": scale,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "server": {"workers": args.workers, "threads": args.threads},
        "duration_s": args.duration,
        "sql": sql,
        "checks": checks,
    }
    stem = RESULTS / f"{datetime.now(UTC):%Y-%m-%d}-{scale}{'-' + args.tag if args.tag else ''}"
    report.write(stem, meta, results)
    print(f"results: {stem}.json, {stem}.md, {stem}.png; checks: {checks}")


def wait_ready(port: int) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("bench: the server did not become ready")


def run_wrk(port: int, requests_file: Path, clients: int, duration: int, work: Path) -> dict:
    out = work / "wrk.json"
    threads = min(clients, 2)
    env = {**os.environ, "WRK_REQUESTS": str(requests_file), "WRK_OUT": str(out)}
    subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "wrk.lua"),
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    data = json.loads(out.read_text())
    seconds = data["duration_us"] / 1e6
    return {
        "rps": round(data["requests"] / seconds, 1),
        "requests": data["requests"],
        "errors": data["status_errors"] + data["socket_errors"],
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
    }


if __name__ == "__main__":
    main()
