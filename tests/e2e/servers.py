"""Starting real servers for end-to-end tests."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def production_env(name: str, **settings: str) -> dict[str, str]:
    """The environment of a server or command started the way production starts it: this process's
    environment without the test settings, DEBUG off, a fresh secret, the development OTP senders
    allowed (no code leaves these tests), and ``settings`` on top."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="zupy.settings",
        DEBUG="false",
        SECRET_KEY=f"{name}-{uuid.uuid4().hex}",
        OTP_ALLOW_CONSOLE_SENDER="true",
    )
    env.update(settings)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, *, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or a loaded machine answering its first request slowly
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not become ready")
        time.sleep(0.2)


def start_gunicorn(env: dict[str, str], port: int, *, host: str = "127.0.0.1") -> subprocess.Popen:
    return subprocess.Popen(
        [GUNICORN, "zupy.wsgi:application", "--bind", f"{host}:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def manage_output(env: dict[str, str], *args: str) -> str:
    """``manage.py ARGS`` under ``env`` in this checkout; its stdout, or the test fails with its stderr."""
    run = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return run.stdout
