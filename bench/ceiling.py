"""PostgreSQL's own ceiling: the same statements and transactions as each endpoint, through pgbench.

The SQL is what Django sent for one request of the scenario, with that request's ids turned into
pgbench variables. Each pgbench transaction first picks its ids from ``bench_pick`` by a random
primary key (one extra indexed lookup the API does not pay: it flatters the ceiling slightly).
"""

import re
import statistics
import subprocess
from pathlib import Path

from bench.scenarios import Row, Scenario, rows
from bench.seed import Seeded

RANDOM_ID = "substr(md5(random()::text), 1, 27)"
RANDOM_CODE = "('CZ-' || upper(substr(md5(random()::text), 1, 8)))"
TIMESTAMP = re.compile(r"'\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?\+00:00'::timestamptz")
KSUID_LITERAL = re.compile(r"'[0-9A-Za-z]{27}'")
CODE_LITERAL = re.compile(r"'CZ-[0-9A-Z]{8}'")


def prepare_pick_table(seeded: Seeded) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT company_id, id FROM zupy_apikey WHERE revoked_at IS NULL")
        key_ids = dict(cursor.fetchall())
        cursor.execute("DROP TABLE IF EXISTS bench_pick")
        cursor.execute(
            "CREATE TABLE bench_pick (n integer PRIMARY KEY, company_id varchar(27), "
            "customer_id varchar(27), coupon_id varchar(27), reward_id varchar(27), api_key_id varchar(27))"
        )
        with cursor.connection.cursor().copy("COPY bench_pick FROM STDIN") as copy:
            for n, row in enumerate(rows(seeded), start=1):
                copy.write_row((n, row.company, row.customer, row.coupon, row.reward, key_ids[row.company]))
        cursor.execute("ANALYZE bench_pick")


def api_key_id(company: str) -> str:
    from zupy.models import ApiKey

    return (
        ApiKey.objects.filter(company_id=company, revoked_at__isnull=True).values_list("id", flat=True).get()
    )


def to_pgbench(sql: list[str], row: Row) -> tuple[str, list[str]]:
    """Turn captured statements into a pgbench script body, and the fresh values it needs.

    Ids and codes the request created become variables (``:new_0``…), so a row inserted by one
    statement is found by the next; the pick query generates them."""
    names = {
        row.company: ":company_id",
        row.customer: ":customer_id",
        row.coupon: ":coupon_id",
        row.reward: ":reward_id",
        api_key_id(row.company): ":api_key_id",
    }
    fresh: dict[str, str] = {}  # literal -> variable
    generators: list[str] = []

    def fresh_var(literal: str, generator: str) -> str:
        if literal not in fresh:
            fresh[literal] = f":new_{len(fresh)}"
            generators.append(f"{generator} AS new_{len(generators)}")
        return fresh[literal]

    out = []
    for statement in sql:
        for value, var in names.items():
            statement = statement.replace(f"'{value}'", var)
        statement = TIMESTAMP.sub("now()", statement)
        statement = KSUID_LITERAL.sub(lambda m: fresh_var(m.group(0), RANDOM_ID), statement)
        statement = CODE_LITERAL.sub(lambda m: fresh_var(m.group(0), RANDOM_CODE), statement)
        statement = re.sub(r"\s+", " ", statement)
        out.append(statement + ";")
    return "\n".join(out), generators


def pgbench_script(scenario: Scenario, sql: list[str], seeded: Seeded, work: Path) -> Path:
    first = scenario.row_for(seeded, rows(seeded)[0])
    pick_count = len(rows(seeded))
    header = [f"\\set n random(1, {pick_count})"]
    body, generators = to_pgbench(sql, first)
    columns = ", ".join(["company_id", "customer_id", "coupon_id", "reward_id", "api_key_id", *generators])
    header.append(f"SELECT {columns} FROM bench_pick WHERE n = :n \\gset")
    if scenario.hot:
        # The hot coupon, whichever row was picked.
        body = body.replace(":coupon_id", f"'{seeded.hot[2]}'").replace(":customer_id", f"'{seeded.hot[1]}'")
        body = body.replace(":company_id", f"'{seeded.hot[0]}'").replace(
            ":api_key_id", f"'{api_key_id(seeded.hot[0])}'"
        )
    path = work / f"{scenario.name}.pgbench"
    path.write_text("\n".join(header) + "\n" + body + "\n")
    return path


def run_pgbench(script: Path, clients: int, duration: int, work: Path, scale: str) -> dict:
    logs = work / "pgbench-logs"
    logs.mkdir(exist_ok=True)
    for old in logs.iterdir():
        old.unlink()
    threads = min(clients, 2)
    run = subprocess.run(
        [
            "pgbench",
            "-n",
            "-M",
            "extended",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-c",
            str(clients),
            "-j",
            str(threads),
            "-T",
            str(duration),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(logs / "tx"),
            f"zupy_bench_{scale}_pg",
        ],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{run.stdout}\n{run.stderr}")
    latencies, failed = [], 0
    for log in logs.iterdir():
        for line in log.read_text().splitlines():
            parts = line.split()
            if parts[2] == "failed" or parts[2] == "skipped":
                failed += 1
                continue
            latencies.append(int(parts[2]) / 1000)
    tps = float(re.search(r"tps = ([\d.]+)", run.stdout).group(1))
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "tps": round(tps, 1),
        "transactions": len(latencies),
        "errors": failed,
        "p50_ms": round(quantiles[49], 3),
        "p95_ms": round(quantiles[94], 3),
        "p99_ms": round(quantiles[98], 3),
    }
