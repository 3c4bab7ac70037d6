from typing import Any

from rest_framework.renderers import JSONRenderer


class Envelope(dict):
    """A body that is already ``{data, meta}`` (lists build it with their cursor meta)."""


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps every success as ``{"data": ..., "meta": {}}``; errors are problem documents already."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code < 400 and not isinstance(data, Envelope):
            data = {"data": data, "meta": {}}
        return super().render(data, accepted_media_type, renderer_context)
