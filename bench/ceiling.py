"""PostgreSQL's own ceiling, through ``pgbench -M prepared``: what each endpoint sends, and the best SQL.

Same statements: the SQL Django sent for one request of the scenario, with that request's ids turned
into pgbench variables. Each pgbench transaction first picks its ids from ``bench_pick`` by a random
primary key (one extra round trip and indexed lookup the API does not pay: it lowers this ceiling a
little, which flatters the API's share). Best SQL: ``bench/best.py``.

Both run prepared (parsed and planned once per connection), as a well-configured client would.
Throughput comes from a run without per-transaction logging; latency percentiles from a separate,
logged run (``-l`` costs pgbench time per transaction and would lower the throughput it reports).
"""

import re
import statistics
import subprocess
from pathlib import Path

from bench.scenarios import Row, Scenario, rows
from bench.seed import Seeded
from coupons.models import CODE_ALPHABET

RANDOM_ID = "substr(md5(random()::text), 1, 27)"
# A fresh coupon code per transaction that cannot collide: a database sequence (never hands out a
# value twice, even across runs on one database) written in the coupon alphabet behind a "0", which
# the alphabet lacks, so no seeded or API-issued code can be equal to it. 31^7 codes per database.
RANDOM_CODE = "bench_code(nextval('bench_code_seq'))"
CODE_MARK = "0"
assert CODE_MARK not in CODE_ALPHABET
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


def prepare_database(dsn: str) -> None:
    """What the ceiling scripts need in a pgbench database: the code sequence and its encoder."""
    import psycopg

    digits = " || ".join(
        f"substr('{CODE_ALPHABET}', ((n / {len(CODE_ALPHABET) ** k}) % {len(CODE_ALPHABET)})::int + 1, 1)"
        for k in reversed(range(7))
    )
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE IF NOT EXISTS bench_code_seq")
        conn.execute(
            "CREATE OR REPLACE FUNCTION bench_code(n bigint) RETURNS varchar LANGUAGE sql IMMUTABLE "
            f"RETURN 'CZ-{CODE_MARK}' || {digits}"
        )


def api_key_id(company: str) -> str:
    from companies.models import ApiKey

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


def pgbench_script(scenario: Scenario, sql: list[str], seeded: Seeded) -> str:
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
    return "\n".join(header) + "\n" + body + "\n"


def pgbench(script: Path, database: str, clients: int, duration: int, extra: list[str]) -> str:
    """Run pgbench; its output, or RuntimeError with what it said (an aborted client included)."""
    command = [
        "pgbench", "-n", "-M", "prepared", "-h", "127.0.0.1", "-U", "postgres",
        "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(duration), "-f", str(script),
        *extra, database,
    ]  # fmt: skip
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=duration + 120)
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"pgbench did not finish within {duration + 120} s") from error
    failed = re.search(r"number of failed transactions: (\d+)", run.stdout)
    if run.returncode != 0 or (failed and int(failed.group(1))):
        said = [
            line for line in run.stderr.splitlines() if "error" in line.lower()
        ] or run.stderr.splitlines()
        raise RuntimeError(f"pgbench exited {run.returncode}: " + " | ".join(said[:3]).strip())
    return run.stdout


def _said(pattern: str, out: str) -> str:
    """The number pgbench printed after ``pattern``'s text."""
    found = re.search(pattern, out)
    if found is None:
        raise RuntimeError(f"pgbench printed no {pattern!r}: {out[-500:]}")
    return found.group(1)


def run_pgbench(script: Path, database: str, clients: int, duration: int, latency_s: int, work: Path) -> dict:
    """Throughput from an unlogged run; p50/p95/p99 from a separate logged run of ``latency_s``."""
    checkpoint()
    out = pgbench(script, database, clients, duration, [])
    result = {
        "tps": round(float(_said(r"tps = ([\d.]+)", out)), 1),
        "transactions": int(_said(r"actually processed: (\d+)", out)),
        "latency_avg_ms": float(_said(r"latency average = ([\d.]+) ms", out)),
    }
    if latency_s <= 0:
        return result
    logs = work / "pgbench-logs"
    logs.mkdir(exist_ok=True)
    for old in logs.iterdir():
        old.unlink()
    out = pgbench(script, database, clients, latency_s, ["-l", "--log-prefix", str(logs / "tx")])
    result["latency_run_transactions"] = int(_said(r"actually processed: (\d+)", out))
    latencies = [
        int(parts[2]) / 1000
        for log in logs.iterdir()
        for parts in (line.split() for line in log.read_text().splitlines())
        if parts[2] not in ("failed", "skipped")
    ]
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    result.update(
        p50_ms=round(quantiles[49], 3), p95_ms=round(quantiles[94], 3), p99_ms=round(quantiles[98], 3)
    )
    return result


def checkpoint() -> None:
    """Write out what earlier runs left dirty before a measured run starts, so that no run pays for
    its predecessor's checkpoint (the API's runs and each ceiling alike)."""
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute("CHECKPOINT")
