import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company
from core.errors import DomainError
from opendelivery.models import ClientKind
from opendelivery.services import od_client_create


class Command(BaseCommand):
    help = (
        "Create an OpenDelivery client. by_merchant: one company (--company), linked to it under "
        "--merchant-id or the company's externalCode; by_app: no company, linked later with "
        "link_od_merchant. Prints client_id and client_secret: the only time the secret is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--kind", choices=ClientKind.values, required=True)
        parser.add_argument("--company", default=None, help="by_merchant: the company's id")
        parser.add_argument("--merchant-id", default=None, help="by_merchant: default the externalCode")
        parser.add_argument("--scopes", default="od.crm", help="space-separated: od.crm, od.all")

    def handle(self, *args: object, **options: object) -> None:
        company = None
        if options["company"]:
            company = Company.objects.filter(pk=options["company"]).first()
            if company is None:
                raise CommandError(f"No company with id {options['company']}")
        merchant_id = options["merchant_id"]
        try:
            client, secret = od_client_create(
                name=str(options["name"]),
                kind=str(options["kind"]),
                company=company,
                merchant_id=str(merchant_id) if merchant_id else None,
                scopes=str(options["scopes"]),
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        link = client.links.first()
        self.stdout.write(
            json.dumps(
                {
                    "client_id": client.application.client_id,
                    "client_secret": secret,
                    "od_client_id": client.pk,
                    "kind": client.kind,
                    "scopes": client.scopes,
                    "merchant_id": link.merchant_id if link is not None else None,
                }
            )
        )
