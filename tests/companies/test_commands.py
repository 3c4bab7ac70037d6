import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from companies.models import ApiKey, Company
from core.money import z_format
from customers.models import Customer
from customers.services import customer_set_balances
from demo.management.commands.seed_demo import GUIDE_CUSTOMER_ID
from rewards.models import Reward
from tests.conftest import Api

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_company_prints_its_id_with_preset_and_tier():
    company_id = json.loads(
        run(
            "create_company",
            "Cantina",
            "--email",
            "ola@cantina.example.com",
            "--otp-policy",
            "relaxed",
            "--tier",
            "standard",
        )
    )["company_id"]
    company = Company.objects.get(pk=company_id)
    assert (company.name, company.rate_tier, company.otp_preset) == ("Cantina", "standard", "relaxed")


def test_new_company_defaults_to_strict_and_free():
    company = Company.objects.get(
        pk=json.loads(run("create_company", "Bistro", "--email", "ola@bistro.example.com"))["company_id"]
    )
    assert (company.otp_preset, company.rate_tier) == ("strict", "free")


def test_create_api_key_prints_a_working_key_once():
    company_id = json.loads(run("create_company", "Cantina", "--email", "ola@cantina.example.com"))[
        "company_id"
    ]
    out = json.loads(run("create_api_key", company_id, "--read-only"))
    assert out["api_key"].startswith("zupy_pk_")
    assert ApiKey.objects.get(pk=out["api_key_id"]).read_only is True
    assert Api(out["api_key"]).get("/api/v2/rewards/").status_code == 200
    with pytest.raises(CommandError):
        run("create_api_key", "nope")


def test_seed_demo_json_covers_every_case_and_is_safe_to_rerun():
    first = json.loads(run("seed_demo", "--json"))
    assert first["customer_id"] == GUIDE_CUSTOMER_ID
    assert set(first["rewards"]) == {
        "Free Dessert", "10% Off Next Order", "3x Free Coffee", "Welcome Gift", "Summer Special (inactive)",
    }  # fmt: skip
    rewards = {r.name: r for r in Reward.objects.filter(company_id=first["company_id"])}
    assert (rewards["3x Free Coffee"].total_usages_allowed, rewards["3x Free Coffee"].points_required) == (
        3,
        300,
    )
    assert rewards["Welcome Gift"].points_required == 0 and rewards["Welcome Gift"].redemption_limit == 1
    assert rewards["Summer Special (inactive)"].is_active is False
    assert (rewards["10% Off Next Order"].points_required, rewards["10% Off Next Order"].validity_days) == (
        500,
        15,
    )
    customer_set_balances(customer_id=first["customer_id"], points=3, z_balance=0, reason="spent it all")

    second = json.loads(run("seed_demo", "--json"))

    assert (second["company_id"], second["customer_id"], second["rewards"]) == (
        first["company_id"], first["customer_id"], first["rewards"],
    )  # fmt: skip
    assert second["api_key"] != first["api_key"]
    customer = Customer.objects.get(pk=second["customer_id"])
    assert (customer.points_balance, z_format(customer.z_balance)) == (1000, "1150.000000")
    assert Company.objects.get(pk=first["company_id"]).otp_preset == "trusted"
    call_command("ledger_check", stdout=StringIO())


def test_seed_demo_key_file_keeps_one_key_across_runs_and_a_lost_file_revokes_it(tmp_path):
    key_file = tmp_path / "demo-api-key"
    first = json.loads(run("seed_demo", "--json", "--key-file", str(key_file)))
    assert first["api_key_reused"] is False and key_file.read_text() == first["api_key"] + "\n"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first["program_id"] == Company.objects.get(pk=first["company_id"]).loyalty_program.pk

    again = json.loads(run("seed_demo", "--json", "--key-file", str(key_file)))
    assert (again["api_key"], again["api_key_reused"]) == (first["api_key"], True)
    assert ApiKey.objects.filter(company_id=first["company_id"], revoked_at=None).count() == 1

    key_file.unlink()
    fresh = json.loads(run("seed_demo", "--json", "--key-file", str(key_file)))
    assert fresh["api_key"] != first["api_key"] and fresh["api_key_reused"] is False
    assert Api(first["api_key"]).get("/api/v2/rewards/").status_code == 401
    assert Api(fresh["api_key"]).get("/api/v2/rewards/").status_code == 200
    assert ApiKey.objects.filter(company_id=first["company_id"], revoked_at=None).count() == 1


def test_seed_demo_one_company_per_preset():
    trusted = json.loads(run("seed_demo", "--json"))
    strict = json.loads(run("seed_demo", "--json", "--otp-policy", "strict"))
    assert trusted["company_id"] != strict["company_id"]
    assert strict["customer_id"] != GUIDE_CUSTOMER_ID
    assert Company.objects.get(pk=strict["company_id"]).otp_preset == "strict"


def test_seed_demo_text_output_names_key_and_customer():
    out = run("seed_demo")
    assert "zupy_pk_" in out and GUIDE_CUSTOMER_ID in out


def test_ledger_check_names_customers_whose_balance_drifted():
    seeded = json.loads(run("seed_demo", "--json"))
    Customer.objects.filter(pk=seeded["customer_id"]).update(points_balance=5)  # bypasses the ledger
    err = StringIO()
    with pytest.raises(CommandError, match="1 customer"):
        call_command("ledger_check", stdout=StringIO(), stderr=err)
    assert seeded["customer_id"] in err.getvalue()
