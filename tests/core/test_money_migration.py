"""The migrations that turn decimal Z$ into integer micro-units, run with ``manage.py migrate`` on a
database holding decimals as the previous schema stored them, on SQLite and on PostgreSQL: every
value is scaled exactly, the ledger still adds up, and migrating back restores the decimals."""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.e2e.servers import ROOT

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

INSERT = """
import json
from decimal import Decimal
from django.db import connection
from django.utils import timezone
now = timezone.now()
company = json.loads('''{company}''')["company_id"]
with connection.cursor() as c:
    c.execute(
        "INSERT INTO customers_customer (id, company_id, full_name, tier, points_balance, points_earned,"
        " points_spent, z_balance, is_active, created_at, updated_at)"
        " VALUES ('cust', %s, 'Old', 'default', 450, 450, 0, %s, %s, %s, %s)",
        [company, Decimal("1105.6"), True, now, now],
    )
    for n, (currency, amount, before, after) in enumerate([
        ("points", "450", "0", "450"), ("z", "1150", "0", "1150"), ("z", "-44.4", "1150", "1105.6"),
    ]):
        c.execute(
            "INSERT INTO customers_ledgerentry (id, company_id, customer_id, currency, kind, amount,"
            " balance_before, balance_after, reason, created_at) VALUES (%s, %s, 'cust', %s, 'adjust',"
            " %s, %s, %s, '', %s)",
            [f"entry{{n}}", company, currency, Decimal(amount), Decimal(before), Decimal(after), now],
        )
"""

READ = """
import json
from django.db import connection
with connection.cursor() as c:
    c.execute("SELECT z_balance FROM customers_customer WHERE id = 'cust'")
    z = c.fetchone()[0]
    c.execute("SELECT currency, amount, balance_before, balance_after FROM customers_ledgerentry ORDER BY id")
    rows = c.fetchall()
print(json.dumps({"z": str(z), "ledger": [[str(v) for v in row] for row in rows]}))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrate.sqlite3"
        return
    name = f"zupy_migration_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_decimal_z_becomes_exact_micro_units_and_back(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "CACHE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="zupy.settings", DATABASE_URL=database_url, SECRET_KEY="migration-test",
        DB_POOL="false", ZUPY_DATA_DIR=str(tmp_path), OTP_ALLOW_CONSOLE_SENDER="true",
    )  # fmt: skip

    def manage(*args: str) -> str:
        run = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    def read() -> dict:
        return json.loads(manage("shell", "-c", READ).strip().splitlines()[-1])

    manage("migrate", "--no-input", "-v", "0")
    manage("migrate", "customers", "0001_initial", "--no-input", "-v", "0")  # the decimal schema
    company = manage("create_company", "Old data", "--email", "ola@old.example.com").strip()
    manage("shell", "-c", INSERT.format(company=company))

    manage("migrate", "--no-input", "-v", "0")

    assert read() == {
        "z": "1105600000",
        "ledger": [
            ["points", "450", "0", "450"],
            ["z", "1150000000", "0", "1150000000"],
            ["z", "-44400000", "1150000000", "1105600000"],
        ],
    }
    assert "every balance equals its ledger" in manage("ledger_check")

    manage("migrate", "customers", "0001_initial", "--no-input", "-v", "0")
    back = read()
    assert Decimal(back["z"]) == Decimal("1105.6")
    assert [[c, *map(Decimal, v)] for c, *v in back["ledger"]] == [
        ["points", 450, 0, 450],
        ["z", 1150, 0, 1150],
        ["z", Decimal("-44.4"), 1150, Decimal("1105.6")],
    ]
