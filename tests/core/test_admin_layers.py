"""The admin's middleware (sessions, CSRF, authentication, messages, axes, whitenoise) runs for the admin
and the static files exactly as it did from MIDDLEWARE, and never for the partner API."""

import re
from pathlib import Path
from typing import Any, NoReturn

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.test import Client
from django.urls import path

from core.admin_layers import check_admin_csrf_cookie, check_admin_layers
from tests.conftest import Api
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def boss() -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "right-password")


def csrf_token_of(page: Any) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert match, "the login form carries no CSRF token"
    return match.group(1)


# --- The admin keeps every layer ---------------------------------------------------------------------
def test_the_admin_login_page_sets_its_csrf_cookie_and_the_login_opens_a_session(boss: User) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get(LOGIN)
    assert page.status_code == 200
    assert "csrftoken" in page.cookies
    login = client.post(
        LOGIN, {"username": "boss", "password": "right-password", "csrfmiddlewaretoken": csrf_token_of(page)}
    )
    assert login.status_code == 302, login.content[:300]
    assert "sessionid" in login.cookies
    assert client.get("/admin/").status_code == 200  # the session's user, through AuthenticationMiddleware


def test_an_admin_post_without_its_csrf_token_is_refused(boss: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)  # the cookie, but not the form's token
    response = client.post(LOGIN, {"username": "boss", "password": "right-password"})
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert "sessionid" not in response.cookies


def test_axes_still_locks_the_admin_login_out(settings: Any, boss: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "boss", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    locked = client.post(LOGIN, {"username": "boss", "password": "right-password"}, REMOTE_ADDR="203.0.113.9")
    assert locked.status_code == 429


def test_a_message_the_admin_sets_is_shown_on_the_next_page(boss: User) -> None:
    client = Client()
    client.force_login(boss)
    # Saving redirects, and the next page shows the message MessageMiddleware kept in between.
    response = client.post("/admin/auth/group/add/", {"name": "tills"}, follow=True)
    assert response.status_code == 200
    assert b"was added successfully" in response.content


def test_static_files_are_served_after_collectstatic(settings: Any, tmp_path: Path) -> None:
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()  # a new handler: whitenoise indexes STATIC_ROOT when it is built
    css = client.get("/static/admin/css/base.css")
    assert css.status_code == 200
    assert css.getvalue() == (tmp_path / "admin/css/base.css").read_bytes()
    docs = client.get("/api/v2/docs/")
    assert docs.status_code == 200
    scripts = re.findall(r'<script src="([^"]+)"', docs.content.decode())
    assert scripts and all(src.startswith("/static/drf_spectacular_sidecar/") for src in scripts), scripts
    assert all(client.get(src).status_code == 200 for src in scripts)


# --- The partner API skips them ----------------------------------------------------------------------
def test_an_api_request_never_touches_a_session_or_csrf(api: Api, company: Any) -> None:
    customer = CustomerFactory.create(company=company)
    # A browser's cookies along with the key: nothing reads them, nothing answers with one.
    api.client.cookies["sessionid"] = "not-a-session"
    api.client.cookies["csrftoken"] = "x" * 32
    api.client.handler.enforce_csrf_checks = True
    for response in (
        api.get("/api/v2/rewards/", customer_id=customer.pk),
        api.post(f"/api/v2/customers/{customer.pk}/points/add/", {"amount": 10, "reason": "till"}),
    ):
        assert response.status_code in (200, 201), response.content[:300]
        assert not response.cookies
        assert "Cookie" not in response.get("Vary", "")
        request = response.wsgi_request
        assert not hasattr(request, "session")
        assert "_messages" not in vars(request)
        assert "csrf_processing_done" not in vars(request)
        # The headers every answer carries (SecurityMiddleware, XFrameOptionsMiddleware, CommonMiddleware).
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Length"] == str(len(response.content))


@pytest.mark.parametrize(
    "path", ["/healthz", "/v2/merchants", "/.well-known/opendelivery", "/passkit/v1/log"]
)
def test_the_other_surfaces_skip_them_too(path: str) -> None:
    response = Client().get(path)
    assert not response.cookies
    assert not hasattr(response.wsgi_request, "session")
    assert response["X-Frame-Options"] == "DENY"


def test_a_host_this_server_does_not_serve_is_refused_on_every_path() -> None:
    for url in ("/api/v2/rewards/", "/healthz", "/admin/login/", "/static/admin/css/base.css"):
        response = Client().get(url, HTTP_HOST="evil.example")
        assert response.status_code == 400, url


# --- The hooks run as they would from MIDDLEWARE -----------------------------------------------------
EVENTS: list[str] = []


class Recorder:
    """Writes down each of its calls and hooks; ``name`` tells the two apart."""

    name = ""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        EVENTS.append(f"{self.name} in")
        response = self.get_response(request)
        EVENTS.append(f"{self.name} out")
        return response

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        EVENTS.append(f"{self.name} view")

    def process_template_response(self, request: HttpRequest, response: Any) -> Any:
        EVENTS.append(f"{self.name} template")
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        EVENTS.append(f"{self.name} exception")
        return HttpResponse("handled", status=418) if self.name == "inner" else None


class Outer(Recorder):
    name = "outer"


class First(Recorder):
    name = "first"


class Inner(Recorder):
    name = "inner"


def boom(request: HttpRequest) -> NoReturn:
    raise RuntimeError("boom")


def page(request: HttpRequest) -> TemplateResponse:
    return TemplateResponse(request, engines["django"].from_string("ok"))


urlpatterns = [path("admin/boom/", boom), path("admin/page/", page), path("api/page/", page)]
HERE = __name__


def events_for(settings: Any, url: str, *, scoped: bool) -> tuple[list[str], int]:
    layers = [f"{HERE}.First", f"{HERE}.Inner"]
    if scoped:
        settings.MIDDLEWARE = [f"{HERE}.Outer", "core.admin_layers.AdminLayersMiddleware"]
        settings.ADMIN_LAYERS = layers
    else:
        settings.MIDDLEWARE = [f"{HERE}.Outer", *layers]
    EVENTS.clear()
    status = Client().get(url).status_code
    return list(EVENTS), status


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/admin/boom/", "/admin/page/"])
def test_under_the_admin_the_hooks_run_in_the_order_django_runs_them(settings: Any, url: str) -> None:
    assert events_for(settings, url, scoped=True) == events_for(settings, url, scoped=False)


@pytest.mark.urls(__name__)
def test_elsewhere_none_of_the_layers_or_their_hooks_run(settings: Any) -> None:
    events, status = events_for(settings, "/api/page/", scoped=True)
    assert status == 200
    assert events == ["outer in", "outer view", "outer template", "outer out"]


# --- The checks that stand in for the admin's own ----------------------------------------------------
def check_ids() -> list[str]:
    return [message.id or "" for message in check_admin_layers()]


def test_the_stack_as_configured_passes_its_checks() -> None:
    assert check_ids() == []


def test_a_stack_without_sessions_for_the_admin_fails_its_checks(settings: Any) -> None:
    settings.ADMIN_LAYERS = [layer for layer in settings.ADMIN_LAYERS if "sessions" not in layer]
    assert check_ids() == ["core.E002"]
    settings.MIDDLEWARE = [layer for layer in settings.MIDDLEWARE if "admin_layers" not in layer]
    assert check_ids() == ["core.E001", "core.E002"]


def test_axes_out_of_its_place_or_a_layer_in_both_lists_fails_its_checks(settings: Any) -> None:
    settings.ADMIN_LAYERS = [*settings.ADMIN_LAYERS[-1:], *settings.ADMIN_LAYERS[:-1]]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.messages.middleware.MessageMiddleware"]
    assert check_ids() == ["core.E004", "core.E005"]


def test_an_insecure_csrf_cookie_is_still_reported_by_the_deploy_check(settings: Any) -> None:
    settings.CSRF_COOKIE_SECURE = False
    assert [message.id for message in check_admin_csrf_cookie()] == ["security.W016"]
    settings.CSRF_COOKIE_SECURE = True
    assert check_admin_csrf_cookie() == []
