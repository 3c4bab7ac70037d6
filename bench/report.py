"""Results: one line per run on the console, then JSON, a Markdown table and a PNG chart."""

import contextlib
import json
import os
import platform
import subprocess
from pathlib import Path


def line(row: dict) -> str:
    api, db = row["api"], row["ceiling"]
    return (
        f"{row['scenario']:<13} c={row['clients']:<3} api {api['rps']:>8.1f} req/s "
        f"p50 {api['p50_ms']:>7.2f} p99 {api['p99_ms']:>7.2f} ms err {api['errors']:<4} "
        f"| pg {db['tps']:>8.1f} tps p99 {db['p99_ms']:>6.2f} ms "
        f"| ratio {row['ratio']} | {row['statements']} stmts"
    )


def post_checks() -> dict:
    """After the runs: no coupon used more often than allowed, and every balance equals its ledger."""
    from django.db import connection

    from customers.selectors import ledger_mismatches

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FROM coupons_coupon c
               JOIN (SELECT coupon_id, count(*) AS uses FROM coupons_couponuse GROUP BY coupon_id) u
                 ON u.coupon_id = c.id
               WHERE u.uses > c.total_usages_allowed
                  OR c.remaining_usages <> c.total_usages_allowed - u.uses"""
        )
        overused = cursor.fetchone()[0]
    mismatches = ledger_mismatches()
    return {"coupons_overused_or_miscounted": overused, "ledger_mismatches": len(mismatches)}


def machine() -> dict:
    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    pg = subprocess.run(["pgbench", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "pgbench": pg,
        "kernel": platform.release(),
    }


def markdown(meta: dict, results: list[dict]) -> str:
    head = [
        f"Scale **{meta['scale']}**, {meta['date']}, "
        f"{meta['machine']['cpus']} CPUs ({meta['machine']['cpu']}), "
        f"gunicorn {meta['server']['workers']} workers x {meta['server']['threads']} threads, "
        f"{meta['duration_s']} s per run. Checks: {meta['checks']}.",
        "",
        "| scenario | clients | API req/s | p50 ms | p95 ms | p99 ms | errors | SQL/req "
        "| pgbench tps | pg p99 ms | API/ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        api, db = row["api"], row["ceiling"]
        head.append(
            f"| {row['scenario']} | {row['clients']} | {api['rps']:.0f} | {api['p50_ms']:.2f} "
            f"| {api['p95_ms']:.2f} | {api['p99_ms']:.2f} | {api['errors']} | {row['statements']} "
            f"| {db['tps']:.0f} | {db['p99_ms']:.2f} | {row['ratio']:.2f} |"
        )
    return "\n".join(head) + "\n"


def chart(path: Path, meta: dict, results: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no chart")
        return
    scenarios = sorted({row["scenario"] for row in results}, key=[r["scenario"] for r in results].index)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for scenario in scenarios:
        mine = [r for r in results if r["scenario"] == scenario]
        xs = [r["clients"] for r in mine]
        (line_,) = left.plot(xs, [r["api"]["rps"] for r in mine], marker="o", label=f"{scenario} (API)")
        left.plot(xs, [r["ceiling"]["tps"] for r in mine], linestyle="--", color=line_.get_color(), alpha=0.6)
        right.plot(
            xs, [r["api"]["p99_ms"] for r in mine], marker="o", color=line_.get_color(), label=scenario
        )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="concurrent clients",
        ylabel="requests/s (dashed: pgbench)",
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
