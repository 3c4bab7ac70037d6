"""The PassKit web service Wallet calls (under ``/passkit/v1/``), the public .pkpass download and
the design's public images. Not partner API views: no API key (Wallet authenticates with the pass's
``ApplePass`` token, a download with its unguessable URL), so not the API's per-key gate: each view
counts its request against the client address instead (WALLET_PUBLIC_RATE_LIMIT a minute, 429
beyond), before anything else is read. No CSRF (no cookie is involved), plain JSON bodies, read
only once the pass's token is checked; the answers' statuses are Apple's spec, their errors this
service's problem+json."""

from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import http_date
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from companies.auth import client_address
from core.inputs import JSONParser
from core.ratelimit import window_hit
from wallet.apple.pkpass import CONTENT_TYPE
from wallet.images import design_public_image
from wallet.passkit.errors import ImageNotFound, PublicRateLimited
from wallet.passkit.selectors import pass_authorized, serials_updated_since
from wallet.passkit.services import (
    PassFile,
    apple_pass_download,
    passkit_log,
    passkit_pass_latest,
    passkit_register,
    passkit_unregister,
)
from wallet.platforms import public_base_url


class PasskitView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    schema = None  # not part of the partner API's OpenAPI document

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """One hit against the client address's minute before the view reads anything. Fails open,
        as the API's limit does: it protects capacity (signing, the log), and a cache outage must
        not take every customer's Wallet updates with it."""
        super().initial(request, *args, **kwargs)
        limit = settings.WALLET_PUBLIC_RATE_LIMIT
        window = window_hit(f"wallet-rl:{client_address(request)}", window=60, fail_open=True)
        if window.exceeds(limit):
            raise PublicRateLimited(retry_after=window.reset)

    def handle_exception(self, exc: Exception) -> Response:
        response: Response = super().handle_exception(exc)
        if response.status_code == 401:
            response["WWW-Authenticate"] = "ApplePass"
        return response


def _pkpass_response(found: PassFile) -> HttpResponse:
    if found.content is None:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(found.content, content_type=CONTENT_TYPE)
    response["Last-Modified"] = http_date(found.last_modified.timestamp())
    # The pass carries its authenticationToken: no shared cache may keep it.
    response["Cache-Control"] = "private, no-cache"
    return response


class RegisterInput(serializers.Serializer[Any]):
    pushToken = serializers.RegexField(r"^[0-9A-Fa-f]{16,200}\Z")  # Apple's member name


class RegistrationView(PasskitView):
    """POST: register the device for the pass's pushes (201 new, 200 already); DELETE: unregister (200)."""

    def post(self, request: Request, device: str, pass_type_id: str, serial: Any) -> Response:
        # The pass's token first: a request without it is answered 401 whatever its body.
        wallet_pass = pass_authorized(
            pass_type_id=pass_type_id,
            serial_number=str(serial),
            authorization=request.headers.get("Authorization", ""),
        )
        body = RegisterInput(data=request.data)
        body.is_valid(raise_exception=True)
        created = passkit_register(
            wallet_pass=wallet_pass,
            device_library_identifier=device,
            push_token=body.validated_data["pushToken"],
            user_agent=request.headers.get("User-Agent", ""),
            accept_language=request.headers.get("Accept-Language", ""),
        )
        return Response({}, status=201 if created else 200)

    def delete(self, request: Request, device: str, pass_type_id: str, serial: Any) -> Response:
        passkit_unregister(
            device_library_identifier=device,
            pass_type_id=pass_type_id,
            serial_number=str(serial),
            authorization=request.headers.get("Authorization", ""),
        )
        return Response({}, status=200)


class SerialsView(PasskitView):
    """GET: the serial numbers of the device's passes changed since ``passesUpdatedSince`` (204: none).
    Apple sends no pass token here: the device library identifier is the device's own secret."""

    def get(self, request: Request, device: str, pass_type_id: str) -> Response:
        found = serials_updated_since(
            device_library_identifier=device,
            pass_type_id=pass_type_id,
            since=request.query_params.get("passesUpdatedSince"),
        )
        if found is None:
            return Response(status=204)
        serials, tag = found
        return Response({"serialNumbers": serials, "lastUpdated": tag})


class LatestPassView(PasskitView):
    """GET: the latest version of the pass (304 when ``If-Modified-Since`` is not older)."""

    def get(self, request: Request, pass_type_id: str, serial: Any) -> HttpResponse:
        return _pkpass_response(
            passkit_pass_latest(
                pass_type_id=pass_type_id,
                serial_number=str(serial),
                authorization=request.headers.get("Authorization", ""),
                if_modified_since=request.headers.get("If-Modified-Since", ""),
                base_url=public_base_url(request),
            )
        )


class LogInput(serializers.Serializer[Any]):
    logs = serializers.ListField(child=serializers.CharField(allow_blank=True, trim_whitespace=False))


class LogView(PasskitView):
    """POST: Wallet's log messages about our passes."""

    def post(self, request: Request) -> Response:
        body = LogInput(data=request.data)
        body.is_valid(raise_exception=True)
        passkit_log(lines=body.validated_data["logs"])
        return Response({}, status=200)


class PassDownloadView(PasskitView):
    """GET /wallet/apple/<download_token>.pkpass: the pass_url a partner hands the customer."""

    def get(self, request: Request, download_token: str) -> HttpResponse:
        return _pkpass_response(
            apple_pass_download(
                download_token=download_token,
                if_modified_since=request.headers.get("If-Modified-Since", ""),
                base_url=public_base_url(request),
            )
        )


class DesignImageView(PasskitView):
    """GET /wallet/images/<image_token>/<name>.png: a design's logo or hero image (Google fetches it)."""

    def get(self, request: Request, image_token: str, name: str) -> HttpResponse:
        content = design_public_image(image_token=image_token, name=name)
        if content is None:
            raise ImageNotFound()
        response = HttpResponse(content, content_type="image/png")
        response["Cache-Control"] = "public, max-age=300"
        return response
