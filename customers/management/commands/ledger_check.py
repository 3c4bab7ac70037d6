import json

from django.core.management.base import BaseCommand, CommandError

from customers.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Verify that every customer's points and Z$ balances equal the sums of their ledger rows."

    def handle(self, *args: object, **options: object) -> None:
        bad = ledger_mismatches()
        if bad:
            for row in bad:
                self.stderr.write(json.dumps(row))
            raise CommandError(f"{len(bad)} customer(s) have balances that differ from their ledger")
        self.stdout.write("ledger_check: every balance equals its ledger")
