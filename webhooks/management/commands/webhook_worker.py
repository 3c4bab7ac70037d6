import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch
from webhooks.services import webhook_deliver_batch

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Deliver webhooks from the outbox (run one or several; they never send an attempt twice)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")
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
        delivered = 0
        while not stop.is_set():
            heartbeat_touch("webhook_worker")  # the compose health check reads it
            close_old_connections()
            try:
                made = webhook_deliver_batch(stop=stop)
            except Exception:
                # The claim itself failed (the database is restarting?). Each row's own failures are
                # recorded on the row and never reach here; wait and claim again.
                logger.exception("webhook_worker: could not claim deliveries")
                made = 0
            if made:
                delivered += made
                continue
            if options["once"]:
                break
            stop.wait(options["idle_sleep"])
        self.stdout.write(f"webhook_worker: {delivered} attempt(s) made")
