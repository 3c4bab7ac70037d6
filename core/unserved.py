"""Upstream operations this service does not serve yet: the inbound partner webhook.
Each answers 501 problem+json naming its operationId, so a client generated from
the upstream document learns it at once rather than from a bare 404.

They are API views like any other: a key is required (401 without), a read-only key may not POST
(403) and the rate limit counts them (429), as the upstream document declares ``apiKeyAuth`` for them;
only then the 501. A caller without a key learns nothing about what is or is not served.
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import DomainError
from core.views import ApiView

# operationId -> (method, our route), as in docs/reference/zupy-openapi.json.
UNSERVED: dict[str, tuple[str, str]] = {
    "webhooks_integration_receive": ("post", "webhooks/integrations/<slug:partner>/"),
}


class NotServed(DomainError):
    status, slug, title, code = 501, "not-implemented", "Not Implemented", "not_implemented"


def not_served_view(operation_id: str, method: str) -> type[ApiView]:
    """An API view whose one method (``method``) raises ``NotServed``; any other method is a 405."""

    @extend_schema(
        operation_id=operation_id,
        request=None,
        responses={
            (501, "application/problem+json"): OpenApiResponse(
                response={"$ref": "#/components/schemas/Problem"},
                description="Not served yet: problem+json, code not_implemented, naming the operation.",
            )
        },
        description=f"Upstream operation {operation_id}: not served yet (501).",
    )
    def refuse(self: ApiView, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotServed(
            f"The operation {operation_id} ({request.method} {request.path}) is not served yet by this "
            "Zupy v2 server."
        )

    return type(f"NotServed_{operation_id}", (ApiView,), {method: refuse, "http_method_names": [method]})
