from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from companies.auth import partner_of
from core.inputs import Input, JsonBooleanField, json_object
from core.views import ApiView
from webhooks.models import EVENTS, URL_MAX_LENGTH, WebhookEndpoint
from webhooks.selectors import webhook_endpoint_of
from webhooks.services import KEEP, webhook_configure, webhook_test


class WebhookConfigIn(Input):
    # A field left out keeps its value; "webhook_url": null (or "") turns webhooks off.
    webhook_url = serializers.CharField(
        allow_blank=True, allow_null=True, max_length=URL_MAX_LENGTH, required=False
    )
    webhook_events = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, allow_empty=True, max_length=len(EVENTS)
    )
    rotate_secret = JsonBooleanField(required=False, default=False)


class WebhookConfigOut(serializers.Serializer):
    webhook_url = serializers.CharField(allow_null=True)
    webhook_events = serializers.ListField(child=serializers.CharField())
    webhook_secret = serializers.CharField(
        allow_null=True, help_text="Masked (last 4 characters), except in the answer that generated it."
    )
    available_events = serializers.ListField(child=serializers.CharField())


class WebhookTestOut(serializers.Serializer):
    success = serializers.BooleanField(source="ok")
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)

    def to_representation(self, result: Any) -> dict[str, Any]:
        data = super().to_representation(result)
        data["error"] = data["error"] or None  # no error is null, not ""
        return data


def _config(endpoint: WebhookEndpoint | None, secret: str | None = None) -> dict[str, Any]:
    """What WebhookConfigOut renders: the endpoint's settings, or none."""
    return {
        "webhook_url": (endpoint.url or None) if endpoint else None,
        "webhook_events": list(endpoint.events) if endpoint else [],
        "webhook_secret": secret or (endpoint.masked_secret if endpoint else None),
        "available_events": list(EVENTS),
    }


class WebhookConfigView(ApiView):
    """GET/PUT /api/v2/integrations/webhooks/ — the company's webhook URL, events and secret."""

    @extend_schema(operation_id="webhooks_config_retrieve", responses=WebhookConfigOut)
    def get(self, request: Request) -> Response:
        return Response(
            WebhookConfigOut(_config(webhook_endpoint_of(company=partner_of(request).company))).data
        )

    @extend_schema(operation_id="webhooks_config_update", request=WebhookConfigIn, responses=WebhookConfigOut)
    def put(self, request: Request) -> Response:
        body = WebhookConfigIn(data=json_object(request))
        body.is_valid(raise_exception=True)
        given = body.validated_data
        configured = webhook_configure(
            company=partner_of(request).company,
            url=given.get("webhook_url", KEEP),
            events=given.get("webhook_events", KEEP),
            rotate_secret=given["rotate_secret"],
        )
        return Response(WebhookConfigOut(_config(configured.endpoint, configured.new_secret)).data)


class WebhookTestView(ApiView):
    """POST /api/v2/integrations/webhooks/test/ — a signed ``ping`` to the configured URL, now."""

    @extend_schema(operation_id="webhooks_test", request=None, responses=WebhookTestOut)
    def post(self, request: Request) -> Response:
        result = webhook_test(company=partner_of(request).company)
        return Response(WebhookTestOut(result).data)
