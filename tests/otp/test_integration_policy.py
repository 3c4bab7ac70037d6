"""The OTP policy per integration, as upstream sets it: the protected actions made with an API key
bound to an integration follow that integration's preset; every other key of the company, and a key
of an integration without a preset, follows the company's policy."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from companies.models import Company
from companies.services import api_key_create
from integrations.models import Integration, IntegrationKey
from integrations.services import integration_configure
from tests.conftest import Api, assert_problem
from tests.factories import CompanyFactory, CustomerFactory
from tests.otp.test_policy import REQUIRED, attempt, session_for

pytestmark = pytest.mark.django_db

ACTIONS = ["enrollment", "redemption", "coupon_usage"]


def bound_key(company: Company, slug: str, preset: str) -> Api:
    """A key of ``company`` bound, with the ops command, to its integration ``slug`` of OTP ``preset``."""
    api_key, raw = api_key_create(company=company, name=slug)
    out = StringIO()
    call_command(
        "configure_integration",
        company.pk,
        slug,
        "--otp-policy",
        preset,
        "--bind-key",
        api_key.pk,
        stdout=out,
    )
    assert json.loads(out.getvalue())["api_keys"] == [api_key.pk]
    return Api(raw)


@pytest.mark.parametrize(
    ("company_preset", "integration_preset"),
    [("strict", "trusted"), ("trusted", "strict"), ("strict", "relaxed")],
)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_bound_key_follows_its_integrations_preset_and_other_keys_the_companys(
    company_preset, integration_preset, action
):
    company = CompanyFactory.create(otp_preset=company_preset)
    kiosk = bound_key(company, "goomer", integration_preset)
    office = Api(api_key_create(company=company, name="office")[1])
    for api, preset, phone in (
        (kiosk, integration_preset, "+5511911110001"),
        (office, company_preset, "+5511911110002"),
    ):
        customer = CustomerFactory.create(company=company, phone=phone, points=1000)
        _, response = attempt(action, api, company, {}, customer=customer)
        if action in REQUIRED[preset]:
            assert_problem(response, 403, "otp-required", "otp_required")
            # With the customer's session the action goes through.
            _, verified = attempt(
                action, api, company, {"HTTP_X_OTP_SESSION": session_for(customer)}, customer=customer
            )
            assert verified.status_code in (200, 201), verified.content
        else:
            assert response.status_code in (200, 201), (preset, response.content)


def test_an_integration_without_a_preset_or_an_unbound_key_follows_the_company():
    company = CompanyFactory.create(otp_preset="strict")
    api = bound_key(company, "repediu", "company")  # the integration has no preset of its own
    _, response = attempt("redemption", api, company, {})
    assert_problem(response, 403, "otp-required", "otp_required")

    strict = CompanyFactory.create(otp_preset="strict")
    kiosk = bound_key(strict, "goomer", "trusted")
    customer, allowed = attempt("redemption", kiosk, strict, {})
    assert allowed.status_code == 200, allowed.content
    key_id = IntegrationKey.objects.get(integration__company=strict).api_key_id
    out = StringIO()
    call_command("configure_integration", strict.pk, "goomer", "--unbind-key", key_id, stdout=out)
    assert json.loads(out.getvalue())["api_keys"] == []
    _, refused = attempt("redemption", kiosk, strict, {}, customer=customer)
    assert_problem(refused, 403, "otp-required", "otp_required")


def test_a_key_serves_one_integration_of_its_own_company():
    company, other = CompanyFactory.create(), CompanyFactory.create()
    integration_configure(company=company, slug="goomer")
    theirs, _ = api_key_create(company=other, name="theirs")
    with pytest.raises(CommandError, match="no API key"):
        call_command(
            "configure_integration", company.pk, "goomer", "--bind-key", theirs.pk, stdout=StringIO()
        )
    assert not IntegrationKey.objects.exists()
    # Nothing of the command's changes is kept when a key cannot be bound.
    with pytest.raises(CommandError):
        call_command(
            "configure_integration", company.pk, "saipos", "--bind-key", theirs.pk, stdout=StringIO()
        )
    assert not IntegrationKey.objects.exists()
    assert not Integration.objects.filter(company=company, slug="saipos").exists()

    key, _ = api_key_create(company=company, name="pos")
    call_command("configure_integration", company.pk, "goomer", "--bind-key", key.pk, stdout=StringIO())
    call_command("configure_integration", company.pk, "saipos", "--bind-key", key.pk, stdout=StringIO())
    assert IntegrationKey.objects.get(api_key=key).integration.slug == "saipos"
