"""python -m bench — the API under gunicorn against PostgreSQL's own ceilings.

    python -m bench                        # small scale, 1/8/32 clients, 10 s a run
    python -m bench --scale large          # 100k customers, 1M coupons (the committed runs)
    python -m bench --duration 3 --clients 1,8 --scenarios validate,redeem   # a quick look

For each scenario and client count: wrk drives the API (throughput, p50/p95/p99, errors); then
pgbench -M prepared runs two ceilings on copies of the same data: "same" replays the statements the
endpoint sent (captured from Django), "best" runs the hand-written fewest-round-trip SQL of
bench/best.py. Each ceiling's tps comes from an unlogged run; its latency percentiles from a
separate logged run (--latency-duration). The ratio API req/s / ceiling tps is reported against
both. A failing run is reported as failed, with pgbench's or wrk's error, and the others go on;
the command then exits 1.

Each API run is followed by the same run through a PgBouncer of the bench's own (transaction pooling,
DB_POOLER_MODE=transaction, so DB_PREPARE_THRESHOLD=off) in front of the same database, served by a
second gunicorn of the same shape: "PgBouncer/direct" is that req/s ÷ the direct run's (--no-pgbouncer
skips it; --pgbouncer-pool sets its server connections).

Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (scripts/ensure-postgres,
scripts/ensure-redis), wrk (installed from Debian's packages when missing and root) and pgbench.
Writes bench/results/<date>-<scale>[-<tag>].json, .md and .png; `python -m bench.report FILE.json
--docs docs/benchmark.md` puts that run's table into the docs.
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: psycopg is loaded only by the commands that connect
    import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG = "postgres://postgres@127.0.0.1:5432"
SCENARIO_NAMES = ["catalog", "coupon_list", "redeem", "validate", "validate_hot", "points_add"]


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
    for script in ("ensure-postgres", "ensure-redis", "ensure-pgbouncer"):
        subprocess.run([str(ROOT / "scripts" / script)], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Develop with e.g. --duration 3 --clients 1,8; the committed runs use --scale large.",
    )
    parser.add_argument(
        "--scale",
        choices=["small", "large", "both"],
        default="small",
        help="small: 1k customers, 10k coupons; large: 100k customers, 1M coupons (default: small)",
    )
    parser.add_argument(
        "--clients", default="1,8,32", help="concurrent clients, comma-separated (default: 1,8,32)"
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=10,
        help="seconds of each throughput run, API and ceilings (default: 10)",
    )
    parser.add_argument(
        "--latency-duration",
        type=int,
        default=None,
        help="seconds of each ceiling's separate logged run for p50/p95/p99 (default: half of --duration, "
        "at least 2; 0 skips it)",
    )
    parser.add_argument("--reseed", action="store_true", help="drop and seed the bench database again")
    # gunicorn.conf.py's production defaults: 2 workers x 4 threads.
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "2")),
        help="gunicorn workers (default: $WEB_CONCURRENCY or 2)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("GUNICORN_THREADS", "4")),
        help="threads per gunicorn worker (default: $GUNICORN_THREADS or 4)",
    )
    parser.add_argument(
        "--scenarios",
        default="",
        help="comma-separated subset of: " + ", ".join(SCENARIO_NAMES) + " (default: all)",
    )
    parser.add_argument("--tag", default="", help="added to the result file names")
    parser.add_argument(
        "--servers",
        default="gunicorn",
        help="HTTP servers, comma-separated, of: " + ", ".join(SERVERS) + ". The first is the API of the "
        "ratios and the PgBouncer runs; each other one serves the same requests right after it, with the "
        "same workers and threads (default: gunicorn)",
    )
    parser.add_argument(
        "--no-pgbouncer",
        dest="pgbouncer",
        action="store_false",
        help="skip the runs through PgBouncer (transaction pooling) that follow each direct API run",
    )
    parser.add_argument(
        "--pgbouncer-pool",
        type=int,
        default=8,
        help="PgBouncer's server connections (default_pool_size) in those runs (default: 8)",
    )
    args = parser.parse_args()
    if args.latency_duration is None:
        args.latency_duration = max(2, args.duration // 2)
    args.servers = args.servers.split(",")
    if set(args.servers) - set(SERVERS) or len(set(args.servers)) != len(args.servers):
        parser.error(f"--servers: a list of distinct names from {', '.join(SERVERS)}")
    unknown = set(filter(None, args.scenarios.split(","))) - set(SCENARIO_NAMES)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    ensure_tools()
    clients = [int(c) for c in args.clients.split(",")]
    scales = ["small", "large"] if args.scale == "both" else [args.scale]
    RESULTS.mkdir(parents=True, exist_ok=True)
    failed = sum(run_scale(scale, clients, args) for scale in scales)
    if failed:
        sys.exit(f"bench: {failed} run(s) failed; see the report")


def clone(admin: "psycopg.Connection[Any]", source: str, target: str) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def run_scale(scale: str, clients: list[int], args: argparse.Namespace) -> int:
    """Seed (or reuse) the scale's data, run every chosen scenario, write the report; count failures."""
    os.environ.update(django_env(scale))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from bench import best, ceiling, report, scenarios
    from bench.seed import Seeded, seed

    state = RESULTS / f".state-{scale}.json"
    import psycopg

    main_db = f"zupy_bench_{scale}"
    # pgbench replays the API's statements, literal values included (balances too), so it writes rows
    # that would confuse the checks on the API's own writes: each ceiling gets a copy of the same data.
    # The best-SQL copy is checked afterwards like the API's database: its SQL must keep the invariants.
    pg_db = {"same": f"{main_db}_pg", "best": f"{main_db}_best"}
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [main_db]).fetchone()
        if args.reseed or not exists or not state.exists():
            admin.execute(f'DROP DATABASE IF EXISTS "{main_db}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{main_db}"')
            exists = None
    call_command("migrate", "--no-input", verbosity=0)  # an existing bench database follows new migrations
    if not exists:
        seeded = seed(scale)
        seeded.save(state)
    else:
        seeded = Seeded.load(state)
    assert [s.name for s in scenarios.SCENARIOS] == SCENARIO_NAMES, "keep SCENARIO_NAMES in step"
    chosen = [s for s in scenarios.SCENARIOS if not args.scenarios or s.name in args.scenarios.split(",")]
    work = Path(tempfile.mkdtemp(prefix=f"zupy-bench-{scale}-"))
    ceiling.prepare_pick_table(seeded)
    connections.close_all()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        for database in pg_db.values():
            clone(admin, main_db, database)
    for database in pg_db.values():
        ceiling.prepare_database(f"{PG}/{database}")

    # Scripts for both ceilings; a scenario that cannot be captured or scripted is reported as failed.
    sql: dict[str, list[str]] = {}
    best_sql: dict[str, list[str]] = {}
    scripts: dict[tuple[str, str], Path] = {}
    broken: dict[str, str] = {}
    pick_count = len(scenarios.rows(seeded))
    for scenario in chosen:
        try:
            sql[scenario.name] = scenarios.capture_sql(scenario, seeded)
            path = work / f"{scenario.name}.same.pgbench"
            path.write_text(ceiling.pgbench_script(scenario, sql[scenario.name], seeded))
            scripts[scenario.name, "same"] = path
            first = scenario.row_for(seeded, scenarios.rows(seeded)[0])
            key_id = ceiling.api_key_id(first.company)
            hand = best.statements(scenario, seeded, key_id)
            if hand is not None:
                best_sql[scenario.name] = hand
                path = work / f"{scenario.name}.best.pgbench"
                path.write_text(best.pgbench_script(scenario, seeded, key_id, pick_count))
                scripts[scenario.name, "best"] = path
        except Exception as error:  # report it, run the others
            broken[scenario.name] = f"{type(error).__name__}: {error}"
    connections.close_all()

    env = {
        **os.environ,
        "WEB_CONCURRENCY": str(args.workers),
        "GUNICORN_THREADS": str(args.threads),
        "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics"),
    }
    (work / "metrics").mkdir()  # gunicorn makes it at start; granian does not
    primary, *others = args.servers
    server, port = start_server(env, work / f"{primary}.log", primary)
    alternates: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    bouncer = bounced = None
    bounced_port = 0
    results = []
    try:
        wait_ready(port)
        if args.pgbouncer:
            from tests.pgcluster import PgBouncer

            bouncer = PgBouncer(
                work / "pgbouncer", server_port=5432, pool_mode="transaction", pool_size=args.pgbouncer_pool
            )
            bounced_env = {
                **env,
                "DATABASE_URL": bouncer.url(main_db),
                "DB_POOLER_MODE": "transaction",
                "DB_PREPARE_THRESHOLD": "off",
                "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics-pgbouncer"),
            }
            bounced, bounced_port = start_server(bounced_env, work / f"{primary}-pgbouncer.log", primary)
            wait_ready(bounced_port)
        for kind in others:
            alt_env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(work / f"metrics-{kind}")}
            Path(alt_env["PROMETHEUS_MULTIPROC_DIR"]).mkdir()
            alternates[kind] = start_server(alt_env, work / f"{kind}.log", kind)
            wait_ready(alternates[kind][1])
        for scenario in chosen:
            requests_file = work / f"{scenario.name}.tsv"
            scenario.write_requests(seeded, requests_file)
            for count in clients:
                row: dict[str, Any] = {"scenario": scenario.name, "clients": count}
                if scenario.name in broken:
                    row["error"] = broken[scenario.name]
                    print(report.line(row), flush=True)
                    results.append(row)
                    continue
                row["api"] = measured_run(server, port, requests_file, count, args, work)
                if bounced is not None:
                    try:
                        run_wrk(bounced_port, requests_file, count, 1, work)
                        ceiling.checkpoint()
                        row["pgbouncer"] = run_wrk(bounced_port, requests_file, count, args.duration, work)
                        row["pgbouncer"].pop("wrk_cpu_s", None)
                    except Exception as error:
                        row["pgbouncer"] = {"error": f"wrk: {error}"}
                for kind, (alt, alt_port) in alternates.items():
                    row.setdefault("servers", {})[kind] = measured_run(
                        alt, alt_port, requests_file, count, args, work
                    )
                row["statements"] = scenarios.statement_count(sql[scenario.name])
                row["ceilings"] = {}
                for kind in ("same", "best"):
                    if (scenario.name, kind) not in scripts:
                        continue
                    written = best.WRITES.get(scenario.name) if kind == "best" else None
                    try:
                        before = count_rows(pg_db[kind], written) if written else 0
                        result = ceiling.run_pgbench(
                            scripts[scenario.name, kind], pg_db[kind], count, args.duration,
                            args.latency_duration, work,
                        )  # fmt: skip
                        if written:
                            done = count_rows(pg_db[kind], written) - before
                            expected = result["transactions"] + result.get("latency_run_transactions", 0)
                            if done != expected:
                                raise RuntimeError(
                                    f"{expected} transactions but {done} new rows in {written}: "
                                    "some did no work (a refusal path), so the tps is not the work's"
                                )
                        row["ceilings"][kind] = result
                    except RuntimeError as error:
                        row["ceilings"][kind] = {"error": str(error)}
                if scenario.name in best_sql:
                    row["best_round_trips"] = best.round_trips(best_sql[scenario.name])
                row["ratio"] = {
                    kind: round(row["api"]["rps"] / db["tps"], 3)
                    for kind, db in row["ceilings"].items()
                    if "rps" in row["api"] and db.get("tps")
                }
                for kind, result in row.get("servers", {}).items():
                    if "rps" in result and row["ceilings"].get("same", {}).get("tps"):
                        row["ratio"][f"{kind}/same"] = round(
                            result["rps"] / row["ceilings"]["same"]["tps"], 3
                        )
                    if "rps" in result and row["api"].get("rps"):
                        row["ratio"][f"{kind}/{primary}"] = round(result["rps"] / row["api"]["rps"], 3)
                if row["api"].get("rps") and row.get("pgbouncer", {}).get("rps"):
                    row["ratio"]["pgbouncer"] = round(row["pgbouncer"]["rps"] / row["api"]["rps"], 3)
                print(report.line(row), flush=True)
                results.append(row)
    finally:
        for process in (server, bounced, *(alt for alt, _ in alternates.values())):
            if process is not None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        if bouncer is not None:
            bouncer.stop()
    checks = {"api": report.post_checks(), "best_sql": report.sql_checks(f"{PG}/{pg_db['best']}")}
    meta = {
        "scale": scale,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "versions": report.versions(f"{PG}/{main_db}"),
        "server": {"workers": args.workers, "threads": args.threads, "kind": primary, "others": others},
        "pgbouncer": {"pool_mode": "transaction", "pool_size": args.pgbouncer_pool}
        if args.pgbouncer
        else None,
        "clients": clients,
        "duration_s": args.duration,
        "latency_duration_s": args.latency_duration,
        "sql": sql,
        "best_sql": best_sql,
        "checks": checks,
    }
    now = datetime.now(UTC)
    stem = RESULTS / f"{now:%Y-%m-%d}-{scale}{'-' + args.tag if args.tag else ''}"
    if stem.with_suffix(".json").exists():  # never overwrite a run the docs may quote
        stem = stem.with_name(f"{stem.name}-{now:%H%M%S}")
    report.write(stem, meta, results)
    failed = report.failures(results)
    print(f"results: {stem}.json, {stem}.md, {stem}.png; checks: {checks}; failed runs: {failed}")
    return failed


SERVERS = ("gunicorn", "granian")


def server_command(kind: str, port: int, workers: int, threads: int) -> list[str]:
    """The command line that serves the API with ``kind`` on ``port``, at ``workers`` x ``threads``."""
    binary = str(Path(sys.executable).with_name(kind))
    if kind == "gunicorn":  # workers and threads from the environment (WEB_CONCURRENCY, GUNICORN_THREADS)
        return [binary, "zupy.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    return [
        binary, "--interface", "wsgi", "--http", "1", "--no-ws", "--log-level", "warning",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--blocking-threads", str(threads), "zupy.wsgi:application",
    ]  # fmt: skip


def start_server(
    env: dict[str, str], log: Path, kind: str = "gunicorn"
) -> tuple[subprocess.Popen[bytes], int]:
    """The API served by ``kind`` with ``env`` on a free port, its output in ``log``: (process, port)."""
    port = free_port()
    server = subprocess.Popen(
        server_command(kind, port, int(env["WEB_CONCURRENCY"]), int(env["GUNICORN_THREADS"])),
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return server, port


def measured_run(
    server: subprocess.Popen[bytes],
    port: int,
    requests_file: Path,
    clients: int,
    args: argparse.Namespace,
    work: Path,
) -> dict[str, Any]:
    """One API run against ``server``: a one-second warm-up (workers, pools, caches), a CHECKPOINT, then
    wrk for --duration, with the CPU each request cost by process and the machine's idle share."""
    from bench import ceiling

    try:
        run_wrk(port, requests_file, clients, 1, work)
        ceiling.checkpoint()
        cpu_before, machine_before = cpu_by_process(server.pid), machine_ticks()
        result = run_wrk(port, requests_file, clients, args.duration, work)
        result["cpu_ms_per_request"] = cpu_per_request(cpu_before, cpu_by_process(server.pid), result)
        result["machine"] = machine_shares(machine_before, machine_ticks())
    except Exception as error:
        return {"error": f"wrk: {error}"}
    return result


def count_rows(database: str, table: str) -> int:
    import psycopg

    from bench import report

    with psycopg.connect(f"{PG}/{database}") as conn:
        return int(report.scalar(conn, f"SELECT count(*) FROM {table}"))


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


# --- Where the cores went during an API run -----------------------------------------------------------
CPU_GROUPS = ("app", "postgres", "redis", "wrk", "other")


def cpu_by_process(server_sid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system, all threads) used so far by each process, with its group: the
    gunicorn master and workers (the server's session), PostgreSQL's processes, Redis, anything else."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        session, utime, stime = int(fields[3]), int(fields[11]), int(fields[12])
        if session == server_sid:
            group = "app"
        elif comm in ("postgres", "postmaster"):
            group = "postgres"
        elif comm.startswith("redis"):
            group = "redis"
        elif comm == "wrk":
            group = "wrk"
        else:
            group = "other"
        found[int(entry.name)] = (group, (utime + stime) / ticks)
    return found


def machine_ticks() -> list[int]:
    """The machine's CPU counters (/proc/stat: user nice system idle iowait irq softirq steal ...)."""
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]


def machine_shares(before: list[int], after: list[int]) -> dict[str, float]:
    """Over one run, the share of the machine's cores left idle and taken by the hypervisor (steal):
    a run whose processes did not fill the cores says why here."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return {
        "idle_pct": round(100 * (delta[3] + delta[4]) / total, 1),
        "steal_pct": round(100 * delta[7] / total, 1),
    }


def cpu_per_request(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], api: dict
) -> dict[str, float]:
    """CPU milliseconds per API request by group over one wrk run (wrk itself from its rusage)."""
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (group, seconds) in after.items():
        used[group] += seconds - before.get(pid, (group, 0.0))[1]
    used["wrk"] += api.pop("wrk_cpu_s", 0.0)
    requests = max(api["requests"], 1)
    return {group: round(seconds * 1000 / requests, 3) for group, seconds in used.items()}


def run_wrk(port: int, requests_file: Path, clients: int, duration: int, work: Path) -> dict:
    out = work / "wrk.json"
    threads = min(clients, 2)
    env = {**os.environ, "WRK_REQUESTS": str(requests_file), "WRK_OUT": str(out)}
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
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
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = done.ru_utime + done.ru_stime - children.ru_utime - children.ru_stime
    data = json.loads(out.read_text())
    seconds = data["duration_us"] / 1e6
    return {
        "rps": round(data["requests"] / seconds, 1),
        "requests": data["requests"],
        "errors": data["status_errors"] + data["socket_errors"],
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "wrk_cpu_s": round(wrk_cpu, 3),
    }


if __name__ == "__main__":
    main()
