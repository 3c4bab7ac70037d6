"""The loop every outbox worker runs (webhooks, wallet): claim and send a batch, touch the
heartbeat the compose health check reads, sleep when nothing is due, stop cleanly on SIGTERM."""

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch

logger = logging.getLogger(__name__)


class OutboxWorkerCommand(BaseCommand):
    """A management command that runs ``deliver_batch`` until SIGTERM or SIGINT. ``name`` is its
    heartbeat and its log prefix; ``closing`` runs once on the way out."""

    name = ""

    def deliver_batch(self, *, stop: threading.Event) -> int:
        """Send what is due; answer how many attempts were made (0: nothing due)."""
        raise NotImplementedError

    def closing(self) -> None:
        """Release what the sends held open (connections, event loops)."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")
        parser.add_argument(
            "--idle-sleep", type=float, default=0.5, help="Seconds to wait when nothing is due."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # SIGTERM (compose stop, a deploy) or SIGINT: sends in progress are cut off at once (logged,
        # not counted, their leases given back), nothing new is claimed, and the worker exits.
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        made_in_all = 0
        try:
            while not stop.is_set():
                heartbeat_touch(self.name)  # the compose health check reads it
                close_old_connections()
                try:
                    made = self.deliver_batch(stop=stop)
                except Exception:
                    # The claim itself failed (the database is restarting?). Each row's own failures
                    # are recorded on the row and never reach here; wait and claim again.
                    logger.exception("%s: could not claim from the outbox", self.name)
                    made = 0
                if made:
                    made_in_all += made
                    continue
                if options["once"]:
                    break
                stop.wait(options["idle_sleep"])
        finally:
            self.closing()
        self.stdout.write(f"{self.name}: {made_in_all} attempt(s) made")
