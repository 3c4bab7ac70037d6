"""Company, LoyaltyProgram, ApiKey (now companies/) and IdempotencyRecord (now core/) moved out of the
``zupy`` app by state-only migrations: a database migrated before the move keeps every row and foreign
key. Run for real on both engines, each on a database of its own, in a process of its own."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("migrate_across_move.py")


def run_script(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "zupy.settings",
        "ZUPY_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CACHE_URL", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def test_rows_and_foreign_keys_survive_the_move_on_sqlite(tmp_path):
    run_script(f"sqlite:///{tmp_path / 'move.sqlite3'}", tmp_path)


def test_rows_and_foreign_keys_survive_the_move_on_postgresql(tmp_path):
    name = f"zupy_move_{uuid.uuid4().hex[:12]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        run_script(f"postgres://postgres@127.0.0.1:5432/{name}", tmp_path)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("app", ["companies", "core"])
def test_the_moved_models_keep_their_tables(app):
    from django.apps import apps

    tables = {model._meta.db_table for model in apps.get_app_config(app).get_models()}
    assert tables and all(table.startswith("zupy_") for table in tables)
