import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch
from customers.services import customer_segments_refresh


class Command(BaseCommand):
    help = "Recompute every customer's RFM segment (recency moves with time). Idempotent; run daily."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="Run every N seconds (a compose service).")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            close_old_connections()
            changed = customer_segments_refresh()
            self.stdout.write(f"refresh_segments: {changed} customer(s) changed segment")
            heartbeat_touch("refresh_segments")
            if not options["loop"]:
                return
            time.sleep(options["loop"])
