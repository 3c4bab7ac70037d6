import argparse
import json
from decimal import Decimal, InvalidOperation
from typing import cast

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from companies.models import Company, OtpPreset
from integrations.models import Adapter, Rounding
from integrations.selectors import integration_keys
from integrations.services import integration_configure, integration_key_bind, integration_key_unbind


def _decimal(raw: str) -> Decimal:
    """argparse's type: its ArgumentTypeError is the usage line and message a command-line user
    sees (a CommandError raised while arguments are parsed would be a traceback)."""
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise argparse.ArgumentTypeError(
            f"not a number: {raw[:40]!r} (points per currency unit, e.g. 1 or 0.5)"
        )
    return value


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
        parser.add_argument(
            "--otp-policy",
            choices=[*OtpPreset.values, "company"],
            help="the OTP policy of the API calls made with the integration's keys (--bind-key)",
        )
        parser.add_argument(
            "--bind-key", action="append", default=[], metavar="API_KEY_ID",
            help="an API key (its id) the partner calls with; repeatable",
        )  # fmt: skip
        parser.add_argument("--unbind-key", action="append", default=[], metavar="API_KEY_ID")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", action="store_true")
        state.add_argument("--disable", action="store_true")

    def handle(self, *args: object, **options: object) -> None:
        company = Company.objects.filter(pk=options["company_id"]).first()
        if company is None:
            raise CommandError(f"No company with id {options['company_id']}")
        otp = options["otp_policy"]
        try:
            # One transaction: a key that cannot be bound leaves the integration as it was.
            with transaction.atomic():
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
                for key_id in cast(list[str], options["bind_key"]):
                    integration_key_bind(integration=integration, api_key_id=key_id)
                for key_id in cast(list[str], options["unbind_key"]):
                    integration_key_unbind(integration=integration, api_key_id=key_id)
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
                    "api_keys": integration_keys(integration=integration),
                }
            )
        )
