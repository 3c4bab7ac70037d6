from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from zupy.errors import ValidationFailed
from zupy.idempotency import HEADER, check_key, idempotent, request_fingerprint

PAGE_PARAMS = frozenset({"cursor", "page_size"})


def params_of(*serializers: type[Serializer]) -> frozenset[str]:
    """The query parameter names that the given query serializers declare."""
    return frozenset(name for serializer in serializers for name in serializer._declared_fields)


class ApiView(APIView):
    """Base of every API view. ``query_params`` names what a view accepts: anything else is a 422,
    so a misspelt filter (``?staus=used``) is an error, not a silently unfiltered answer."""

    query_params: frozenset[str] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        unknown = sorted(set(request.query_params) - self.query_params)
        if unknown:
            raise ValidationFailed(
                f"Unknown query parameter(s): {', '.join(unknown)}.",
                errors=[{"field": name, "detail": "Unknown query parameter."} for name in unknown],
            )
        # "?status=" is a mistake, not "no filter": say so rather than answer unfiltered.
        empty = sorted(name for name, value in request.query_params.items() if value == "")
        if empty:
            raise ValidationFailed(
                f"Empty query parameter(s): {', '.join(empty)}.",
                errors=[
                    {"field": name, "detail": "May not be empty; leave it out instead."} for name in empty
                ],
            )


class WriteView(ApiView):
    """Base for every state-changing POST: honours ``Idempotency-Key`` (see ``zupy.idempotency``).

    DRF's dispatch, with the handler call wrapped once authentication and permissions have passed
    (a refused key or permission is never stored)."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            key = request.headers.get(HEADER)
            if key is None or request.method != "POST":
                response = handler(request, *args, **kwargs)
            else:
                # Read the raw bytes before DRF's parser does; DRF then parses a copy of them.
                raw_body = request._request.body
                response = idempotent(
                    company=request.user.company,
                    key=check_key(key),
                    fingerprint=request_fingerprint(request.method, request.get_full_path(), raw_body),
                    call=lambda: handler(request, *args, **kwargs),
                    on_refusal=self.handle_exception,
                    render=lambda response: self._render(request, response, *args, **kwargs),
                )
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def _render(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> bytes:
        response = self.finalize_response(request, response, *args, **kwargs)
        response.render()
        return bytes(response.content)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Retry-safe writes: the same key and request within 24 h replays the first answer.",
)
OTP_SESSION = OpenApiParameter(
    "X-OTP-Session",
    str,
    OpenApiParameter.HEADER,
    description="From /auth/verify-otp/; required when the company's OTP policy asks for this action.",
)
