"""The token endpoint, as authentication.openapi.yaml defines it: JSON and form bodies, credentials
in the body or HTTP Basic, client_credentials only, the client's scopes, refusals in the standard's
shape."""

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from opendelivery.models import ClientKind
from opendelivery.services import od_client_set_enabled
from tests.opendelivery.conformance import od_validate_response
from tests.opendelivery.conftest import OdApi, make_od_client, od_secret

pytestmark = pytest.mark.django_db

TOKEN = "/v2/oauth/token"
FORM = "application/x-www-form-urlencoded"


def _json(client, body, **extra):
    return client.post(TOKEN, body, content_type="application/json", **extra)


def _form(client, body, **extra):
    return client.post(TOKEN, urlencode(body), content_type=FORM, **extra)


def _credentials(od_client):
    return {"client_id": od_client.application.client_id, "client_secret": od_secret(od_client)}


def _basic(od_client):
    raw = f"{od_client.application.client_id}:{od_secret(od_client)}".encode()
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(raw).decode()}


def _ok(response):
    body = od_validate_response(response, "post", TOKEN)
    assert response.status_code == 200, response.content
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    assert response["Cache-Control"] == "no-store"
    return body


def test_a_json_body_gets_a_bearer_token_that_reads(client, od_client_by_merchant):
    body = _ok(_json(client, {"grant_type": "client_credentials", **_credentials(od_client_by_merchant)}))
    assert body["scope"] == "od.crm"
    answer = OdApi(body["access_token"]).get("/v2/merchants")
    assert answer.status_code == 200, answer.content
    od_validate_response(answer, "get", "/merchants")


def test_a_form_body_and_http_basic_work_too(client, od_client_by_app):
    _ok(_form(client, {"grant_type": "client_credentials", **_credentials(od_client_by_app)}))
    _ok(_form(client, {"grant_type": "client_credentials"}, **_basic(od_client_by_app)))
    _ok(_json(client, {"grant_type": "client_credentials"}, **_basic(od_client_by_app)))


def test_the_secret_is_stored_only_as_a_digest(od_client_by_merchant):
    stored = Application.objects.get(pk=od_client_by_merchant.application_id).client_secret
    assert od_secret(od_client_by_merchant) not in stored
    assert stored.startswith("pbkdf2_sha256_od_secret$1000$")


def test_the_token_carries_its_lifetime(client, od_client_by_merchant):
    _ok(_json(client, {"grant_type": "client_credentials", **_credentials(od_client_by_merchant)}))
    token = AccessToken.objects.get(application=od_client_by_merchant.application)
    lifetime = token.expires - timezone.now()
    assert timedelta(seconds=3500) < lifetime <= timedelta(seconds=3600)


def test_the_clients_own_scope_may_be_asked_for(client, od_client_by_merchant):
    body = {"grant_type": "client_credentials", "scope": "od.crm", **_credentials(od_client_by_merchant)}
    assert _ok(_json(client, body))["scope"] == "od.crm"


@pytest.mark.parametrize("scope", ["od.all", "od.orders", "od.crm od.all"], ids=["all", "orders", "both"])
def test_a_scope_the_client_lacks_is_400(client, od_client_by_merchant, scope):
    response = _json(
        client, {"grant_type": "client_credentials", "scope": scope, **_credentials(od_client_by_merchant)}
    )
    body = od_validate_response(response, "post", TOKEN)
    assert response.status_code == 400, response.content
    assert body["code"] == "INVALID_SCOPE"
    assert not AccessToken.objects.filter(application=od_client_by_merchant.application).exists()


def test_an_od_all_client_may_ask_for_either_scope(client, od_company):
    # A second by_merchant client of the same company is its own credential.
    wide = make_od_client(kind=ClientKind.BY_MERCHANT, company=od_company, scopes="od.all")
    for scope in ("od.all", "od.crm"):
        body = _ok(_json(client, {"grant_type": "client_credentials", "scope": scope, **_credentials(wide)}))
        assert body["scope"] == scope


@pytest.mark.parametrize(
    "change",
    [
        {"client_secret": "wrong"},
        {"client_id": "unknown"},
        {"client_secret": None},
        {"client_id": None, "client_secret": None},
    ],
)
def test_wrong_credentials_are_401_in_the_standard_shape(client, od_client_by_merchant, change):
    body = {"grant_type": "client_credentials", **_credentials(od_client_by_merchant), **change}
    response = _json(client, {k: v for k, v in body.items() if v is not None})
    answer = od_validate_response(response, "post", TOKEN)
    assert response.status_code == 401, response.content
    assert answer["code"] == "INVALID_CLIENT"
    assert answer["message"]


def test_a_disabled_client_gets_no_token_and_its_tokens_stop_at_once(client, od_client_by_merchant, od_api):
    api = od_api(od_client_by_merchant)
    assert api.get("/v2/merchants").status_code == 200
    od_client_set_enabled(client=od_client_by_merchant, enabled=False)
    refused = api.get("/v2/merchants")
    assert refused.status_code == 401
    od_validate_response(refused, "get", "/merchants")
    response = _json(client, {"grant_type": "client_credentials", **_credentials(od_client_by_merchant)})
    assert od_validate_response(response, "post", TOKEN)["code"] == "INVALID_CLIENT"
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body, code",
    [
        ({"grant_type": "authorization_code", "code": "x"}, "UNSUPPORTED_GRANT_TYPE"),
        ({"grant_type": "password"}, "UNSUPPORTED_GRANT_TYPE"),
        ({}, "INVALID_REQUEST"),
        ({"grant_type": 5}, "INVALID_REQUEST"),
    ],
    ids=["authorization_code", "password", "no-grant", "not-a-string"],
)
def test_other_grants_and_a_missing_grant_are_400(client, od_client_by_merchant, body, code):
    response = _json(client, {**_credentials(od_client_by_merchant), **body})
    answer = od_validate_response(response, "post", TOKEN)
    assert (response.status_code, answer["code"]) == (400, code), response.content


@pytest.mark.parametrize(
    "raw, code",
    [
        ('{"grant_type": ', "INVALID_JSON"),
        ('["client_credentials"]', "INVALID_REQUEST"),
        ("nul", "INVALID_JSON"),
    ],
    ids=["truncated", "not-an-object", "not-json"],
)
def test_a_malformed_json_body_is_400(client, raw, code):
    response = client.post(TOKEN, raw, content_type="application/json")
    answer = od_validate_response(response, "post", TOKEN)
    assert (response.status_code, answer["code"]) == (400, code)


def test_a_body_of_another_type_is_415(client):
    response = client.post(TOKEN, "grant_type=client_credentials", content_type="text/plain")
    answer = od_validate_response(response, "post", TOKEN)
    assert (response.status_code, answer["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_get_is_405_in_the_standard_shape(client):
    response = client.get(TOKEN)
    answer = od_validate_response(response, "get", TOKEN)
    assert response.status_code == 405
    assert answer["code"] == "METHOD_NOT_ALLOWED"


def test_the_trailing_slash_is_tolerated(client, od_client_by_merchant):
    response = client.post(
        TOKEN + "/",
        {"grant_type": "client_credentials", **_credentials(od_client_by_merchant)},
        content_type="application/json",
    )
    _ok(response)


def test_token_requests_are_counted_per_address(client, od_client_by_merchant, settings):
    settings.ZUPY_ANONYMOUS_RATE_LIMIT = 2
    body = {"grant_type": "client_credentials", **_credentials(od_client_by_merchant)}
    assert [_json(client, body).status_code for _ in range(2)] == [200, 200]
    refused = _json(client, body)
    answer = od_validate_response(refused, "post", TOKEN)
    assert refused.status_code == 429
    assert answer["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(refused["Retry-After"]) >= 1
    assert refused["X-RateLimit-Remaining"] == "0"
