"""Results: one line per run on the console, then JSON, a Markdown table and a PNG chart."""

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: psycopg is loaded only by the commands that connect
    import psycopg

METHOD = (
    "API/same = API req/s ÷ same-statements tps; API/best = API req/s ÷ best-SQL tps. Both ceilings are "
    "`pgbench -M prepared` at the same client count, run right after the API in this run, each on its own "
    "copy of the same data; tps from an unlogged run, pgbench p99 from a separate logged run. Same "
    "statements: what the endpoint sent (captured from Django), plus one pick query per transaction. "
    "Best SQL: bench/best.py, the same work and guarantees in the fewest round trips. "
    "PgBouncer/direct = req/s through PgBouncer (transaction pooling, no server-side prepared statements) "
    "÷ the direct API's req/s, the same requests run right after it against the same database."
)
COUPON_CHECK = """SELECT count(*) FROM coupons_coupon c
               JOIN (SELECT coupon_id, count(*) AS uses FROM coupons_couponuse GROUP BY coupon_id) u
                 ON u.coupon_id = c.id
               WHERE u.uses > c.total_usages_allowed
                  OR c.remaining_usages <> c.total_usages_allowed - u.uses"""
# customers.selectors.ledger_mismatches in one query, for a database Django is not connected to.
LEDGER_CHECK = """SELECT count(*) FROM customers_customer c
               LEFT JOIN (SELECT customer_id,
                                 sum(amount) FILTER (WHERE currency = 'points') AS points,
                                 sum(amount) FILTER (WHERE currency = 'z') AS z
                            FROM customers_ledgerentry GROUP BY customer_id) l ON l.customer_id = c.id
               WHERE COALESCE(l.points, 0) <> c.points_balance OR COALESCE(l.z, 0) <> c.z_balance"""


def _cell(result: dict | None, key: str, fmt: str) -> str:
    if not result:
        return "-"
    if "error" in result:
        return "**failed**"
    value = result.get(key)
    return "-" if value is None else format(value, fmt)


def line(row: dict) -> str:
    if "error" in row:
        return f"{row['scenario']:<13} c={row['clients']:<3} FAILED: {row['error']}"
    api = row["api"]
    head = f"{row['scenario']:<13} c={row['clients']:<3} "
    if "error" in api:
        head += f"api FAILED: {api['error']} "
    else:
        head += (
            f"api {api['rps']:>7.1f} req/s p50 {api['p50_ms']:>6.2f} p99 {api['p99_ms']:>7.2f} ms "
            f"err {api['errors']:<3} "
        )
    bounced = row.get("pgbouncer")
    if bounced and "error" in bounced:
        head += f"| pgbouncer FAILED: {bounced['error']} "
    elif bounced:
        head += (
            f"| pgbouncer {bounced['rps']:>7.1f} req/s p99 {bounced['p99_ms']:>7.2f} ms "
            f"ratio {row['ratio'].get('pgbouncer')} "
        )
    for kind, result in row.get("servers", {}).items():
        if "error" in result:
            head += f"| {kind} FAILED: {result['error']} "
        else:
            head += (
                f"| {kind} {result['rps']:>7.1f} req/s p50 {result['p50_ms']:>6.2f} "
                f"app {result.get('cpu_ms_per_request', {}).get('app', 0):.2f} ms/req "
            )
    for kind, db in row["ceilings"].items():
        if "error" in db:
            head += f"| {kind} FAILED: {db['error']} "
        else:
            head += f"| {kind} {db['tps']:>7.1f} tps ratio {row['ratio'].get(kind)} "
    cpu = api.get("cpu_ms_per_request")
    if cpu:
        head += f"| CPU ms/req app {cpu['app']:.2f} pg {cpu['postgres']:.2f} "
    return head + f"| {row['statements']} stmts"


def failures(results: list[dict]) -> int:
    """Runs that failed: a scenario that could not be set up, the API run, or a ceiling."""
    count = 0
    for row in results:
        if "error" in row:
            count += 1
            continue
        count += "error" in row["api"]
        count += "error" in row.get("pgbouncer", {})
        count += sum("error" in result for result in row.get("servers", {}).values())
        count += sum("error" in db for db in row["ceilings"].values())
    return count


def post_checks() -> dict:
    """After the runs: no coupon used more often than allowed, and every balance equals its ledger."""
    from django.db import connection

    from customers.selectors import ledger_mismatches

    with connection.cursor() as cursor:
        cursor.execute(COUPON_CHECK)
        overused = cursor.fetchone()[0]
    mismatches = ledger_mismatches()
    return {"coupons_overused_or_miscounted": overused, "ledger_mismatches": len(mismatches)}


def scalar(conn: "psycopg.Connection[Any]", sql: str) -> Any:
    """The one value of a query that always answers one row (a count, a setting)."""
    row = conn.execute(sql).fetchone()
    assert row is not None, sql
    return row[0]


def sql_checks(dsn: str) -> dict:
    """The same checks on the best-SQL copy: its hand-written writes must keep the invariants."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        overused = scalar(conn, COUPON_CHECK)
        mismatches = scalar(conn, LEDGER_CHECK)
    return {"coupons_overused_or_miscounted": overused, "ledger_mismatches": mismatches}


def _run(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr) else ""


def machine() -> dict:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    memory_gib = None
    with contextlib.suppress(OSError, StopIteration, ValueError):
        kib = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory_gib = round(kib / 2**20, 1)
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory_gib,
        "kernel": platform.release(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(dsn: str) -> dict:
    from importlib.metadata import version
    from importlib.util import find_spec

    import django
    import psycopg

    with psycopg.connect(dsn) as conn:
        server = scalar(conn, "SHOW server_version")
    return {
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": server,
        "psycopg": psycopg.__version__,
        "gunicorn": version("gunicorn"),
        "granian": version("granian") if find_spec("granian") else None,
        "pgbench": _run("pgbench", "--version"),
        "wrk": _run("wrk", "-v").split(" Copyright")[0],
    }


def markdown(meta: dict, results: list[dict]) -> str:
    m, v = meta["machine"], meta["versions"]
    primary, others = meta["server"].get("kind", "gunicorn"), meta["server"].get("others", [])
    head = [
        f"Scale **{meta['scale']}**, {meta['date']}.",
        "",
        f"- Machine: {m['cpu'] or 'unknown CPU'}, {m['cpus']} cores, {m['memory_gib']} GiB memory, "
        f"kernel {m['kernel']}; load average at start {m['load_avg_at_start']}. The load generators, "
        "PostgreSQL, Redis and the HTTP server share these cores.",
        f"- Versions: Python {v['python']}, Django {v['django']}, PostgreSQL {v['postgresql']}, "
        f"psycopg {v['psycopg']}, gunicorn {v['gunicorn']}"
        + (f", granian {v['granian']}" if v.get("granian") else "")
        + f", {v['pgbench']}, {v['wrk']}.",
        f"- Server: {primary} {meta['server']['workers']} workers x {meta['server']['threads']} threads"
        + (f" (then {', '.join(others)}, the same shape, on the same requests)" if others else "")
        + ". "
        f"Clients: {', '.join(map(str, meta['clients']))}. Durations: API {meta['duration_s']} s after a "
        f"1 s warm-up; each ceiling {meta['duration_s']} s for tps, then {meta['latency_duration_s']} s "
        "logged for percentiles.",
        f"- Ratios: {METHOD}",
        f"- Checks after the run: API database {meta['checks']['api']}; best-SQL database "
        f"{meta['checks']['best_sql']}.",
        "",
        "| scenario | clients | API req/s | p50 ms | p99 ms | errors | SQL/req | same tps | same p99 ms "
        "| best tps | best p99 ms | best round trips | API/same | API/best |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    errors = []
    for row in results:
        if "error" in row:
            head.append(f"| {row['scenario']} | {row['clients']} | **failed** |" + " |" * 11)
            errors.append(f"- {row['scenario']}, {row['clients']} clients: {row['error']}")
            continue
        api, same, best = row["api"], row["ceilings"].get("same"), row["ceilings"].get("best")
        ratio = row.get("ratio", {})
        head.append(
            f"| {row['scenario']} | {row['clients']} | {_cell(api, 'rps', '.0f')} "
            f"| {_cell(api, 'p50_ms', '.2f')} "
            f"| {_cell(api, 'p99_ms', '.2f')} | {_cell(api, 'errors', 'd')} | {row['statements']} "
            f"| {_cell(same, 'tps', '.0f')} | {_cell(same, 'p99_ms', '.2f')} "
            f"| {_cell(best, 'tps', '.0f')} | {_cell(best, 'p99_ms', '.2f')} "
            f"| {row.get('best_round_trips', '-')} "
            f"| {_cell(ratio, 'same', '.3f')} | {_cell(ratio, 'best', '.3f')} |"
        )
        for name, result in (("API", api), ("same", same), ("best", best)):
            if result and "error" in result:
                errors.append(f"- {row['scenario']}, {row['clients']} clients, {name}: {result['error']}")
    bounced_rows = [row for row in results if row.get("pgbouncer")]
    if bounced_rows:
        pool = meta.get("pgbouncer") or {}
        head += [
            "",
            f"Through PgBouncer ({pool.get('pool_mode', 'transaction')} pooling, "
            f"{pool.get('pool_size', '?')} server connections, DB_PREPARE_THRESHOLD=off), the same "
            "requests right after each direct run:",
            "",
            "| scenario | clients | direct req/s | PgBouncer req/s | p50 ms | p99 ms | errors "
            "| PgBouncer/direct |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in bounced_rows:
            bounced = row["pgbouncer"]
            head.append(
                f"| {row['scenario']} | {row['clients']} | {_cell(row['api'], 'rps', '.0f')} "
                f"| {_cell(bounced, 'rps', '.0f')} | {_cell(bounced, 'p50_ms', '.2f')} "
                f"| {_cell(bounced, 'p99_ms', '.2f')} | {_cell(bounced, 'errors', 'd')} "
                f"| {_cell(row.get('ratio'), 'pgbouncer', '.3f')} |"
            )
            if "error" in bounced:
                errors.append(f"- {row['scenario']}, {row['clients']} clients, PgBouncer: {bounced['error']}")
    if others:
        head += [
            "",
            f"The servers side by side: {primary} (above), then {', '.join(others)} with the same "
            "workers and threads, each right after the other on the same requests and database; their "
            "share of the same-statements ceiling measured in the same row, and app = that server's own "
            "CPU per request (its processes, from /proc):",
            "",
            "| scenario | clients | server | req/s | p50 ms | p99 ms | errors | app CPU ms/req "
            "| /same | / " + primary + " |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in results:
            if "error" in row:
                continue
            ratio = row.get("ratio", {})
            for kind, result in (
                (primary, row["api"]),
                *((k, row.get("servers", {}).get(k, {"error": "not run"})) for k in others),
            ):
                cpu = result.get("cpu_ms_per_request", {})
                mine = "same" if kind == primary else f"{kind}/same"
                versus = "1.000" if kind == primary else _cell(ratio, f"{kind}/{primary}", ".3f")
                head.append(
                    f"| {row['scenario']} | {row['clients']} | {kind} | {_cell(result, 'rps', '.0f')} "
                    f"| {_cell(result, 'p50_ms', '.2f')} | {_cell(result, 'p99_ms', '.2f')} "
                    f"| {_cell(result, 'errors', 'd')} | {cpu.get('app', '-')} "
                    f"| {_cell(ratio, mine, '.3f')} | {versus} |"
                )
                if kind != primary and "error" in result:
                    errors.append(f"- {row['scenario']}, {row['clients']} clients, {kind}: {result['error']}")
    cpu_rows = [row for row in results if row.get("api", {}).get("cpu_ms_per_request")]
    if cpu_rows:
        head += [
            "",
            "CPU per API request by process, milliseconds (user + system over the API run, all threads, "
            "from /proc; wrk from its rusage). With 2 cores, 2000 ms of CPU a second is the whole "
            "machine: req/s ≈ 2000 ÷ the total when the cores are saturated. Idle and stolen: the "
            "machine's share over the same run (/proc/stat; stolen = taken by the hypervisor).",
            "",
            f"| scenario | clients | app ({primary}) | PostgreSQL | Redis | wrk | other | total "
            "| cores idle % | stolen % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in cpu_rows:
            cpu = row["api"]["cpu_ms_per_request"]
            machine = row["api"].get("machine", {})
            head.append(
                f"| {row['scenario']} | {row['clients']} | {cpu['app']:.3f} | {cpu['postgres']:.3f} "
                f"| {cpu['redis']:.3f} | {cpu['wrk']:.3f} | {cpu['other']:.3f} | {sum(cpu.values()):.3f} "
                f"| {machine.get('idle_pct', '-')} | {machine.get('steal_pct', '-')} |"
            )
    if errors:
        head += ["", "Failed runs:", "", *errors]
    return "\n".join(head) + "\n"


def chart(path: Path, meta: dict, results: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart")
        return
    nan = float("nan")

    def value(row: dict[str, Any], *keys: str) -> float:  # a failed run is a gap in its line
        found: Any = row  # a nested dict, then the number at the end of the keys
        for key in keys:
            found = found.get(key) or {}
        return float(found) if isinstance(found, int | float) else nan

    scenarios = sorted({row["scenario"] for row in results}, key=[r["scenario"] for r in results].index)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for scenario in scenarios:
        mine = [r for r in results if r["scenario"] == scenario]
        xs = [r["clients"] for r in mine]
        (line_,) = left.plot(
            xs, [value(r, "api", "rps") for r in mine], marker="o", label=f"{scenario} (API)"
        )
        for kind, style in (("same", "--"), ("best", ":")):
            ys = [value(r, "ceilings", kind, "tps") for r in mine]
            left.plot(xs, ys, linestyle=style, color=line_.get_color(), alpha=0.6)
        right.plot(
            xs, [value(r, "api", "p99_ms") for r in mine], marker="o", color=line_.get_color(), label=scenario
        )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent clients",
        ylabel="requests/s (pgbench: dashed same, dotted best)",
        title=f"Throughput, {meta['scale']} scale",
    )
    right.set(xscale="log", xlabel="concurrent clients", ylabel="p99 latency (ms)", title="API p99 latency")
    for axis in (left, right):
        axis.set_xticks([r["clients"] for r in results if r["scenario"] == scenarios[0]])
        axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.grid(alpha=0.3)
    left.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write(stem: Path, meta: dict, results: list[dict]) -> None:
    stem.with_suffix(".json").write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    stem.with_suffix(".md").write_text(markdown(meta, results))
    chart(stem.with_suffix(".png"), meta, results)


DOCS_START = "<!-- bench-table: generated by python -m bench.report, do not edit by hand -->"
DOCS_END = "<!-- /bench-table -->"


def docs_update(result: Path, docs: Path) -> None:
    """Replace the table between the markers in ``docs`` with the report of the run in ``result``."""
    data = json.loads(result.read_text())
    text = docs.read_text()
    before, start, rest = text.partition(DOCS_START)
    _, end, after = rest.partition(DOCS_END)
    if not (start and end):
        raise SystemExit(f"{docs}: the markers {DOCS_START!r} … {DOCS_END!r} are missing")
    source = result.resolve().relative_to(Path(__file__).resolve().parents[1])
    table = f"From `{source}` (its `.md` holds the same table):\n\n" + markdown(data["meta"], data["results"])
    docs.write_text(before + start + "\n" + table + end + after)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description="Rewrite a run's Markdown and chart from its JSON."
    )
    parser.add_argument("result", type=Path, help="bench/results/<run>.json")
    parser.add_argument("--docs", type=Path, help="also put the table into this file, between its markers")
    args = parser.parse_args()
    data = json.loads(args.result.read_text())
    write(args.result.with_suffix(""), data["meta"], data["results"])
    if args.docs:
        docs_update(args.result, args.docs)


if __name__ == "__main__":
    main()
