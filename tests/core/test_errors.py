import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def any_debug(request: pytest.FixtureRequest, settings: Settings) -> bool:
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def raw() -> Client:
    return Client(raise_request_exception=False)


def test_unknown_url_is_problem_json(raw, any_debug):
    body = assert_problem(raw.get("/api/v2/nowhere/"), 404, "not-found")
    assert body["instance"] == "/api/v2/nowhere/"
    assert_problem(raw.get("/"), 404, "not-found")


def test_missing_trailing_slash_is_404_not_a_redirect(api, any_debug):
    assert_problem(api.post("/api/v2/rewards"), 404, "not-found")


def test_wrong_method_is_405(api):
    response = api.client.delete("/api/v2/rewards/")
    assert_problem(response, 405, "method-not-allowed")


def test_html_accept_still_gets_json(api):
    response = api.client.get("/api/v2/rewards/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.urls("tests.core.boom_urls")
@pytest.mark.parametrize("path", ["/boom/drf/", "/boom/django/"])
def test_unexpected_errors_are_problem_json_500_never_html(raw, any_debug, path):
    response = raw.get(path)
    body = assert_problem(response, 500, "internal-error")
    assert "RuntimeError" not in response.content.decode()
    assert body["instance"] == path


@pytest.mark.urls("tests.core.boom_urls")
def test_database_outage_is_503_service_unavailable(raw):
    response = raw.get("/boom/db/")
    assert_problem(response, 503, "service-unavailable")
    assert response["Retry-After"] == "1"


def test_bad_host_is_problem_json_400(raw, any_debug):
    response = raw.get("/api/v2/rewards/", HTTP_HOST="evil.example")
    assert_problem(response, 400, "validation-error")


def test_admin_keeps_its_html_login(raw):
    response = raw.get("/admin/")
    assert response.status_code == 302
