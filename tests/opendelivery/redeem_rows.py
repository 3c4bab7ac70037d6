"""Rows the redemption and coupon-use tests start from: a by_merchant client of a company."""

from oauth2_provider.models import Application

from companies.models import Company
from opendelivery.models import ClientKind, OdClient, OdMerchantLink


def od_client_of(company: Company, *, name: str = "Platform") -> OdClient:
    application = Application.objects.create(
        name=name,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    client = OdClient.objects.create(
        application=application, name=name, kind=ClientKind.BY_MERCHANT, company=company
    )
    OdMerchantLink.objects.create(client=client, company=company, merchant_id=f"m-{company.pk}")
    return client
