"""Every error under /v2 is the standard's {code, message, details} as application/json: from the
views, DRF, Django's resolver and the middlewares alike; /api/v2 keeps problem+json."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from oauth2_provider.models import AccessToken

from tests.opendelivery.conformance import error_deviations
from tests.opendelivery.conftest import OdApi, make_od_token

pytestmark = pytest.mark.django_db

MERCHANTS = "/v2/merchants"
ECHO = "/v2/test/echo"


def assert_od_error(response, status, code=None):
    """The standard's ErrorResponse, nothing else: JSON, code, message, details as strings."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert error_deviations(body) == set()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == body["code"].upper() and body["message"]
    if code is not None:
        assert body["code"] == code
    return body


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "Bearer a b", "Token abc", "Bearer tokén",
     "Bearer " + "a" * 300],
    ids=["none", "basic", "bare", "blank", "two-words", "other-scheme", "not-ascii", "too-long"],
)  # fmt: skip
def test_a_missing_or_malformed_token_is_401_with_a_bearer_challenge(client, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get(MERCHANTS, **extra)
    body = assert_od_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert body["code"] == ("UNAUTHORIZED" if authorization is None else "INVALID_TOKEN")


def test_an_unknown_expired_or_revoked_token_is_401(od_client_by_merchant):
    assert_od_error(OdApi("unknown-token-value").get(MERCHANTS), 401, "INVALID_TOKEN")
    expired = make_od_token(od_client_by_merchant, expires_in=-1)
    response = OdApi(expired).get(MERCHANTS)
    assert_od_error(response, 401, "INVALID_TOKEN")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    revoked = make_od_token(od_client_by_merchant)
    AccessToken.objects.filter(application=od_client_by_merchant.application).delete()
    assert_od_error(OdApi(revoked).get(MERCHANTS), 401, "INVALID_TOKEN")


def test_a_token_expires_by_its_lifetime(od_client_by_merchant):
    token = make_od_token(od_client_by_merchant)
    api = OdApi(token)
    assert api.get(MERCHANTS).status_code == 200
    AccessToken.objects.filter(token=token).update(expires=timezone.now() - timedelta(seconds=1))
    assert_od_error(api.get(MERCHANTS), 401, "INVALID_TOKEN")


def test_a_token_without_a_customer_scope_is_403(od_api, od_client_by_merchant):
    assert_od_error(
        od_api(od_client_by_merchant, scope="od.orders").get(MERCHANTS), 403, "INSUFFICIENT_SCOPE"
    )
    assert od_api(od_client_by_merchant, scope="od.all").get(MERCHANTS).status_code == 200


@pytest.mark.parametrize("path", ["/v2/nothing", "/v2/merchants/x/y", "/v2/", "/v2", "/v2/oauth"])
def test_an_unknown_path_under_v2_is_404_in_the_standard_shape(client, path):
    assert_od_error(client.get(path), 404, "NOT_FOUND")


def test_a_wrong_method_is_405(od_api, od_client_by_merchant):
    response = od_api(od_client_by_merchant).post(MERCHANTS, {})
    assert_od_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response["Allow"]


def test_a_body_over_the_limit_is_413(od_api, od_client_by_merchant, settings):
    settings.ZUPY_MAX_BODY_BYTES = 100
    response = od_api(od_client_by_merchant).post(MERCHANTS, {"x": "y" * 200})
    assert_od_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_request_line_over_the_limit_is_414(client):
    assert_od_error(client.get("/v2/" + "a" * 5000), 414, "URI_TOO_LONG")


def test_api_v2_keeps_problem_json(client):
    for path in ("/api/v2/nothing/", "/api/v2/customers/"):
        response = client.get(path)
        assert response["Content-Type"] == "application/problem+json", path


@pytest.mark.urls("tests.opendelivery.boom_urls")
class TestFailuresInAView:
    def test_malformed_json_is_400(self, od_api, od_client_by_merchant):
        api = od_api(od_client_by_merchant)
        response = api.client.post(ECHO, '{"points": ', content_type="application/json")
        assert_od_error(response, 400, "MALFORMED_BODY")

    def test_a_body_of_another_type_is_415(self, od_api, od_client_by_merchant):
        api = od_api(od_client_by_merchant)
        response = api.client.post(ECHO, "points=1", content_type="application/x-www-form-urlencoded")
        assert_od_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")

    def test_json_is_read(self, od_api, od_client_by_merchant):
        response = od_api(od_client_by_merchant).post(ECHO, {"points": 1})
        assert response.status_code == 200
        assert response.json() == {"echo": {"points": 1}}

    def test_an_invalid_body_is_400_with_its_details(self, od_api, od_client_by_merchant):
        body = assert_od_error(
            od_api(od_client_by_merchant).post(ECHO + "?fail=invalid"), 400, "VALIDATION_ERROR"
        )
        assert body["details"] == ["points: must be positive"]

    def test_another_apps_refusal_keeps_its_code(self, od_api, od_client_by_merchant):
        body = assert_od_error(
            od_api(od_client_by_merchant).post(ECHO + "?fail=domain"), 400, "BALANCE_LIMIT"
        )
        assert "points" in body["message"]

    def test_the_surfaces_own_refusal(self, od_api, od_client_by_merchant):
        response = od_api(od_client_by_merchant).post(ECHO + "?fail=conflict")
        body = assert_od_error(response, 409, "COUPON_ALREADY_USED")
        assert body == {
            "code": "COUPON_ALREADY_USED",
            "message": "Already used for another order.",
            "details": ["o-1"],
        }

    def test_a_crash_is_500(self, od_api, od_client_by_merchant):
        assert_od_error(od_api(od_client_by_merchant).post(ECHO + "?fail=crash"), 500, "INTERNAL_ERROR")
        assert_od_error(od_api(od_client_by_merchant).get("/v2/test/crash"), 500, "INTERNAL_ERROR")

    def test_the_database_down_is_503(self, od_api, od_client_by_merchant):
        response = od_api(od_client_by_merchant).post(ECHO + "?fail=database")
        assert_od_error(response, 503, "SERVICE_UNAVAILABLE")
        assert response["Retry-After"] == "1"


def test_the_database_down_at_the_token_lookup_is_503(od_api, od_client_by_merchant, monkeypatch):
    api = od_api(od_client_by_merchant)

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("opendelivery.auth.get_oauthlib_core", down)
    response = api.get(MERCHANTS)
    assert_od_error(response, 503, "SERVICE_UNAVAILABLE")
    assert response["Retry-After"] == "1"
