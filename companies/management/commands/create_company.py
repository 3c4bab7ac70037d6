import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import OtpPreset, RateTier
from companies.services import company_create
from core.errors import DomainError


class Command(BaseCommand):
    help = 'Create a company (restaurant). Prints {"company_id": ...}.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--email", required=True, help="The company's contact e-mail address.")
        parser.add_argument("--otp-policy", choices=OtpPreset.values, default=OtpPreset.STRICT)
        parser.add_argument("--tier", choices=RateTier.values, default=RateTier.FREE)

    def handle(self, *args: object, **options: str) -> None:
        try:
            company = company_create(
                name=options["name"],
                email=options["email"],
                otp_preset=options["otp_policy"],
                rate_tier=options["tier"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(json.dumps({"company_id": company.pk}))
