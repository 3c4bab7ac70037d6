import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from companies.models import Company
from core.errors import DomainError
from opendelivery.selectors import od_client_by_ref
from opendelivery.services import od_merchant_link


class Command(BaseCommand):
    help = (
        "Link a by_app OpenDelivery client to a company, under the merchantId the client's application "
        "knows it by (X-App-MerchantId / ?storeId=)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="the client_id (or the OdClient's id)")
        parser.add_argument("company_id")
        parser.add_argument("merchant_id")

    def handle(self, *args: object, **options: object) -> None:
        ref = str(options["client"])
        client = od_client_by_ref(ref)
        if client is None:
            raise CommandError(f"No OpenDelivery client {ref}")
        company = Company.objects.filter(pk=options["company_id"]).first()
        if company is None:
            raise CommandError(f"No company with id {options['company_id']}")
        try:
            link = od_merchant_link(client=client, company=company, merchant_id=str(options["merchant_id"]))
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(
            json.dumps({"link_id": link.pk, "company_id": company.pk, "merchant_id": link.merchant_id})
        )
