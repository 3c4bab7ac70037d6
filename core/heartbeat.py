"""Heartbeat files for the long-running services without an HTTP port (webhook and wallet
workers, expiry loop, scheduler).

Each loop iteration touches ``HEARTBEAT_DIR/<name>``; ``manage.py heartbeat_check NAME --max-age S`` (the
compose health check) fails when the file is missing or older than S seconds: a hung or crashed loop
shows "unhealthy", a slow but turning one does not.
"""

import time
from pathlib import Path

from django.conf import settings


def heartbeat_path(name: str) -> Path:
    return Path(settings.HEARTBEAT_DIR) / name


def heartbeat_touch(name: str) -> None:
    path = heartbeat_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def heartbeat_age(name: str) -> float | None:
    """Seconds since the last beat, or None when there never was one."""
    try:
        return time.time() - heartbeat_path(name).stat().st_mtime
    except FileNotFoundError:
        return None
