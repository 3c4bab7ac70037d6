"""A rate tier's label says the limit this process enforces, read from ZUPY_RATE_LIMITS when the admin
renders, not restated in code; changing a limit needs no migration."""

from io import StringIO

import pytest
from django.core.management import call_command

from companies.models import RateTier, rate_tier_choices
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db

LIMITS = {"free": 7, "standard": 70, "enterprise": 700}


def test_the_labels_follow_the_configured_limits(settings):
    settings.ZUPY_RATE_LIMITS = LIMITS
    assert rate_tier_choices() == [
        ("free", "Free (7/min)"),
        ("standard", "Standard (70/min)"),
        ("enterprise", "Enterprise (700/min)"),
    ]


def test_the_admin_shows_the_configured_limits(admin_client, settings):
    settings.ZUPY_RATE_LIMITS = LIMITS
    company = CompanyFactory.create(rate_tier=RateTier.STANDARD)
    form = admin_client.get(f"/admin/companies/company/{company.pk}/change/").content.decode()
    assert '<option value="standard" selected>Standard (70/min)</option>' in form
    assert '<option value="enterprise">Enterprise (700/min)</option>' in form
    listing = admin_client.get("/admin/companies/company/").content.decode()
    assert "Standard (70/min)" in listing
    assert "(60/min)" not in form + listing


def test_a_changed_limit_needs_no_migration(settings):
    settings.ZUPY_RATE_LIMITS = LIMITS
    out = StringIO()
    call_command("makemigrations", "companies", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
