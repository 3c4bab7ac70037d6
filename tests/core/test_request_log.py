"""The plain log format (LOG_FORMAT=plain, scripts/serve's default) says what happened on its own."""

import logging
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_plain_line_shows_method_path_status_and_duration(settings, caplog):
    caplog.set_level(logging.INFO, logger="zupy.request")
    Client().get("/api/v2/nowhere/")
    (record,) = [r for r in caplog.records if r.name == "zupy.request"]
    formatter = logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"])

    line = formatter.format(record)

    assert re.search(r" INFO zupy\.request GET /api/v2/nowhere/ 404 \d+\.\dms$", line), line
