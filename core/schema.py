"""The OpenAPI document (drf-spectacular): its view, the X-API-Key scheme, the constant fields, and
the post-processing hook that says what every answer looks like. Extensions register on import
(zupy.apps imports this module)."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_lib_doc_excludes
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request


# The document: YAML by default, JSON for ``?format=json``. The API answers JSON only and ignores
# ``?format=`` (URL_FORMAT_OVERRIDE is off); the schema document is the one place where the parameter is
# the documented way to choose (tools fetch ``?format=json``). No docstring: it would describe the
# operation in the document in place of drf-spectacular's own words.
class SchemaView(SpectacularAPIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        if request.query_params.get("format") == "json":
            return OpenApiJsonRenderer(), OpenApiJsonRenderer.media_type
        if request.query_params.get("format") == "yaml":
            return OpenApiYamlRenderer(), OpenApiYamlRenderer.media_type
        return super().perform_content_negotiation(request, force)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "companies.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def doc_excludes() -> list[type]:
    """SPECTACULAR_SETTINGS["GET_LIB_DOC_EXCLUDES"]: an operation is described by its view's docstring,
    falling back to base classes' but never to the kit's base views and serializers, which describe the
    kit (a component is described the same way, by its serializer's docstring)."""
    from core.rendering import FastOutput
    from core.views import ApiView, WriteView

    return [*get_lib_doc_excludes(), ApiView, WriteView, FastOutput]


_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


class ConstantFieldSchema(OpenApiSerializerFieldExtension):
    """A constant is documented by its type (``readOnly`` and ``nullable`` come from the field)."""

    target_class = "core.rendering.ConstantField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _TYPES[self.target.schema_type]}
        if self.target.value is None:
            schema["nullable"] = True  # here, not from allow_null, to sit where the document has it
        return schema


PROBLEM = {
    "type": "object",
    "description": "RFC 7807 problem document (application/problem+json).",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "format": "uri", "example": "https://api.zupy.com/errors/not-found"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "Machine-readable reason of a domain refusal."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
}
LIST_META = {
    "type": "object",
    "required": ["cursor", "has_next", "count"],
    "properties": {
        "cursor": {"type": "string", "nullable": True, "description": "Pass as ?cursor= for the next page."},
        "has_next": {"type": "boolean"},
        "count": {"type": "integer", "nullable": True, "description": "Always null (no COUNT over a table)."},
    },
}
RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests allowed per minute."},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests left this minute."},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until the window resets."},
    "X-Request-ID": {"schema": {"type": "string"}, "description": "Echoed, or generated."},
}
ERRORS = {
    "400": "Malformed JSON body.",
    "401": "Missing, unknown or revoked X-API-Key.",
    "403": "Read-only key on a write, or OTP required by the company's policy.",
    "404": "Not found, or not this company's.",
    "405": "Method not allowed.",
    "409": "Conflict (coupon used, expired or cancelled; Idempotency-Key in flight).",
    "413": "Body too large.",
    "415": "Body is not application/json.",
    "422": "Invalid input or a domain refusal (see code).",
    "429": "Rate limit exceeded (see Retry-After).",
    "500": "Unexpected error.",
    "503": "Database or a dependency unavailable; retry.",
}
WRITE_ONLY = {"400", "409", "413", "415"}


def envelope_and_problems(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """Post-process the document so it says what the API does: every success is {data, meta}, lists
    carry the cursor meta, every operation lists its problem+json answers and rate-limit headers."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["ListMeta"] = LIST_META
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if not status.startswith("2"):
                    continue
                content = response.get("content", {}).get("application/json")
                if content is not None:
                    inner = content["schema"]
                    is_list = inner.get("type") == "array"
                    meta = {"$ref": "#/components/schemas/ListMeta"} if is_list else {"type": "object"}
                    content["schema"] = {
                        "type": "object",
                        "required": ["data", "meta"],
                        "properties": {"data": inner, "meta": meta},
                    }
                response["headers"] = dict(RATE_HEADERS)
            for status, description in ERRORS.items():
                if status in WRITE_ONLY and method == "get":
                    continue
                headers = dict(RATE_HEADERS)
                if status in {"429", "503"}:
                    headers["Retry-After"] = {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait.",
                    }
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/problem+json": {"schema": problem_ref}},
                        "headers": headers,
                    },
                )
    return result


def empty_query_values(
    result: dict[str, Any], generator: SchemaGenerator, request: Request | None, public: bool
) -> dict[str, Any]:
    """An empty value of an optional query parameter counts as absent (``core.inputs.Input``):
    say so with OpenAPI's ``allowEmptyValue``, so ``?cursor=`` is documented as accepted."""
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result
