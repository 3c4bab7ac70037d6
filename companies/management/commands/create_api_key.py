import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company, ResponseFormat
from companies.services import api_key_create


class Command(BaseCommand):
    help = 'Create an API key for a company. Prints {"api_key": ...}: the only time the key is shown.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("company_id")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--format",
            choices=ResponseFormat.values,
            default=ResponseFormat.ENVELOPE,
            help="envelope: {data, meta} around every success (default); root: bare objects, as the "
            "current upstream document (docs/api.md)",
        )

    def handle(self, *args: object, **options: object) -> None:
        company = Company.objects.filter(pk=options["company_id"]).first()
        if company is None:
            raise CommandError(f"No company with id {options['company_id']}")
        key, raw = api_key_create(
            company=company,
            name=str(options["name"]),
            read_only=bool(options["read_only"]),
            response_format=str(options["format"]),
        )
        self.stdout.write(
            json.dumps(
                {
                    "api_key": raw,
                    "api_key_id": key.pk,
                    "read_only": key.read_only,
                    "response_format": key.response_format,
                }
            )
        )
