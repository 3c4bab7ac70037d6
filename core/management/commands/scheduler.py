"""The housekeeping loop (the compose ``scheduler`` service): each management command named in
``ZUPY_SCHEDULE`` runs every N seconds, by name, so the kit needs to import no app.

Every job runs at start, then again N seconds after its previous run began. Jobs run one at a time in
this process; a failing one is logged with its output and tried again at its next turn, and the others
go on. Each completed run is logged and beats ``scheduler.<command>``; the loop itself beats
``scheduler`` at every turn, which the compose health check reads. SIGTERM (or SIGINT) lets the running
job finish, then the loop exits 0.
"""

import io
import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch

log = logging.getLogger("core.scheduler")
NAME = "scheduler"


class Command(BaseCommand):
    help = "Run the housekeeping commands of ZUPY_SCHEDULE, each on its own interval, until SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tick", type=float, default=1.0, help="Seconds between looks at the schedule (and heartbeats)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs: dict[str, float] = dict(settings.ZUPY_SCHEDULE)
        unknown = sorted(name for name in jobs if name not in get_commands() or name == NAME)
        if unknown:
            raise CommandError(f"ZUPY_SCHEDULE names no management command it can run: {', '.join(unknown)}")
        stopping = threading.Event()

        def stop(signum: int, frame: Any) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info(
            "scheduler: started: %s", ", ".join(f"{name} every {every:g}s" for name, every in jobs.items())
        )
        due = dict.fromkeys(jobs, 0.0)  # time.monotonic() of each job's next run: all due at start
        while not stopping.is_set():
            heartbeat_touch(NAME)
            for name, every in jobs.items():
                if stopping.is_set() or time.monotonic() < due[name]:
                    continue
                due[name] = time.monotonic() + every
                self.run_job(name)
                heartbeat_touch(NAME)
            stopping.wait(options["tick"])
        log.info("scheduler: stopped")

    def run_job(self, name: str) -> None:
        close_old_connections()  # a connection the database dropped since the last run is replaced
        output = io.StringIO()
        started = time.monotonic()
        try:
            call_command(name, stdout=output, stderr=output)
        except (Exception, SystemExit):  # a failing job (sys.exit too) stops neither the loop nor the others
            log.exception(
                "scheduler: %s failed after %.1fs: %s",
                name,
                time.monotonic() - started,
                output.getvalue().strip(),
            )
            return
        finally:
            close_old_connections()
        log.info(
            "scheduler: %s done in %.1fs: %s", name, time.monotonic() - started, output.getvalue().strip()
        )
        heartbeat_touch(f"{NAME}.{name}")
