import json

from django.core.management.base import BaseCommand, CommandParser

from companies.models import OtpPreset, RateTier
from companies.services import company_create


class Command(BaseCommand):
    help = 'Create a company (restaurant). Prints {"company_id": ...}.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--otp-policy", choices=OtpPreset.values, default=OtpPreset.STRICT)
        parser.add_argument("--tier", choices=RateTier.values, default=RateTier.FREE)

    def handle(self, *args: object, **options: str) -> None:
        company = company_create(
            name=options["name"], otp_preset=options["otp_policy"], rate_tier=options["tier"]
        )
        self.stdout.write(json.dumps({"company_id": company.pk}))
