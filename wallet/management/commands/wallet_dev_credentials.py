import shlex
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from wallet.apple.dev_pki import PASS_TYPE_ID, TEAM_ID, make_pki


class Command(BaseCommand):
    help = (
        "Write a throwaway Apple Wallet PKI (a root CA, a WWDR-like intermediate, a Pass Type ID "
        "certificate and its key) into --out and print the WALLET_APPLE_* export lines that name it. "
        "For trying the Apple side locally: no phone accepts what it signs. Refused with DEBUG off."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="The directory to write the files into.")
        parser.add_argument("--pass-type-id", default=PASS_TYPE_ID)
        parser.add_argument("--team-id", default=TEAM_ID)
        parser.add_argument("--days", type=int, default=30, help="How long the certificates are valid.")

    def handle(self, *args: object, **options: Any) -> None:
        # A production server must sign with Apple's certificate; one made here would be served
        # to phones that refuse it, and its key would sit beside the real ones.
        if not settings.DEBUG:
            raise CommandError(
                "wallet_dev_credentials makes throwaway credentials: run it with DEBUG=true only."
            )
        if options["days"] < 1:
            raise CommandError("--days must be at least 1.")
        out: Path = options["out"].resolve()
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out} exists and is not a directory.")
        pki = make_pki(
            out, pass_type_id=options["pass_type_id"], team_id=options["team_id"], days=options["days"]
        )
        self.stderr.write(
            f"Wrote {pki.ca_file.name}, {pki.wwdr_file.name}, {pki.cert_file.name} and {pki.key_file.name} "
            f"into {out} (throwaway, valid {options['days']} days). Set these before scripts/serve:"
        )
        exports = " ".join(f"{name}={shlex.quote(value)}" for name, value in pki.settings().items())
        self.stdout.write(f"export {exports}")
