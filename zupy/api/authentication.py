from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from zupy.errors import AuthenticationRequired
from zupy.models import ApiKey, Company
from zupy.selectors import api_key_authenticate


@dataclass(frozen=True)
class Partner:
    """``request.user`` for API calls: the key's company, which scopes every query."""

    company: Company
    api_key: ApiKey
    is_authenticated: bool = True


def partner_of(request: Request) -> Partner:
    """``request.user`` as what it is behind ApiKeyAuthentication and HasApiKey: the stubs can only say
    User | AnonymousUser. A view reached without a key is a wiring mistake, so it fails loudly."""
    user = request.user
    if not isinstance(user, Partner):
        raise TypeError(f"expected an API key's Partner as request.user, got {type(user).__name__}")
    return user


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Partner, ApiKey] | None:
        raw = request.META.get("HTTP_X_API_KEY")
        if not raw:
            return None  # the permission check answers 401 authentication-required
        api_key = api_key_authenticate(raw.strip())
        if api_key is None:
            raise AuthenticationRequired("The API key is unknown or revoked.")
        # For the request log line. Middleware annotating Django's request is Django's own pattern
        # (request.user, request.session); the stubs cannot declare ours.
        request._request.zupy_company_id = api_key.company_id  # type: ignore[attr-defined]
        return Partner(company=api_key.company, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="X-API-Key"'
