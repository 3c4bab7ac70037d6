"""The OpenAPI document (drf-spectacular): its view, the X-API-Key scheme, the constant fields, and
the post-processing hook that says what every answer looks like. Extensions register on import
(zupy.apps imports this module)."""

import threading
from typing import Any, ClassVar

from django.http import HttpResponse, HttpResponseBase
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_lib_doc_excludes
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SCHEMA_KWARGS, SpectacularAPIView
from rest_framework.request import Request


# The document: YAML by default, JSON for ``?format=json``. The API answers JSON only and ignores
# ``?format=`` (URL_FORMAT_OVERRIDE is off); the schema document is the one place where the parameter is
# the documented way to choose (tools fetch ``?format=json``). No docstring: it would describe the
# operation in the document in place of drf-spectacular's own words.
#
# The document is the same for every request of a deploy, and building and rendering it takes about a
# tenth of a second of CPU: each process builds it once per media type, on first use, and answers the
# bytes it kept. ``?lang=`` and ``?version=`` (drf-spectacular's, which change the text) are built per
# request as before; requests without a key are rate-limited per address (``ApiGateMiddleware``).
class SchemaView(SpectacularAPIView):
    _documents: ClassVar[dict[str, tuple[bytes, dict[str, str]]]] = {}
    _building = threading.Lock()

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        if request.query_params.get("format") == "json":
            return OpenApiJsonRenderer(), OpenApiJsonRenderer.media_type
        if request.query_params.get("format") == "yaml":
            return OpenApiYamlRenderer(), OpenApiYamlRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(**SCHEMA_KWARGS)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if "lang" in request.query_params or "version" in request.query_params:
            return super().get(request, *args, **kwargs)
        media_type = str(request.accepted_media_type)
        kept = self._documents.get(media_type)
        if kept is None:
            with self._building:
                kept = self._documents.get(media_type)
                if kept is None:
                    kept = self._documents[media_type] = self._build(request, *args, **kwargs)
        content, headers = kept
        return HttpResponse(content, headers=headers)

    def _build(self, request: Request, *args: Any, **kwargs: Any) -> tuple[bytes, dict[str, str]]:
        """The answer as DRF would render it (``dispatch`` adds the view's own headers to every answer)."""
        response = super().get(request, *args, **kwargs)
        response.accepted_renderer = request.accepted_renderer
        response.accepted_media_type = request.accepted_media_type
        response.renderer_context = self.get_renderer_context()
        response.render()
        headers = {name: response[name] for name in ("Content-Type", "Content-Disposition")}
        return bytes(response.content), headers

    @classmethod
    def forget(cls) -> None:
        """Drop the documents kept (tests that change what the document says)."""
        cls._documents.clear()


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
    "415": "Body is neither JSON nor a form of the operation's fields.",
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
