"""create_od_client and link_od_merchant: the secret printed once, the links they make."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from opendelivery.models import OdClient
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_a_by_merchant_client_is_linked_to_its_company_under_its_external_code(client):
    company = CompanyFactory.create()
    made = _run("create_od_client", "POS", "--kind", "by_merchant", "--company", company.pk)
    od_client = OdClient.objects.get(application__client_id=made["client_id"])
    assert made["merchant_id"] == str(company.od_merchant.external_code)
    assert made["client_secret"] not in od_client.application.client_secret
    token = client.post(
        "/v2/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
        content_type="application/json",
    )
    assert token.status_code == 200


def test_a_by_merchant_client_may_be_given_its_merchant_id():
    company = CompanyFactory.create()
    made = _run(
        "create_od_client", "POS", "--kind", "by_merchant", "--company", company.pk, "--merchant-id", "loja-1"
    )
    assert made["merchant_id"] == "loja-1"


def test_a_by_app_client_is_linked_company_by_company():
    made = _run("create_od_client", "Platform", "--kind", "by_app", "--scopes", "od.all")
    assert made["merchant_id"] is None and made["scopes"] == "od.all"
    first, second = CompanyFactory.create(), CompanyFactory.create()
    _run("link_od_merchant", made["client_id"], first.pk, "m-1")
    _run("link_od_merchant", made["od_client_id"], second.pk, "m-2")
    od_client = OdClient.objects.get(pk=made["od_client_id"])
    assert sorted(od_client.links.values_list("merchant_id", flat=True)) == ["m-1", "m-2"]
    with pytest.raises(CommandError, match="already"):
        _run("link_od_merchant", made["client_id"], first.pk, "m-3")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--kind", "by_merchant"], "names its company"),
        (["--kind", "by_app", "--scopes", "od.orders"], "Scopes"),
        (["--kind", "by_merchant", "--company", "nope"], "No company"),
    ],
    ids=["no-company", "unknown-scope", "unknown-company"],
)
def test_bad_arguments_are_refused_and_write_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        _run("create_od_client", "X", *args)
    assert not OdClient.objects.exists()


def test_a_by_merchant_client_cannot_be_linked_again(od_client_by_merchant):
    with pytest.raises(CommandError, match="own company"):
        _run("link_od_merchant", od_client_by_merchant.pk, CompanyFactory.create().pk, "m-9")
