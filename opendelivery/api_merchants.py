"""``GET /v2/merchants`` (listMerchants): the merchants the token reaches, each with both ids.

The Customer document has no such operation; the authentication document says a by_app client
lists the merchants it is authorized for at ``GET /merchants``, and the upstream guide serves it
with each merchant's ``merchantId`` (the application's) and ``externalCode`` (ours). Paged as every
list of the standard."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from opendelivery.auth import OdCaller, od_client_caller
from opendelivery.models import OdMerchantLink
from opendelivery.selectors import od_links_reachable
from opendelivery.views import OdMerchantlessView, od_page, od_page_body


def merchant_out(link: OdMerchantLink) -> dict[str, Any]:
    merchant = getattr(link.company, "od_merchant", None)
    return {
        "merchantId": link.merchant_id,
        "externalCode": str(merchant.external_code) if merchant is not None else None,
        "name": link.company.name,
    }


class MerchantListView(OdMerchantlessView):
    operations = {"get": "listMerchants"}

    def get(self, request: Request) -> Response:
        user = request.user
        selected = user.link.merchant_id if isinstance(user, OdCaller) else None
        rows = od_links_reachable(od_client_caller(request), merchant_id=selected)
        items, page, size, total = od_page(request, rows)
        return Response(od_page_body([merchant_out(link) for link in items], page, size, total))
