"""The base views every endpoint stands on: POSTs made retry-safe with Idempotency-Key, and the OpenAPI
parameters the views share."""

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.dbrouter import replica_note_write, replica_reads
from core.idempotency import HEADER, check_key, idempotent, request_fingerprint
from core.inputs import FormBody, FormKeysUnknown


class RateLimitHeaders:
    """View mixin: every answer of a rate-limited request says where the key's budget stands."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        limits = getattr(request, "zupy_ratelimit", None)
        if limits is not None:
            for name, value in zip(("Limit", "Remaining", "Reset"), limits, strict=True):
                response[f"X-RateLimit-{name}"] = str(value)
        return response


Handler = Callable[..., HttpResponseBase]


def _key_id_of(request: Request) -> str | None:
    key_id = getattr(request.auth, "pk", None)
    return key_id if isinstance(key_id, str) else None


def replica_get(get: Handler) -> Handler:
    """Wrap a view's ``get`` so that its ORM reads may go to the read replica (``core.dbrouter``).
    DRF calls the handler once authentication, permissions and rate limits have run on the primary."""

    @functools.wraps(get)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with replica_reads(writer=_key_id_of(request)):
            return get(view, request, *args, **kwargs)

    return wrapper


class ApiView(RateLimitHeaders, APIView):
    """Base of every API view. Query parameters a view does not know are ignored (a cache-buster
    ``_=123`` must not break a till); the ones it knows are validated by its ``Input`` serializer.

    ``reads_from_replica = True``: the view's GET reads what tolerates a few seconds of lag (a list,
    the catalog, stats) and decides no write, so it may read from the replica (``replica_get``).
    After any other request of an API key, that key reads from the primary for a while
    (``core.dbrouter.replica_note_write``): a partner always reads its own writes."""

    reads_from_replica = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.reads_from_replica and "get" in cls.__dict__:
            cls.get = replica_get(cls.__dict__["get"])  # type: ignore[attr-defined]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            key_id = _key_id_of(request)
            if key_id is not None:
                replica_note_write(writer=key_id)
        return response


def _company_id_of(request: Request) -> str:
    """The tenant of an authenticated API request: the calling key's company. A write reached
    without a key is a wiring mistake (every write view requires one), so it fails loudly."""
    company_id = getattr(request.auth, "company_id", None)
    if not isinstance(company_id, str):
        raise TypeError(f"expected an API key as request.auth, got {type(request.auth).__name__}")
    return company_id


def idempotent_post(post: Handler) -> Handler:
    """Wrap a view's ``post`` so that it honours ``Idempotency-Key`` (see ``core.idempotency``).

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
            company_id=_company_id_of(request),
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
    ``idempotent_post`` when the class is made. ``takes_body = False`` for an operation without
    fields: a form body with any key is refused there, as one with keys that are not an operation's
    fields is refused by ``core.inputs.Input``."""

    takes_body = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "post" in cls.__dict__:
            cls.post = idempotent_post(cls.__dict__["post"])  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            # Every write's body is parsed here, after authentication, permissions and rate limits,
            # even where the view reads nothing (validate): a body of another content type is a 415
            # and malformed JSON a 400 for every write alike, never silently ignored. The raw bytes
            # are read first and kept, so the Idempotency-Key fingerprint can still read them.
            request.body  # noqa: B018
            if request.data and isinstance(request.data, FormBody) and not self.takes_body:
                raise FormKeysUnknown("form", sorted(request.data))


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
