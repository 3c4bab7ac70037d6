import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from companies.models import ApiKey, Company, OtpPreset, RateTier, api_key_digest
from companies.services import api_key_create, api_key_revoke, company_create, loyalty_program_save
from customers.models import Customer
from customers.services import customer_create, customer_set_balances
from rewards.models import DiscountType, Reward, RewardType

# The customer id of the guide's examples: the trusted demo customer gets it, so the guide's
# "Full Example" script runs with only BASE_URL and the key changed.
GUIDE_CUSTOMER_ID = "2awTHloSJX7kGGprFerOOsvABcd"

# A restaurant in Brazil: its wallet passes speak Portuguese ("Seu saldo agora é 1.234 pontos"),
# so its points have the Portuguese name too.
DEMO_POINTS_NAME = "pontos"

# The name of the key kept in a --key-file, so that replacing it revokes only the keys it replaced.
KEPT_KEY_NAME = "seed_demo (kept)"

CATALOG: list[dict[str, Any]] = [
    {
        "name": "Free Dessert",
        "points_required": 200,
        "validity_days": 30,
        "description": "Any dessert on the menu.",
    },
    {
        "name": "10% Off Next Order",
        "points_required": 500,
        "validity_days": 15,
        "discount_type": DiscountType.PERCENTAGE,
        "discount_percentage": Decimal("10.00"),
        "description": "10% off your whole next order.",
    },
    {
        "name": "3x Free Coffee",
        "points_required": 300,
        "validity_days": 30,
        "total_usages_allowed": 3,
        "description": "Three coffees, one per visit.",
    },
    {
        "name": "Welcome Gift",
        "points_required": 0,
        "validity_days": 30,
        "reward_type": RewardType.WELCOME,
        "description": "Free, once per customer.",
    },
    {
        "name": "Summer Special (inactive)",
        "points_required": 400,
        "validity_days": 30,
        "is_active": False,
        "description": "Out of season.",
    },
]


class Command(BaseCommand):
    help = "Create (or refresh) a demo company, customer and catalog, and print an API key (see --key-file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of text.")
        parser.add_argument("--otp-policy", choices=OtpPreset.values, default=OtpPreset.TRUSTED)
        parser.add_argument(
            "--key-file",
            type=Path,
            help="Reuse the key stored in this file while it is an active key of the demo company; "
            "otherwise make one, store it there and revoke the keys an earlier one left (scripts/serve).",
        )

    def handle(self, *args: object, **options: Any) -> None:
        preset = options["otp_policy"]
        with transaction.atomic():
            name = f"Demo Restaurant ({preset})"
            company = Company.objects.filter(name=name).first() or company_create(
                name=name, email="contato@demo.example.com", otp_preset=preset, rate_tier=RateTier.ENTERPRISE
            )
            program = company.loyalty_program
            if program.points_name != DEMO_POINTS_NAME:
                program.points_name = DEMO_POINTS_NAME
                loyalty_program_save(program=program)
            phone = "+5511987654321"
            customer = Customer.objects.filter(company=company, phone=phone).first()
            if customer is None:
                wanted_id = GUIDE_CUSTOMER_ID if preset == OtpPreset.TRUSTED else None
                if wanted_id and Customer.objects.filter(pk=wanted_id).exists():
                    wanted_id = None
                customer = customer_create(
                    company=company,
                    full_name="Maria Silva",
                    phone=phone,
                    email="maria.silva@example.com",
                    customer_id=wanted_id,
                )
            customer_set_balances(
                customer_id=customer.pk,
                points=1000,
                z_balance=Decimal("1150"),
                reason="seed_demo: demo balances",
            )
            rewards = {}
            for item in CATALOG:
                fields = dict(item)
                reward = Reward.objects.filter(company=company, name=fields.pop("name")).first()
                if reward is None:
                    reward = Reward.objects.create(company=company, name=item["name"], **fields)
                rewards[reward.name] = reward.pk
            key_file = options["key_file"]
            raw = _kept_key(company, key_file) if key_file else None
            reused = raw is not None
            if raw is None:
                key, raw = api_key_create(company=company, name=KEPT_KEY_NAME if key_file else "seed_demo")
                if key_file:
                    # One kept key at a time: the one it replaces (its file lost or edited) stops working.
                    kept = ApiKey.objects.filter(company=company, name=KEPT_KEY_NAME, revoked_at=None)
                    for old in kept.exclude(pk=key.pk):
                        api_key_revoke(api_key=old)
                    _write_secret(key_file, raw)
        result = {
            "api_key": raw,
            "api_key_reused": reused,
            "company_id": company.pk,
            "program_id": company.loyalty_program.pk,
            "customer_id": customer.pk,
            "rewards": rewards,
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"Demo company:  {company.name} ({company.pk}), OTP policy {preset}")
        self.stdout.write(f"API key:       {raw}{' (reused)' if reused else ''}")
        self.stdout.write(f"Program id:    {company.loyalty_program.pk}")
        self.stdout.write(f"Customer id:   {customer.pk} (1000 points, 1150 Z$)")
        for reward_name, reward_id in rewards.items():
            self.stdout.write(f"Reward:        {reward_id}  {reward_name}")


def _kept_key(company: Company, key_file: Path) -> str | None:
    """The key stored in ``key_file`` if it is still an active key of ``company``."""
    try:
        raw = key_file.read_text().strip()
    except FileNotFoundError:
        return None
    digest = api_key_digest(raw)
    exists = ApiKey.objects.filter(company=company, digest=digest, revoked_at=None).exists()
    return raw if exists else None


def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` readable by its owner only (it is a working API key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")
