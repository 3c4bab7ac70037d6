import json
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company, OtpPreset
from integrations.models import Adapter, Rounding
from integrations.services import integration_configure


def _decimal(raw: str) -> Decimal:
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise CommandError(f"Not a number: {raw!r}") from exc


class Command(BaseCommand):
    help = (
        "Create a company's partner integration, or change the given settings of it. "
        'Prints {"integration_id", "slug", "created", ...}.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("company_id")
        parser.add_argument("slug", help="the {partner} of the inbound URL, e.g. repediu")
        parser.add_argument("--name")
        parser.add_argument("--adapter", choices=Adapter.values)
        parser.add_argument(
            "--points-per-unit", type=_decimal, help="points per currency unit, e.g. 1 or 0.5"
        )
        parser.add_argument("--rounding", choices=Rounding.values)
        parser.add_argument("--otp-policy", choices=[*OtpPreset.values, "company"])
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", action="store_true")
        state.add_argument("--disable", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        company = Company.objects.filter(pk=options["company_id"]).first()
        if company is None:
            raise CommandError(f"No company with id {options['company_id']}")
        otp = options["otp_policy"]
        try:
            integration, created = integration_configure(
                company=company,
                slug=str(options["slug"]),
                name=options["name"],  # type: ignore[arg-type]
                adapter=options["adapter"],  # type: ignore[arg-type]
                points_per_unit=options["points_per_unit"],  # type: ignore[arg-type]
                rounding=options["rounding"],  # type: ignore[arg-type]
                enabled=True if options["enable"] else False if options["disable"] else None,
                otp_preset=None if otp is None else "" if otp == "company" else str(otp),
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            json.dumps(
                {
                    "integration_id": integration.pk,
                    "slug": integration.slug,
                    "created": created,
                    "adapter": integration.adapter,
                    "points_per_unit": str(integration.points_per_unit),
                    "rounding": integration.rounding,
                    "enabled": integration.enabled,
                    "otp_policy": integration.otp_preset or "company",
                }
            )
        )
