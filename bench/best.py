"""The "best SQL" ceiling: each endpoint's work in the fewest round trips, written by hand.

Same work and same guarantees as the service it stands for (coupons.services.coupon_validate,
coupons.services.coupon_redeem, customers.services.points_add, the catalog and coupon-list
selectors), measured on the success path the bench drives. A refusal (not found, used up, expired,
out of stock, too few points) makes the statement return no row; the application would then spend a
second read to say which refusal it is, only on that path.

The row to work on comes from ``bench_pick`` inside the statement (the ``p`` CTE), so the pick costs
no round trip of its own here; the same-statements ceiling needs its ids on the client and pays one.
New ids are random 108-bit hex; new coupon codes come from ``bench_code(nextval('bench_code_seq'))``
(see ``ceiling.prepare_database``), which cannot collide with each other or with any real code.
"""

from bench.scenarios import Scenario
from bench.seed import Seeded
from core.money import POINTS_BALANCE_MAX

NEW_ID = "substr(md5(random()::text), 1, 27)"
NEW_CODE = "bench_code(nextval('bench_code_seq'))"
POINTS_ADDED = 10  # the points_add scenario's body: {"amount": 10, "reason": "bench"}

# ---- Z$ and ledger amounts: the one place to adapt after the micro-unit migration -----------------
# Z$ columns (customers_customer.z_balance, coupons_coupon.z_tokens_spent) and the ledger's
# amount/balance_before/balance_after are BIGINT: points as they are, Z$ in micro-units (10^-6 Z$).
# The scenarios below spend no Z$ (the bench redeems with points only), so Z$ appear only as the
# zero they store.
Z_SPENT_NONE = "0"  # coupons_coupon.z_tokens_spent of a points-only redemption


def ledger_points(expr: str) -> str:
    """A points amount as stored in a ledger amount/balance column (bigint: points, or micro-Z$)."""
    return f"({expr})::bigint"


# ----------------------------------------------------------------------------------------------------


def pick(scenario: Scenario, seeded: Seeded, api_key_id: str) -> str:
    """The ``p`` CTE: the row's ids, from bench_pick (or the hot coupon's, fixed)."""
    if scenario.hot:
        company, customer, coupon = seeded.hot
        return (
            f"p AS (SELECT '{company}'::varchar AS company_id, '{customer}'::varchar AS customer_id, "
            f"'{coupon}'::varchar AS coupon_id, NULL::varchar AS reward_id, "
            f"'{api_key_id}'::varchar AS api_key_id)"
        )
    return (
        "p AS (SELECT company_id, customer_id, coupon_id, reward_id, api_key_id FROM bench_pick WHERE n = :n)"
    )


def validate(p: str) -> list[str]:
    """One statement: the conditional UPDATE takes the coupon's row lock (a concurrent validate waits
    and PostgreSQL re-checks ``remaining_usages > 0`` on the row it then sees, as SELECT … FOR UPDATE
    followed by a re-read does), the INSERT records the use with what is left."""
    return [
        f"""WITH {p},
c AS (
  UPDATE coupons_coupon c
     SET remaining_usages = c.remaining_usages - 1,
         status = CASE WHEN c.remaining_usages = 1 THEN 'used' ELSE c.status END,
         usage_date = now(), updated_at = now()
    FROM p
   WHERE c.id = p.coupon_id AND c.company_id = p.company_id AND c.customer_id = p.customer_id
     AND c.status = 'active' AND c.remaining_usages > 0 AND c.valid_until > now()
  RETURNING c.id, c.code, c.company_id, c.customer_id, c.remaining_usages, c.total_usages_allowed,
            c.usage_date, p.api_key_id
),
u AS (
  INSERT INTO coupons_couponuse (id, coupon_id, company_id, api_key_id, used_at, remaining_after)
  SELECT {NEW_ID}, c.id, c.company_id, c.api_key_id, c.usage_date, c.remaining_usages FROM c
  RETURNING id, used_at
)
SELECT c.id, c.code, c.remaining_usages, c.total_usages_allowed, u.used_at,
       cu.id AS customer_id, cu.points_balance, cu.z_balance
  FROM c CROSS JOIN u JOIN customers_customer cu ON cu.id = c.customer_id"""
    ]


def points_add(p: str) -> list[str]:
    """One statement: the UPDATE takes the customer's row lock and refuses a balance over the cap;
    balance_before is the locked row's balance (after - amount), so the ledger row is exact."""
    amount = ":amount"
    return [
        f"""WITH {p},
c AS (
  UPDATE customers_customer c
     SET points_balance = c.points_balance + {amount}, points_earned = c.points_earned + {amount},
         last_activity_date = now(), updated_at = now()
    FROM p
   WHERE c.id = p.customer_id AND c.company_id = p.company_id
     AND c.points_balance + {amount} <= {POINTS_BALANCE_MAX}
  RETURNING c.id, c.company_id, c.points_balance, p.api_key_id
),
l AS (
  INSERT INTO customers_ledgerentry (id, company_id, customer_id, currency, kind, amount, balance_before,
                                     balance_after, reason, coupon_id, api_key_id, created_at)
  SELECT {NEW_ID}, c.company_id, c.id, 'points', 'earn', {ledger_points(amount)},
         {ledger_points(f"c.points_balance - {amount}")}, {ledger_points("c.points_balance")},
         'bench', NULL, c.api_key_id, now()
    FROM c
  RETURNING id, customer_id, amount, balance_before, balance_after, reason, created_at
)
SELECT * FROM l"""
    ]


def redeem(p: str) -> list[str]:
    """One round trip, two statements in a pipeline inside one transaction.

    The customer's row is locked first (as coupon_redeem does), by a statement of its own: under READ
    COMMITTED the second statement then takes a snapshot that already shows every redemption that
    committed before the lock was granted, so the per-customer limit counts them. (In one statement
    the count would use a snapshot older than the lock.) The second statement takes stock with a
    conditional UPDATE … RETURNING (row lock on the reward, re-checked by PostgreSQL), inserts the
    coupon, debits the customer and writes the ledger row."""
    return [
        "BEGIN",
        f"""WITH {p}
SELECT c.id FROM customers_customer c JOIN p ON c.id = p.customer_id AND c.company_id = p.company_id
   FOR UPDATE OF c""",
        f"""WITH {p},
cu AS (
  SELECT c.id, c.company_id, c.points_balance FROM customers_customer c JOIN p ON c.id = p.customer_id
   WHERE c.company_id = p.company_id
),
r AS (
  UPDATE rewards_reward r
     SET quantity_redeemed = r.quantity_redeemed + 1, quantity_available = r.quantity_available - 1
    FROM p, cu
   WHERE r.id = p.reward_id AND r.company_id = p.company_id AND r.is_active
     AND (r.start_date IS NULL OR r.start_date <= now()) AND (r.end_date IS NULL OR now() < r.end_date)
     AND (r.quantity_available IS NULL OR r.quantity_available > 0)
     AND r.points_required <= cu.points_balance
     AND (COALESCE(r.max_redemptions_per_customer, CASE WHEN r.points_required = 0 THEN 1 END) IS NULL
          OR (SELECT count(*) FROM coupons_coupon x
               WHERE x.customer_id = cu.id AND x.reward_id = r.id AND x.status <> 'cancelled')
             < COALESCE(r.max_redemptions_per_customer, CASE WHEN r.points_required = 0 THEN 1 END))
  RETURNING r.id, r.name, r.points_required, r.total_usages_allowed, r.validity_days, r.origin_type
),
co AS (
  INSERT INTO coupons_coupon (id, company_id, customer_id, reward_id, code, status, total_usages_allowed,
                              remaining_usages, origin_type, points_spent, z_tokens_spent, valid_until,
                              usage_date, cancelled_at, created_at, updated_at)
  SELECT {NEW_ID}, cu.company_id, cu.id, r.id, {NEW_CODE}, 'active', r.total_usages_allowed,
         r.total_usages_allowed, r.origin_type, r.points_required, {Z_SPENT_NONE},
         now() + make_interval(days => r.validity_days), NULL, NULL, now(), now()
    FROM cu CROSS JOIN r
  RETURNING id, code, remaining_usages, total_usages_allowed, valid_until, created_at, points_spent
),
d AS (
  UPDATE customers_customer c
     SET points_balance = c.points_balance - co.points_spent,
         points_spent = c.points_spent + co.points_spent,
         last_activity_date = now(), updated_at = now()
    FROM co
   WHERE c.id = (SELECT id FROM cu)
  RETURNING c.id, c.company_id, c.points_balance, c.z_balance
),
l AS (
  INSERT INTO customers_ledgerentry (id, company_id, customer_id, currency, kind, amount, balance_before,
                                     balance_after, reason, coupon_id, api_key_id, created_at)
  SELECT {NEW_ID}, d.company_id, d.id, 'points', 'redeem', {ledger_points("-co.points_spent")},
         {ledger_points("d.points_balance + co.points_spent")}, {ledger_points("d.points_balance")},
         left('Redeemed ' || r.name || ': ' || co.code, 255), co.id, p.api_key_id, now()
    FROM d CROSS JOIN co CROSS JOIN r CROSS JOIN p
  RETURNING id
)
SELECT d.id AS customer_id, co.id, co.code, co.points_spent, d.points_balance, d.z_balance,
       co.remaining_usages, co.total_usages_allowed, co.valid_until, co.created_at
  FROM d CROSS JOIN co CROSS JOIN l""",
        "COMMIT",
    ]


def catalog(p: str) -> list[str]:
    """One statement: the customer must exist in the company (no row: 404), then the first page of
    rewards with the customer's non-cancelled redemptions of each (the same index the API uses)."""
    return [
        f"""WITH {p}
SELECT c.id AS customer_id, r.id, r.name, r.description, r.reward_type, r.points_required,
       r.monetary_value, r.validity_days, r.total_usages_allowed, r.max_redemptions_per_customer,
       r.is_active, r.quantity_available, r.quantity_redeemed, r.discount_type, r.discount_percentage,
       r.discount_fixed_amount, r.maximum_discount_value, r.image_url, r.company_id, r.start_date,
       r.end_date, r.created_at, r.updated_at,
       (SELECT count(*) FROM coupons_coupon u
         WHERE u.customer_id = c.id AND u.reward_id = r.id AND u.status <> 'cancelled') AS coupons_taken_count
  FROM p JOIN customers_customer c ON c.id = p.customer_id AND c.company_id = p.company_id
  LEFT JOIN LATERAL (
    SELECT * FROM rewards_reward r WHERE r.company_id = c.company_id ORDER BY r.id LIMIT 21
  ) r ON true"""
    ]


def coupon_list(p: str) -> list[str]:
    """One statement: the customer must exist in the company, then the first page of their coupons,
    newest first, with the reward's name."""
    return [
        f"""WITH {p}
SELECT c.id AS customer_id, c.full_name, x.*
  FROM p JOIN customers_customer c ON c.id = p.customer_id AND c.company_id = p.company_id
  LEFT JOIN LATERAL (
    SELECT co.id, co.code, co.status, co.total_usages_allowed, co.remaining_usages, co.points_spent,
           co.valid_until, co.usage_date, co.created_at, co.reward_id, r.name AS reward_name
      FROM coupons_coupon co JOIN rewards_reward r ON r.id = co.reward_id
     WHERE co.company_id = c.company_id AND co.customer_id = c.id
     ORDER BY co.id DESC LIMIT 21
  ) x ON true"""
    ]


BEST = {
    "catalog": catalog,
    "coupon_list": coupon_list,
    "redeem": redeem,
    "validate": validate,
    "validate_hot": validate,
    "points_add": points_add,
}

# The table each write scenario adds exactly one row to per transaction that did its work: a
# statement whose conditions fail returns no row and still counts as a pgbench transaction, so the
# bench counts these rows after each run and fails the run if any transaction did nothing.
WRITES = {
    "redeem": "coupons_coupon",
    "validate": "coupons_couponuse",
    "validate_hot": "coupons_couponuse",
    "points_add": "customers_ledgerentry",
}


def statements(scenario: Scenario, seeded: Seeded, api_key_id: str) -> list[str] | None:
    """The best-SQL statements of a scenario (BEGIN/COMMIT included where needed), or None."""
    build = BEST.get(scenario.name)
    return build(pick(scenario, seeded, api_key_id)) if build else None


def round_trips(sql: list[str]) -> int:
    """Round trips the script makes: a pipelined script (a transaction) makes one."""
    return 1 if sql and sql[0] == "BEGIN" else len(sql)


def pgbench_script(scenario: Scenario, seeded: Seeded, api_key_id: str, pick_count: int) -> str:
    sql = statements(scenario, seeded, api_key_id)
    assert sql is not None
    head = [f"\\set n random(1, {pick_count})", f"\\set amount {POINTS_ADDED}"]
    body = [" ".join(statement.split()) + ";" for statement in sql]
    if round_trips(sql) == 1 and len(sql) > 1:
        body = ["\\startpipeline", *body, "\\endpipeline"]
    return "\n".join(head + body) + "\n"
