from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import JSONParser
from core.views import IDEMPOTENCY_KEY, WriteView
from integrations.errors import NotOrders, TooManyOrders
from integrations.selectors import integration_enabled
from integrations.services import inbound_receive


class InboundReceivedOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=["received", "duplicate"])
    id = serializers.CharField()


# Any JSON of orders: an array of them (at most INTEGRATION_MAX_ORDERS_PER_BODY), or one order object.
# Each order's fields are its integration's format (docs/integrations.md); a bad order fails alone.
ORDERS_BODY = {
    "oneOf": [
        {"type": "array", "minItems": 1, "items": {}, "description": "Orders in the integration's format."},
        {"type": "object", "additionalProperties": True, "description": "One order."},
    ]
}


class InboundOrdersView(WriteView):
    """POST /api/v2/webhooks/integrations/{partner}/ — a partner's orders, stored for the worker."""

    # Its own per-key budget, higher than the key's (companies.auth): batches of sales arrive in bursts.
    rate_limit_scope = "inbound"
    # The batch is stored as the partner sent it, to be read in its integration's JSON format.
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="webhooks_integration_receive",
        parameters=[IDEMPOTENCY_KEY],
        request={"application/json": ORDERS_BODY},
        responses={
            200: InboundReceivedOut,
            (403, "application/problem+json"): OpenApiResponse(
                response={"$ref": "#/components/schemas/Problem"},
                description="integration-not-found: no enabled integration with this slug.",
            ),
        },
        description=(
            "A JSON array of orders (or one order object) in the integration's format, stored raw and "
            "processed out of the request. The same body again answers duplicate with the first id."
        ),
    )
    def post(self, request: Request, partner: str) -> Response:
        company = partner_of(request).company
        integration = integration_enabled(company=company, slug=partner)
        if not request.content_type:
            raise UnsupportedMediaType(media_type="")
        data: Any = request.data
        if not isinstance(data, list | dict):
            raise NotOrders()
        if isinstance(data, list) and not data:
            raise NotOrders("The body is an empty array: there are no orders in it.")
        if isinstance(data, list) and len(data) > settings.INTEGRATION_MAX_ORDERS_PER_BODY:
            raise TooManyOrders(
                f"{len(data)} orders in one body; at most {settings.INTEGRATION_MAX_ORDERS_PER_BODY}. "
                "Send them in smaller bodies."
            )
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotOrders("The body must be JSON in UTF-8.") from exc
        received = inbound_receive(company=company, integration=integration, body=request.body)
        status = "duplicate" if received.duplicate else "received"
        return Response(InboundReceivedOut({"status": status, "id": received.batch.pk}).data)
