from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.heartbeat import heartbeat_age, heartbeat_path


class Command(BaseCommand):
    help = "Exit 0 if the named loop beat within --max-age seconds, else 1 (a container health check)."
    # A health check runs every few seconds: no system checks, no database.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "name", help="webhook_worker, wallet_worker, expire_coupons, scheduler or scheduler.<command>"
        )
        parser.add_argument("--max-age", type=float, required=True, help="Seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        age = heartbeat_age(options["name"])
        if age is None:
            raise CommandError(f"no heartbeat at {heartbeat_path(options['name'])}")
        if age > options["max_age"]:
            raise CommandError(f"last heartbeat {age:.0f}s ago (max {options['max_age']:.0f}s)")
        self.stdout.write(f"{options['name']}: beat {age:.1f}s ago")
