from typing import Any

from rest_framework.request import Request

from zupy.errors import ValidationFailed


def json_object(request: Request) -> dict[str, Any]:
    """The request body, which must be a JSON object (an empty body counts as ``{}``)."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationFailed(
            "The body must be a JSON object.", errors=[{"field": "body", "detail": "Expected a JSON object."}]
        )
    return data
