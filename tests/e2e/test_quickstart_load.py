"""The README's first command (scripts/serve: SQLite, two gunicorn workers) under a mixed load with
Z$: no 5xx, the ledger check clean, every Z$ balance exact to the micro-unit. And its two workers
share one rate-limit budget (the database cache), so a tier means the same number at any worker count."""

import json
import random
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from tests.e2e.servers import ROOT
from tests.e2e.test_quickstart_server import Server, server  # noqa: F401  (the module's server)

pytestmark = pytest.mark.e2e

THREADS = 16
SECONDS = 10
CUSTOMERS = 6
OPENING_POINTS, OPENING_Z = 450, Decimal("1105.6")  # a Z$ balance that floating point cannot hold

SETUP = """
import json
from decimal import Decimal
from customers.services import customer_create, customer_set_balances
from companies.models import Company
from companies.services import api_key_create
company = Company.objects.get(pk="{company_id}")
customers = []
for n in range({customers}):
    c = customer_create(company=company, full_name=f"Load {{n}}", phone=f"+551190{{n:07d}}")
    customer_set_balances(customer_id=c.pk, points={points}, z_balance=Decimal("{z}"), reason="load test")
    customers.append(c.pk)
keys = [api_key_create(company=company, name=f"load {{n}}")[1] for n in range({threads})]
print(json.dumps({{"customers": customers, "keys": keys}}))
"""


def manage(on: Server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=ROOT, env=on.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_mixed_load_with_z_on_sqlite_keeps_every_balance_exact(server: Server) -> None:  # noqa: F811
    seeded = server.seed()
    setup = SETUP.format(
        company_id=seeded["company_id"], customers=CUSTOMERS, points=OPENING_POINTS,
        z=OPENING_Z, threads=THREADS,
    )  # fmt: skip
    made = manage(server, "shell", "-c", setup)
    assert made.returncode == 0, made.stderr
    made = json.loads(made.stdout.strip().splitlines()[-1])
    customers, keys = made["customers"], made["keys"]
    rewards = [seeded["rewards"][name] for name in ("10% Off Next Order", "3x Free Coffee", "Free Dessert")]
    coupons: list[tuple[str, str]] = []
    lock = threading.Lock()
    statuses: Counter[int] = Counter()
    added = Counter[str]()
    points_used = Counter[str]()
    z_used = {c: Decimal(0) for c in customers}
    z_redeems = 0
    deadline = time.monotonic() + SECONDS

    def worker(index: int) -> None:
        nonlocal z_redeems
        rng = random.Random(index)
        session = requests.Session()
        session.headers["X-API-Key"] = keys[index]
        while time.monotonic() < deadline:
            customer = rng.choice(customers)
            base = f"{server.base_url}/customers/{customer}"
            roll = rng.random()
            if roll < 0.4:
                amount = rng.randint(1, 120)
                response = session.post(f"{base}/points/add/", json={"amount": amount}, timeout=60)
                if response.status_code == 200:
                    with lock:
                        added[customer] += amount
            elif roll < 0.8:
                use_z = rng.random() < 0.3
                response = session.post(
                    f"{base}/rewards/{rng.choice(rewards)}/redeem/", json={"use_z_tokens": use_z}, timeout=60
                )
                if response.status_code == 200:
                    data = response.json()["data"]
                    with lock:
                        points_used[customer] += data["points_used"]
                        z_used[customer] += Decimal(data["z_tokens_used"])
                        z_redeems += data["z_tokens_used"] != "0.000000"
                        coupons.append((customer, data["coupon_code"]))
            else:
                with lock:
                    picked = rng.choice(coupons) if coupons else None
                if picked is None:
                    continue
                response = session.post(
                    f"{server.base_url}/customers/{picked[0]}/coupons/{picked[1]}/validate/", timeout=60
                )
            with lock:
                statuses[response.status_code] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))

    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 409, 422}, statuses
    assert statuses[200] > 100 and z_redeems > 0, (statuses, z_redeems)
    check = manage(server, "ledger_check")
    assert check.returncode == 0, check.stderr
    for customer in customers:
        headers = {"X-API-Key": keys[0]}
        z = requests.get(f"{server.base_url}/customers/{customer}/z-balance/", headers=headers, timeout=30)
        points = requests.get(f"{server.base_url}/customers/{customer}/points/", headers=headers, timeout=30)
        assert z.json()["data"]["z_balance"] == f"{OPENING_Z - z_used[customer]:.6f}"
        expected_points = OPENING_POINTS + added[customer] - points_used[customer]
        assert points.json()["data"]["points_balance"] == expected_points


def test_two_workers_of_scripts_serve_share_one_rate_limit_budget(server: Server) -> None:  # noqa: F811
    company = json.loads(
        manage(
            server, "create_company", "Free tier", "--email", "ola@free.example.com", "--tier", "free"
        ).stdout
    )
    key = json.loads(manage(server, "create_api_key", company["company_id"]).stdout)["api_key"]
    if time.time() % 60 > 45:  # stay inside one one-minute window
        time.sleep(61 - time.time() % 60)

    def one(_: int) -> int:
        return requests.get(f"{server.base_url}/rewards/", headers={"X-API-Key": key}, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:  # concurrent connections: both workers get some of them
        statuses = Counter(pool.map(one, range(80)))

    assert statuses == {200: 60, 429: 20}
