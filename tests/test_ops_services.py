"""The long-running services as compose runs them: real processes, real health checks.

- the webhook, wallet, integration and OpenDelivery workers, the expiry loop and the scheduler touch a
  heartbeat file;
  ``heartbeat_check`` (their compose health check) passes while it is fresh and fails when it is stale
  or missing;
- the scheduler runs each housekeeping job on its own interval, survives a failing one and stops on
  SIGTERM;
- with DEBUG off, a sender that prints OTP codes stops ``check --deploy`` and gunicorn's start-up
  unless OTP_ALLOW_CONSOLE_SENDER says it is a development machine.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from core.models import IdempotencyRecord
from customers.models import Customer
from tests.e2e.servers import GUNICORN, ROOT, free_port
from tests.factories import CompanyFactory, CustomerFactory

MANAGE = [sys.executable, "manage.py"]


def app_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="zupy.settings",
        DEBUG="false",
        SECRET_KEY="ops-" + uuid.uuid4().hex,
        CACHE_URL="locmemcache://ops",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MANAGE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def database_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    return {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db['NAME']}", "DB_POOL": "false"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("webhook_worker", ["webhook_worker", "--idle-sleep", "0.2"]),
        ("wallet_worker", ["wallet_worker", "--idle-sleep", "0.2"]),
        ("integration_worker", ["integration_worker", "--idle-sleep", "0.2"]),
        ("opendelivery_worker", ["opendelivery_worker", "--idle-sleep", "0.2"]),
        ("expire_coupons", ["expire_coupons", "--loop", "0.5"]),
        ("scheduler", ["scheduler", "--tick", "0.2"]),
    ],
)
def test_each_loop_beats_and_the_health_check_says_so(tmp_path: Path, name: str, command: list[str]) -> None:
    env = app_env(HEARTBEAT_DIR=str(tmp_path), OTP_ALLOW_CONSOLE_SENDER="true", **database_env())
    assert manage(env, "heartbeat_check", name, "--max-age", "60").returncode != 0, "no beat yet"

    process = subprocess.Popen(
        [*MANAGE, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        beat = tmp_path / name
        deadline = time.monotonic() + 60
        while not beat.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, f"{name} never beat"
            time.sleep(0.1)
        first = beat.stat().st_mtime
        while beat.stat().st_mtime == first:  # it keeps beating, loop after loop
            assert time.monotonic() < deadline, f"{name} beat once only"
            time.sleep(0.1)
        fresh = manage(env, "heartbeat_check", name, "--max-age", "60")
        assert fresh.returncode == 0, fresh.stderr
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    old = time.time() - 120
    os.utime(beat, (old, old))
    stale = manage(env, "heartbeat_check", name, "--max-age", "60")
    assert stale.returncode != 0 and "ago" in stale.stderr


def test_the_compose_file_uses_the_heartbeat_check_for_every_loop():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service, name in (
        ("webhooks", "webhook_worker"),
        ("wallet-worker", "wallet_worker"),
        ("integration-worker", "integration_worker"),
        ("opendelivery-worker", "opendelivery_worker"),
        ("expire", "expire_coupons"),
        ("scheduler", "scheduler"),
    ):
        test = services[service]["healthcheck"]["test"]
        assert test[:5] == ["CMD", "python", "manage.py", "heartbeat_check", name], test
    assert services["scheduler"]["command"] == ["python", "manage.py", "scheduler"]


def compose_schedule() -> str:
    """The ZUPY_SCHEDULE compose gives the scheduler when .env says nothing."""
    import yaml

    value = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["scheduler"]["environment"]
    return str(value["ZUPY_SCHEDULE"]).removeprefix("${ZUPY_SCHEDULE:-").removesuffix("}")


def wait_for(condition: Any, process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_runs_each_job_on_its_interval_survives_a_failing_one_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """The compose schedule's jobs, the purge every 0.3 s, and ledger_check beside them failing on
    every run (a customer whose balance is off its ledger)."""
    jobs = dict(item.split("=") for item in compose_schedule().split(","))
    assert set(jobs) == {"purge_idempotency_keys", "refresh_segments"}, "what compose runs"
    schedule = f"purge_idempotency_keys=0.3,ledger_check=0.3,refresh_segments={jobs['refresh_segments']}"
    company = CompanyFactory.create()
    stale = IdempotencyRecord.objects.create(
        company=company, key="k", fingerprint="f", status_code=200, content_type="application/json",
        body=b"{}", expires_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    off = CustomerFactory.create(company=company, points=10)
    Customer.objects.filter(pk=off.pk).update(points_balance=11)
    env = app_env(
        HEARTBEAT_DIR=str(tmp_path), OTP_ALLOW_CONSOLE_SENDER="true", ZUPY_SCHEDULE=schedule,
        LOG_LEVEL="INFO", LOG_FORMAT="plain", **database_env(),
    )  # fmt: skip
    process = subprocess.Popen(
        [*MANAGE, "scheduler", "--tick", "0.1"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    purged, segments = tmp_path / "scheduler.purge_idempotency_keys", tmp_path / "scheduler.refresh_segments"
    try:
        wait_for(lambda: not IdempotencyRecord.objects.filter(pk=stale.pk).exists(), process, "never purged")
        wait_for(purged.exists, process, "the purge never beat")
        wait_for(segments.exists, process, "refresh_segments never ran")
        first_purge, only_refresh = purged.stat().st_mtime, segments.stat().st_mtime
        wait_for(lambda: purged.stat().st_mtime != first_purge, process, "the purge ran once only")
        assert segments.stat().st_mtime == only_refresh, "refresh_segments waits its own interval"
        assert not (tmp_path / "scheduler.ledger_check").exists(), "a failed run does not beat"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert output.count("scheduler: ledger_check failed") >= 2, output
    assert "1 customer(s) have balances that differ from their ledger" in output
    assert "scheduler: purge_idempotency_keys done" in output and "purged 1 expired" in output
    assert output.rstrip().endswith("scheduler: stopped"), output


@pytest.mark.parametrize(
    ("schedule", "refusal"),
    [
        ("purge_idempotency_keys=3600,no_such_command=60", "no_such_command"),
        ("scheduler=60", "scheduler"),
        ("purge_idempotency_keys=hourly", "not command=seconds"),
        ("purge_idempotency_keys=0", "not command=seconds"),
        ("purge_idempotency_keys=60,purge_idempotency_keys=30", "not command=seconds"),
    ],
)
def test_the_scheduler_refuses_a_schedule_it_cannot_run(tmp_path: Path, schedule: str, refusal: str) -> None:
    env = app_env(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", OTP_ALLOW_CONSOLE_SENDER="true")
    run = manage({**env, "ZUPY_SCHEDULE": schedule}, "scheduler")
    assert run.returncode != 0 and refusal in run.stderr, run.stderr


PRINTING = {
    "the phone console sender": {
        "OTP_PHONE_SENDER": "otp.senders.ConsoleSender",
        "EMAIL_URL": "smtp://127.0.0.1:1",
    },
    "e-mail without EMAIL_URL": {"OTP_PHONE_SENDER": "otp.senders.HttpGatewaySender", "EMAIL_URL": ""},
}


@pytest.mark.parametrize("senders", PRINTING.values(), ids=PRINTING.keys())
def test_check_deploy_refuses_a_sender_that_prints_codes(tmp_path: Path, senders: dict[str, str]) -> None:
    env = app_env(DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", **senders)
    refused = manage(env, "check", "--deploy")
    assert refused.returncode != 0 and "otp.E001" in refused.stderr, refused.stderr

    allowed = manage({**env, "OTP_ALLOW_CONSOLE_SENDER": "true"}, "check", "--deploy")
    assert "otp.E001" not in allowed.stdout + allowed.stderr


def test_gunicorn_does_not_start_with_a_sender_that_prints_codes(tmp_path: Path) -> None:
    env = app_env(
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", EMAIL_URL="", PROMETHEUS_MULTIPROC_DIR=str(tmp_path)
    )
    port = free_port()
    run = subprocess.run(
        [GUNICORN, "zupy.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode != 0
    assert "otp.E001" in run.stderr
