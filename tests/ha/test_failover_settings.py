"""DATABASE_URL naming every node: the settings make libpq keep only the node that takes writes."""

import json
import os
import subprocess
import sys

from tests.e2e.servers import ROOT


def _options(database_url: str, **env: str) -> dict[str, object]:
    environment = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    environment.update(
        DJANGO_SETTINGS_MODULE="zupy.settings", SECRET_KEY="s" * 50, DATABASE_URL=database_url, **env
    )
    show = (
        "import json, django; django.setup(); from django.conf import settings;"
        "d = settings.DATABASES['default'];"
        "print(json.dumps({**d['OPTIONS'], 'HOST': d['HOST'], 'PORT': d['PORT']}, default=str))"
    )
    run = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_a_multi_host_url_connects_only_to_the_node_that_takes_writes():
    options = _options("postgres://zupy:pw@db1:5432,db2:5432/zupy")
    assert (options["HOST"], options["PORT"]) == ("db1,db2", "5432,5432")
    assert options["target_session_attrs"] == "read-write"
    assert options["connect_timeout"] == 3
    assert options["pool"], "the pool stays on"


def test_the_urls_own_options_are_kept_and_win():
    options = _options(
        "postgres://zupy:pw@db1,db2/zupy?target_session_attrs=primary&connect_timeout=5&application_name=till",
        DB_CONNECT_TIMEOUT="9",
    )
    assert options["target_session_attrs"] == "primary"
    assert (options["connect_timeout"], options["application_name"]) == (5, "till")


def test_one_host_is_left_as_it_was():
    options = _options("postgres://zupy:pw@db:5432/zupy")
    assert "target_session_attrs" not in options and "connect_timeout" not in options
