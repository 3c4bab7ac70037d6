from django.core.management.base import BaseCommand

from core.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key answers older than 24 hours (the scheduler service runs it hourly)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"purged {idempotency_purge()} expired idempotency record(s)")
