"""The measured requests, and the SQL each one issues (captured from Django, not written by hand)."""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.seed import Seeded

if TYPE_CHECKING:  # the test client's response type, as django-stubs names it
    from django.test.client import _MonkeyPatchedWSGIResponse

REQUEST_LINES = 20_000


@dataclass(frozen=True)
class Row:
    company: str
    customer: str
    coupon: str
    reward: str


def rows(seeded: Seeded) -> list[Row]:
    """The id tuples both load generators draw from (row n of the wrk file = row n of bench_pick)."""
    rng = random.Random(7)
    out = []
    for company, customer, coupon in seeded.coupons:
        active = [r for n, r in enumerate(seeded.rewards[company]) if n % 10 != 9]
        out.append(Row(company, customer, coupon, rng.choice(active)))
    return out


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: Callable[[Row], str]
    body: str = ""
    hot: bool = False

    def row_for(self, seeded: Seeded, row: Row) -> Row:
        if self.hot:
            company, customer, coupon = seeded.hot
            return Row(company, customer, coupon, row.reward)
        return row

    def write_requests(self, seeded: Seeded, path: Path) -> None:
        lines = []
        for row in rows(seeded)[:REQUEST_LINES]:
            row = self.row_for(seeded, row)
            lines.append(f"{self.method}\t{self.path(row)}\t{seeded.keys[row.company]}\t{self.body}")
        path.write_text("\n".join(lines) + "\n")


SCENARIOS = [
    Scenario("catalog", "GET", lambda r: f"/api/v2/rewards/?customer_id={r.customer}"),
    Scenario("coupon_list", "GET", lambda r: f"/api/v2/rewards/coupons/?customer_id={r.customer}"),
    Scenario("redeem", "POST", lambda r: f"/api/v2/customers/{r.customer}/rewards/{r.reward}/redeem/", "{}"),
    Scenario("validate", "POST", lambda r: f"/api/v2/customers/{r.customer}/coupons/{r.coupon}/validate/"),
    Scenario(
        "validate_hot",
        "POST",
        lambda r: f"/api/v2/customers/{r.customer}/coupons/{r.coupon}/validate/",
        hot=True,
    ),
    Scenario(
        "points_add",
        "POST",
        lambda r: f"/api/v2/customers/{r.customer}/points/add/",
        json.dumps({"amount": 10, "reason": "bench"}),
    ),
]


def capture_sql(scenario: Scenario, seeded: Seeded) -> list[str]:
    """The statements one steady-state request of ``scenario`` sends (its key already cached)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    row = scenario.row_for(seeded, rows(seeded)[0])
    client = Client(HTTP_X_API_KEY=seeded.keys[row.company])

    def send() -> "_MonkeyPatchedWSGIResponse":
        if scenario.method == "GET":
            return client.get(scenario.path(row))
        return client.post(scenario.path(row), scenario.body or None, content_type="application/json")

    send()  # warm: the key and the webhook subscription are cached from now on, as in a running server
    with CaptureQueriesContext(connection) as captured:
        response = send()
    assert response.status_code == 200, response.content
    return [q["sql"] for q in captured.captured_queries]


def statement_count(sql: list[str]) -> int:
    """Statements that do work: BEGIN and COMMIT ride along and are not counted."""
    return sum(1 for statement in sql if statement not in {"BEGIN", "COMMIT"})
