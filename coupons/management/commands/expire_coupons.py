import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from core.heartbeat import heartbeat_touch
from coupons.services import coupon_expire_due


class Command(BaseCommand):
    help = (
        "Store 'expired' for coupons past valid_until and emit coupon.expired / coupon.expiring. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="Run every N seconds (a compose service).")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            close_old_connections()
            run = coupon_expire_due()
            self.stdout.write(f"expire_coupons: {run.expired} expired, {run.expiring} expiring notified")
            heartbeat_touch("expire_coupons")  # after a completed run: the compose health check reads it
            if not options["loop"]:
                return
            time.sleep(options["loop"])
