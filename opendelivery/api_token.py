"""``POST /v2/oauth/token`` (the authentication document's ``postOAuthToken``): client_credentials
only, issued by django-oauth-toolkit's OAuth2 server (``OAuthLibCore``), which checks the client's
secret against its digest and writes the token.

The body is JSON (the document's) or a form (RFC 6749's); the client's credentials are in the body
or in HTTP Basic. What this module adds around the library: reading the JSON body (the toolkit's
JSON backend is deprecated), refusing any other grant, and answering every refusal in the standard's
``{code, message, details}`` shape."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.oauth2_backends import OAuthLibCore

from companies.auth import anonymous_budget
from core.inputs import MAX_JSON_DEPTH, json_depth_exceeds
from opendelivery.errors import CONTENT_TYPE

GRANT = "client_credentials"
UNSUPPORTED_MEDIA = "Send the body as application/json or application/x-www-form-urlencoded."
TOKEN_PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")
ANONYMOUS_RATE_LIMITED = (
    "Too many token requests from this address this minute; see Retry-After and X-RateLimit-*."
)
# oauthlib's error names, as this surface's codes and messages.
OAUTH_MESSAGES = {
    "invalid_client": "The client_id or client_secret is wrong, or the client is disabled.",
    "invalid_scope": "The requested scope is not one this client was granted (od.crm, od.all).",
    "invalid_request": "The request is missing a parameter or repeats one.",
    "unauthorized_client": "This client may not use the client_credentials grant.",
    "unsupported_grant_type": "Only grant_type=client_credentials is supported.",
}


class TokenRefused(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[str] | None = None) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details or []
        super().__init__(message)


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _refusal(exc: TokenRefused, headers: dict[str, str] | None = None) -> HttpResponse:
    return _answer(exc.status, {"code": exc.code, "message": exc.message, "details": exc.details}, headers)


def token_parameters(request: HttpRequest) -> dict[str, str]:
    """The body's parameters: a JSON object of strings, or a form, each value at most 255 printable
    characters (no row holds more, and a NUL byte never reaches the database); anything else refused."""
    parameters = _body_parameters(request)
    wrong = sorted(key for key, value in parameters.items() if len(value) > 255 or not value.isprintable())
    if wrong:
        details = [f"{key}: at most 255 printable characters" for key in wrong]
        raise TokenRefused(400, "INVALID_REQUEST", "A token parameter is malformed.", details)
    return parameters


def _body_parameters(request: HttpRequest) -> dict[str, str]:
    media = (request.content_type or "").lower()
    if media == "application/json":
        raw = request.body or b""
        if json_depth_exceeds(raw):  # json.loads would recurse into a RecursionError (a 500)
            raise TokenRefused(400, "INVALID_JSON", f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenRefused(400, "INVALID_JSON", "The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise TokenRefused(400, "INVALID_REQUEST", "The body must be a JSON object.")
        wrong = sorted(key for key, value in data.items() if not isinstance(value, str))
        if wrong:
            details = [f"{key}: not a string" for key in wrong]
            raise TokenRefused(400, "INVALID_REQUEST", "Every token parameter is a string.", details)
        return {key: data[key] for key in TOKEN_PARAMETERS if key in data}
    if media == "application/x-www-form-urlencoded":
        return {key: request.POST[key] for key in TOKEN_PARAMETERS if key in request.POST}
    raise TokenRefused(415, "UNSUPPORTED_MEDIA_TYPE", UNSUPPORTED_MEDIA)


class _ParsedBodyCore(OAuthLibCore):
    """The toolkit's core, reading the parameters this view parsed (JSON or form alike)."""

    def __init__(self, parameters: dict[str, str]) -> None:
        super().__init__()
        self.parameters = parameters

    def extract_body(self, request: HttpRequest) -> list[tuple[str, str]]:
        return list(self.parameters.items())


def _issue(request: HttpRequest, parameters: dict[str, str]) -> HttpResponse:
    _, headers, body, status = _ParsedBodyCore(parameters).create_token_response(request)
    answer = json.loads(body) if body else {}
    kept = {k: v for k, v in headers.items() if k.lower() == "www-authenticate"}
    if status == 200:
        token = {
            "access_token": answer["access_token"],
            "token_type": str(answer.get("token_type", "bearer")).lower(),
            "expires_in": answer["expires_in"],
            "scope": answer.get("scope", ""),
        }
        return _answer(200, token)
    error = str(answer.get("error") or "invalid_request")
    message = OAUTH_MESSAGES.get(error, str(answer.get("error_description") or "The token was refused."))
    return _refusal(TokenRefused(status, error.upper(), message), kept)


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(View):
    """The token endpoint. Counted against the caller's address (as every request without a token)."""

    http_method_names = ["post", "options"]

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = TokenRefused(405, "METHOD_NOT_ALLOWED", "Send the token request as a POST.")
        return _refusal(refused, {"Allow": "POST, OPTIONS"})

    def post(self, request: HttpRequest) -> HttpResponse:
        budget = anonymous_budget(request)
        limits: dict[str, str] = {}
        if budget is not None:
            limits = dict(
                zip(
                    ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
                    map(str, budget.limits),
                    strict=True,
                )
            )
            if not budget.allowed:
                refused = TokenRefused(429, "RATE_LIMIT_EXCEEDED", ANONYMOUS_RATE_LIMITED)
                return _refusal(refused, {**limits, "Retry-After": str(budget.reset)})
        try:
            parameters = token_parameters(request)
            grant = parameters.get("grant_type")
            if not grant:
                raise TokenRefused(400, "INVALID_REQUEST", "grant_type is required: client_credentials.")
            if grant != GRANT:
                raise TokenRefused(400, "UNSUPPORTED_GRANT_TYPE", OAUTH_MESSAGES["unsupported_grant_type"])
            response = _issue(request, parameters)
        except TokenRefused as exc:
            response = _refusal(exc)
        for name, value in limits.items():
            response[name] = value
        return response
