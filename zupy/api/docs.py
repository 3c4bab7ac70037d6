"""The OpenAPI document's view: YAML by default, JSON for ``?format=json``.

The API answers JSON only and ignores ``?format=`` (URL_FORMAT_OVERRIDE is off); the schema document is
the one place where the parameter is the documented way to choose (tools fetch ``?format=json``).
"""

from typing import Any

from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request


class SchemaView(SpectacularAPIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        if request.query_params.get("format") == "json":
            return OpenApiJsonRenderer(), OpenApiJsonRenderer.media_type
        if request.query_params.get("format") == "yaml":
            return OpenApiYamlRenderer(), OpenApiYamlRenderer.media_type
        return super().perform_content_negotiation(request, force)
