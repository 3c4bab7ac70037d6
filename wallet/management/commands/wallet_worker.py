import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch
from wallet.apple.apns import apns_clients_close
from wallet.outbox import wallet_deliver_batch

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Send the wallet outbox: APNs pushes and Google object updates (run one or several; they "
        "never send a job twice at once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")
        parser.add_argument(
            "--idle-sleep", type=float, default=0.5, help="Seconds to wait when nothing is due."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # SIGTERM (compose stop, a deploy) or SIGINT: nothing new is claimed, the leases of sends
        # still in flight are given back (not counted), and the worker exits.
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        made_in_all = 0
        try:
            while not stop.is_set():
                heartbeat_touch("wallet_worker")  # the compose health check reads it
                close_old_connections()
                try:
                    made = wallet_deliver_batch(stop=stop)
                except Exception:
                    # The claim itself failed (the database is restarting?). Each job's own failures
                    # are recorded on the job and never reach here; wait and claim again.
                    logger.exception("wallet_worker: could not claim jobs")
                    made = 0
                if made:
                    made_in_all += made
                    continue
                if options["once"]:
                    break
                stop.wait(options["idle_sleep"])
        finally:
            apns_clients_close()
        self.stdout.write(f"wallet_worker: {made_in_all} attempt(s) made")
