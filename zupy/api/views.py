"""The base views every endpoint stands on: query parameters checked, POSTs made retry-safe with
Idempotency-Key, and the OpenAPI parameters the views share."""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from zupy.api.auth import RateLimitHeaders, partner_of
from zupy.errors import ValidationFailed
from zupy.idempotency import HEADER, check_key, idempotent, request_fingerprint


def params_of(*serializers: type[Serializer]) -> frozenset[str]:
    """The query parameter names that the given query serializers declare."""
    return frozenset(str(name) for serializer in serializers for name in serializer().fields)


class ApiView(RateLimitHeaders, APIView):
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


Handler = Callable[..., HttpResponseBase]


def idempotent_post(post: Handler) -> Handler:
    """Wrap a view's ``post`` so that it honours ``Idempotency-Key`` (see ``zupy.idempotency``).

    DRF calls the handler once authentication, permissions and rate limits have passed, so a refused
    key or permission is never stored; a refusal raised by ``post`` is rendered by the view's own
    exception handler, then stored or not by ``idempotent``."""

    @functools.wraps(post)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if key is None:
            return post(view, request, *args, **kwargs)

        def render(response: HttpResponseBase) -> bytes:
            if not isinstance(response, Response):  # post and the exception handler answer DRF Responses
                raise TypeError(f"expected a DRF Response, got {type(response).__name__}")
            final = view.finalize_response(request, response, *args, **kwargs)
            final.render()
            return bytes(final.content)

        return idempotent(
            company=partner_of(request).company,
            key=check_key(key),
            # The raw bytes, read before DRF's parser does (DRF then parses a copy of them).
            fingerprint=request_fingerprint(request.method or "POST", request.get_full_path(), request.body),
            call=lambda: post(view, request, *args, **kwargs),
            on_refusal=view.handle_exception,
            render=render,
        )

    return wrapper


class WriteView(ApiView):
    """Base of every view with a state-changing POST: a subclass's ``post`` is wrapped with
    ``idempotent_post`` when the class is made."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = idempotent_post(cls.__dict__["post"])  # type: ignore[attr-defined]


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
