"""DATABASE_URL naming every node: the settings make libpq keep only the node that takes writes."""

import json
import os
import subprocess
import sys
from typing import Any

from tests.e2e.servers import ROOT

SHOW_PRIMARY = "{**d['default']['OPTIONS'], 'HOST': d['default']['HOST'], 'PORT': d['default']['PORT']}"


def _settings(shown: str, **env: str) -> Any:
    """``shown`` (an expression of ``d``, settings.DATABASES) as the settings make it from ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL"}}
    environment.update(DJANGO_SETTINGS_MODULE="zupy.settings", SECRET_KEY="s" * 50, **env)
    show = (
        "import json, django; django.setup(); from django.conf import settings;"
        f"d = settings.DATABASES; print(json.dumps({shown}, default=str))"
    )
    run = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_a_multi_host_url_connects_only_to_the_node_that_takes_writes():
    options = _settings(SHOW_PRIMARY, DATABASE_URL="postgres://zupy:pw@db1:5432,db2:5432/zupy")
    assert (options["HOST"], options["PORT"]) == ("db1,db2", "5432,5432")
    assert options["target_session_attrs"] == "read-write"
    assert options["connect_timeout"] == 3
    assert options["pool"], "the pool stays on"


def test_the_urls_own_options_are_kept_and_win():
    options = _settings(
        SHOW_PRIMARY,
        DATABASE_URL="postgres://zupy:pw@db1,db2/zupy?target_session_attrs=primary&connect_timeout=5"
        "&application_name=till",
        DB_CONNECT_TIMEOUT="9",
    )
    assert options["target_session_attrs"] == "primary"
    assert (options["connect_timeout"], options["application_name"]) == (5, "till")


def test_one_host_is_left_as_it_was():
    options = _settings(SHOW_PRIMARY, DATABASE_URL="postgres://zupy:pw@db:5432/zupy")
    assert "target_session_attrs" not in options and "connect_timeout" not in options


def test_a_replica_beside_a_multi_host_primary_does_not_demand_a_writable_server():
    """The standby a replica URL names is read-only: the primary's read-write target is not copied."""
    options = _settings(
        "d['replica']['OPTIONS']",
        DATABASE_URL="postgres://zupy:pw@db1,db2/zupy",
        DATABASE_REPLICA_URL="postgres://zupy:pw@db1,db2/zupy?target_session_attrs=prefer-standby",
    )
    assert options["target_session_attrs"] == "prefer-standby"
    bare = _settings(
        "d['replica']['OPTIONS']",
        DATABASE_URL="postgres://zupy:pw@db1,db2/zupy",
        DATABASE_REPLICA_URL="postgres://zupy:pw@db2/zupy",
    )
    assert "target_session_attrs" not in bare
