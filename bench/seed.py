"""Bulk seeding with COPY: companies, keys, rewards, customers (with opening ledger rows), coupons."""

import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone

from companies.models import API_KEY_PREFIX, Company, api_key_digest
from companies.services import api_key_generate
from core.ids import new_id
from core.money import POINTS_BALANCE_MAX, Z_MICRO
from coupons.models import CODE_ALPHABET

SCALES = {
    "small": {"companies": 2, "customers": 1_000, "coupons": 10_000, "rewards": 50},
    "large": {"companies": 5, "customers": 100_000, "coupons": 1_000_000, "rewards": 50},
}
OPENING_POINTS = POINTS_BALANCE_MAX // 2  # enough for every redeem, room for every add
OPENING_Z_MICRO = 1000 * Z_MICRO  # 1000 Z$
MULTI_USES = 1_000_000  # validate coupons: many uses each, so a run never exhausts them
HOT_USES = 1_000_000_000


COUPON_COLUMNS = [
    "id", "company_id", "customer_id", "reward_id", "code", "status", "total_usages_allowed",
    "remaining_usages", "points_spent", "z_tokens_spent", "valid_until", "usage_date", "cancelled_at",
    "created_at", "updated_at", "origin_type",
]  # fmt: skip


@dataclass
class Seeded:
    scale: str
    keys: dict[str, str]  # company id -> raw API key
    customers: list[tuple[str, str]]  # (company id, customer id), a sample for the load scripts
    coupons: list[tuple[str, str, str]]  # (company id, customer id, coupon id)
    rewards: dict[str, list[str]]  # company id -> reward ids
    hot: tuple[str, str, str]  # (company id, customer id, coupon id) of the hot multi-use coupon

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__))

    @classmethod
    def load(cls, path: Path) -> "Seeded":
        data = json.loads(path.read_text())
        data["hot"] = tuple(data["hot"])
        return cls(**data)


def _copy(table: str, columns: list[str], rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _code(rng: random.Random, used: set[str]) -> str:
    while True:
        code = "CZ-" + "".join(rng.choice(CODE_ALPHABET) for _ in range(8))
        if code not in used:
            used.add(code)
            return code


def seed(scale: str, *, sample: int = 20_000) -> Seeded:
    shape = SCALES[scale]
    rng = random.Random(42)
    now = timezone.now()
    started = time.monotonic()
    companies = [new_id() for _ in range(shape["companies"])]
    keys = {company: api_key_generate() for company in companies}
    # Five rows: through the ORM, so each company gets its profile defaults and, by the post_save
    # signal, its loyalty program, as every company made by the service does.
    for i, c in enumerate(companies):
        Company.objects.create(
            id=c,
            name=f"Bench {i}",
            rate_tier="enterprise",
            require_otp_for_enrollment=False,
            require_otp_for_redemption=False,
            require_otp_for_coupon_usage=False,
            trust_partner_validation=True,
        )
    _copy(
        "zupy_apikey",
        ["id", "company_id", "name", "prefix", "digest", "read_only", "response_format", "created_at"],
        (
            (
                new_id(),
                c,
                "bench",
                raw[: len(API_KEY_PREFIX) + 4],
                api_key_digest(raw),
                False,
                "envelope",
                now,
            )
            for c, raw in keys.items()
        ),
    )
    rewards = {c: [new_id() for _ in range(shape["rewards"])] for c in companies}
    reward_cols = [
        "id",
        "company_id",
        "name",
        "description",
        "reward_type",
        "points_required",
        "validity_days",
        "total_usages_allowed",
        "max_redemptions_per_customer",
        "quantity_available",
        "quantity_redeemed",
        "is_active",
        "discount_type",
        "image_url",
        "created_at",
        "updated_at",
        "origin_type",
    ]
    _copy(
        "rewards_reward",
        reward_cols,
        (
            (
                rid,
                c,
                f"Reward {n}",
                "",
                "generic",
                10 + 10 * (n % 50),
                30,
                1 + n % 3,
                None,
                None,
                0,
                n % 10 != 9,
                "none",
                "",
                now,
                now,
                "loyalty_reward",
            )
            for c, ids in rewards.items()
            for n, rid in enumerate(ids)
        ),
    )
    per_company = shape["customers"] // len(companies)
    customers = [(c, new_id()) for c in companies for _ in range(per_company)]
    _copy(
        "customers_customer",
        [
            "id",
            "company_id",
            "full_name",
            "phone",
            "email",
            "cpf",
            "tier",
            "points_balance",
            "points_earned",
            "points_spent",
            "z_balance",
            "is_active",
            "last_activity_date",
            "card_number",
            "segment",
            "visit_count",
            "created_at",
            "updated_at",
        ],
        (
            (
                cid,
                c,
                f"Customer {n}",
                f"+5511{900000000 + n}",
                None,
                None,
                "default",
                OPENING_POINTS,
                OPENING_POINTS,
                0,
                OPENING_Z_MICRO,
                True,
                now,
                f"ZP-{n:010d}",  # unique per company (n is unique across the run)
                "new",
                0,
                now,
                now,
            )
            for n, (c, cid) in enumerate(customers)
        ),
    )
    _copy(
        "customers_ledgerentry",
        [
            "id",
            "company_id",
            "customer_id",
            "currency",
            "kind",
            "amount",
            "balance_before",
            "balance_after",
            "reason",
            "coupon_id",
            "api_key_id",
            "created_at",
        ],
        (
            (
                new_id(),
                c,
                cid,
                currency,
                "adjust",
                amount,
                0,
                amount,
                "bench opening balance",
                None,
                None,
                now,
            )
            for c, cid in customers
            for currency, amount in (("points", OPENING_POINTS), ("z", OPENING_Z_MICRO))
        ),
    )
    used_codes: set[str] = set()
    coupons: list[tuple[str, str, str]] = []
    per_customer = max(1, shape["coupons"] // len(customers))

    def coupon_rows() -> Iterator[tuple[object, ...]]:
        for c, cid in customers:
            company_rewards = rewards[c]
            for n in range(per_customer):
                coupon_id = new_id()
                if len(coupons) < sample and n == 0:
                    coupons.append((c, cid, coupon_id))
                uses = MULTI_USES if n == 0 else 1
                status = "active" if n % 4 else ("active" if n == 0 else "used")
                yield (
                    coupon_id,
                    c,
                    cid,
                    company_rewards[n % len(company_rewards)],
                    _code(rng, used_codes),
                    status,
                    uses,
                    0 if status == "used" else uses,
                    0,
                    0,
                    now + timedelta(days=30),
                    None,
                    None,
                    now,
                    now,
                    "loyalty_reward",
                )

    _copy("coupons_coupon", COUPON_COLUMNS, coupon_rows())
    hot_company, hot_customer = customers[0]
    hot_id = new_id()
    _copy(
        "coupons_coupon",
        [c for c in COUPON_COLUMNS if c not in ("usage_date", "cancelled_at")],
        [
            (
                hot_id,
                hot_company,
                hot_customer,
                rewards[hot_company][0],
                _code(rng, used_codes),
                "active",
                HOT_USES,
                HOT_USES,
                0,
                0,
                now + timedelta(days=365),
                now,
                now,
                "loyalty_reward",
            )
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sampled = rng.sample(customers, min(sample, len(customers)))
    took = time.monotonic() - started
    print(f"seeded {scale}: {len(customers)} customers, {len(used_codes)} coupons in {took:.1f}s")
    return Seeded(
        scale=scale,
        keys=keys,
        customers=sampled,
        coupons=coupons,
        rewards=rewards,
        hot=(hot_company, hot_customer, hot_id),
    )
