"""Admin login attempts are throttled (django-axes) by the client's own address, behind nginx too."""

import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.contrib.auth.models import User
from django.test import Client

from tests.conftest import run_together

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


class CountingHasher(MD5PasswordHasher):
    """Counts the passwords checked, each taking as long as a real hasher's check, so that parallel
    attempts overlap one another's checks as they do in production."""

    algorithm = "counting_md5"
    checked = 0
    _lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with self._lock:
            CountingHasher.checked += 1
        time.sleep(0.3)
        return super().verify(password, encoded)


def login_page(session: requests.Session, base: str) -> str:
    """The CSRF token of the login form, with its cookie in ``session`` (a browser's first step)."""
    page = session.get(base + URL, timeout=30).text
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_passwords_check_only_the_limit(live_server, settings):
    """Through the live server's threads: every attempt reads the failures before any is recorded."""
    settings.PASSWORD_HASHERS = ["tests.core.test_admin_throttling.CountingHasher"]
    User.objects.filter(username="boss").update(password=make_password("right-password"))
    CountingHasher.checked = 0
    sessions = [requests.Session() for _ in range(30)]
    tokens = [login_page(session, live_server.url) for session in sessions]
    index = itertools.count()

    def wrong_password() -> int:
        n = next(index)
        data = {"username": "boss", "password": f"wrong-{n}", "csrfmiddlewaretoken": tokens[n]}
        response = sessions[n].post(live_server.url + URL, data=data, timeout=60, allow_redirects=False)
        return response.status_code

    statuses = run_together(30, wrong_password)

    # Fewer when an attempt refused for crowding is recorded as a failure before the last slot is
    # taken (axes counts attempts made while locked out, too).
    checked = CountingHasher.checked
    assert 1 <= checked <= settings.AXES_FAILURE_LIMIT, (checked, Counter(map(str, statuses)))
    assert set(statuses) <= {200, 429} and statuses.count(429) >= 30 - settings.AXES_FAILURE_LIMIT
    # Locked out: the right password is refused without being checked.
    data = {"username": "boss", "password": "right-password", "csrfmiddlewaretoken": tokens[0]}
    assert sessions[0].post(live_server.url + URL, data=data, timeout=60).status_code == 429
    assert CountingHasher.checked == checked
