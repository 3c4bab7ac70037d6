import json
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company
from integrations.models import Rounding
from opendelivery.orders import od_merchant_configure


def _rate(raw: str) -> Decimal | None:
    if raw.lower() == "off":
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise CommandError(f"Not a number: {raw!r}") from exc


class Command(BaseCommand):
    help = (
        "Set a company's OpenDelivery accrual: the points an order earns per currency unit of its "
        'total, and their rounding. Prints {"company_id", "external_code", "points_per_unit", ...}.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--company", required=True, help="the company's id")
        parser.add_argument(
            "--points-per-unit",
            type=_rate,
            required=True,
            help="points per currency unit, e.g. 1 or 0.5; off: orders award nothing",
        )
        parser.add_argument(
            "--rounding", choices=Rounding.values, help="default: down (kept when set before)"
        )

    def handle(self, *args: object, **options: object) -> None:
        company = Company.objects.filter(pk=options["company"]).first()
        if company is None:
            raise CommandError(f"No company with id {options['company']}")
        try:
            merchant, created = od_merchant_configure(
                company=company,
                points_per_unit=options["points_per_unit"],  # type: ignore[arg-type]
                rounding=options["rounding"],  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        rate = merchant.points_per_unit
        self.stdout.write(
            json.dumps(
                {
                    "company_id": company.pk,
                    "external_code": str(merchant.external_code),
                    "created": created,
                    "points_per_unit": None if rate is None else str(rate),
                    "rounding": merchant.rounding,
                }
            )
        )
