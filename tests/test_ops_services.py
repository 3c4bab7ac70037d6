"""The long-running services as compose runs them: real processes, real health checks.

- the webhook worker and the expiry loop touch a heartbeat file; ``heartbeat_check`` (their compose
  health check) passes while it is fresh and fails when it is stale or missing;
- with DEBUG off, a sender that prints OTP codes stops ``check --deploy`` and gunicorn's start-up
  unless OTP_ALLOW_CONSOLE_SENDER says it is a development machine.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.servers import GUNICORN, ROOT, free_port

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
        ("expire_coupons", ["expire_coupons", "--loop", "0.5"]),
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


def test_the_compose_file_uses_the_heartbeat_check_for_both_loops():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for service, name in (("webhooks", "webhook_worker"), ("expire", "expire_coupons")):
        test = services[service]["healthcheck"]["test"]
        assert test[:5] == ["CMD", "python", "manage.py", "heartbeat_check", name], test


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
