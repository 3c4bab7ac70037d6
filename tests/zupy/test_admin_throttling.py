"""Admin login attempts are throttled (django-axes) by the client's own address, behind nginx too."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

URL = "/admin/login/?next=/admin/"


def attempt(client: Client, password: str, **meta: Any) -> int:  # WSGI environ extras
    response = client.post(URL, {"username": "boss", "password": password}, **meta)
    return response.status_code


@pytest.fixture(autouse=True)
def boss() -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "right-password")


def test_the_sixth_attempt_is_refused_even_with_the_right_password(settings):
    client = Client()
    statuses = [
        attempt(client, "wrong", REMOTE_ADDR="203.0.113.9") for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)  # the form again, with an error
    assert attempt(client, "right-password", REMOTE_ADDR="203.0.113.9") == 429


def test_another_address_is_not_locked_out():
    for _ in range(5):
        attempt(Client(), "wrong", REMOTE_ADDR="203.0.113.9")
    assert attempt(Client(), "right-password", REMOTE_ADDR="198.51.100.7") == 302


def test_without_a_proxy_a_forged_forwarded_for_changes_nothing():
    for n in range(5):
        attempt(Client(), "wrong", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert attempt(Client(), "right-password", REMOTE_ADDR="203.0.113.9") == 429


def proxied_settings() -> dict[str, object]:
    """What zupy/settings.py makes of TRUSTED_PROXY_COUNT=1 (compose's api service, behind nginx)."""
    code = (
        "import json, zupy.settings as s; names = ['AXES_IPWARE_META_PRECEDENCE_ORDER', "
        "'AXES_IPWARE_PROXY_COUNT', 'IPWARE_STRICT']; print(json.dumps({n: getattr(s, n) for n in names}))"
    )
    env = {**os.environ, "TRUSTED_PROXY_COUNT": "1", "SECRET_KEY": "x"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_behind_nginx_the_address_nginx_saw_counts_not_what_the_client_wrote(settings):
    for name, value in proxied_settings().items():
        setattr(settings, name, value)
    nginx = "172.18.0.5"
    for n in range(5):  # nginx appends the real client to whatever the client sent
        forwarded = f"10.0.0.{n}, 203.0.113.9"
        attempt(Client(), "wrong", REMOTE_ADDR=nginx, HTTP_X_FORWARDED_FOR=forwarded)
    assert attempt(Client(), "right-password", REMOTE_ADDR=nginx, HTTP_X_FORWARDED_FOR="203.0.113.9") == 429
    # Everyone comes from nginx's address: a different client is not locked out with the first one.
    assert attempt(Client(), "right-password", REMOTE_ADDR=nginx, HTTP_X_FORWARDED_FOR="198.51.100.7") == 302
