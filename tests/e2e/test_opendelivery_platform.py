"""An OpenDelivery ordering platform plugs in, through HTTP only: it discovers the server, gets a
token, resolves a customer by phone, reads the account, reports an order and sees the points and the
signed ``loyalty.points.earned`` at its own receiver, redeems (202, then the coupon and the event),
uses the coupon, cancels the order and sees the reversal.

The server is the production one (gunicorn, DEBUG off) on its own PostgreSQL database, with the real
``webhook_worker`` and ``opendelivery_worker`` processes beside it and Redis as the shared cache; the
merchant's side is set up with the management commands an operator runs. The platform's receiver
listens on loopback (webhooks may go to loopback over http here, as nowhere in production)."""

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

from tests.e2e.servers import ROOT, free_port, manage_output, production_env, start_gunicorn, stop, wait_ready
from tests.opendelivery.conformance import od_validate
from tests.opendelivery.loyalty_events import verified
from tests.webhooks.conftest import Receiver, wait_until

pytestmark = pytest.mark.e2e

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
APP_ID = str(uuid.uuid4())
MERCHANT_ID = "loja-centro-42"
PHONE = "+5511987654321"  # seed_demo's customer
EVENTS = ",".join(
    [
        "loyalty.points.earned",
        "loyalty.redemption.created",
        "loyalty.coupon.used",
        "loyalty.tier.changed",
        "loyalty.points.adjusted",
    ]
)


def conforming(answer: requests.Response, method: str, template: str) -> Any:
    """The answer's JSON body, after checking it against the standard's documents."""
    body = answer.json() if answer.content else None
    content_type = answer.headers.get("Content-Type", "application/json").split(";")[0].strip()
    od_validate(method, template, answer.status_code, body, content_type=content_type)
    return body


@dataclass
class Platform:
    base: str  # the server's origin
    client_id: str
    client_secret: str
    webhook_secret: str
    receiver: Receiver
    api_key: str  # the merchant's own /api/v2 key (seed_demo's), to set nothing up but read the ledger

    def events(self, event_type: str) -> list[dict[str, Any]]:
        return [
            envelope
            for item in list(self.receiver.received)
            if (envelope := item["json"])["eventType"] == event_type
        ]


def _start(env: dict[str, str], *command: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("od-platform")
    database = f"zupy_od_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    receiver = Receiver()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = production_env(
        "od-platform",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        CACHE_URL=f"redis://127.0.0.1:6379/0?key_prefix=zupy-od-e2e-{uuid.uuid4().hex}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        PROMETHEUS_MULTIPROC_DIR=str(data / "metrics"),
        OPENDELIVERY_APP_ID=APP_ID,
        WALLET_PUBLIC_URL=base,
        WEBHOOK_ALLOW_HTTP="true",
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_RETRY_DELAYS="0.5,1,2",
        WEBHOOK_TIMEOUT="5",
        LOG_LEVEL="WARNING",
    )
    processes: list[subprocess.Popen] = []
    try:
        manage_output(env, "migrate", "--no-input", "-v", "0")
        seeded = json.loads(manage_output(env, "seed_demo", "--json"))
        company = seeded["company_id"]
        manage_output(env, "configure_od_merchant", "--company", company, "--points-per-unit", "1")
        created = json.loads(manage_output(env, "create_od_client", "Platform", "--kind", "by_app"))
        manage_output(env, "link_od_merchant", created["client_id"], company, MERCHANT_ID)
        # The standard's four, and the extension that announces a reversal.
        webhook = json.loads(
            manage_output(
                env, "configure_od_webhook", created["client_id"], "--url", receiver.url, "--events", EVENTS
            )
        )
        processes.append(start_gunicorn(env, port))
        wait_ready(f"{base}/readyz", process=processes[0])
        processes.append(_start(env, "webhook_worker"))
        processes.append(_start(env, "opendelivery_worker"))
        yield Platform(
            base=base,
            client_id=created["client_id"],
            client_secret=created["client_secret"],
            webhook_secret=webhook["webhook_secret"],
            receiver=receiver,
            api_key=seeded["api_key"],
        )
    finally:
        for process in processes:
            stop(process)
        receiver.shutdown()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def test_an_ordering_platform_end_to_end(platform: Platform) -> None:
    http = requests.Session()

    # Discover: the manifest's customer capability names this server's /v2 and what it serves.
    manifest = conforming(
        http.get(f"{platform.base}/.well-known/opendelivery", timeout=10), "get", "/.well-known/opendelivery"
    )
    assert manifest["appId"] == APP_ID
    capability = manifest["capabilities"]["customer"]
    v2 = capability["endpoint"]
    assert v2 == f"{platform.base}/v2"
    for operation in (
        "listCustomers",
        "listCustomerLoyaltyAccounts",
        "getLoyaltyAccountById",
        "listLoyaltyTransactions",
        "listLoyaltyRewards",
        "listLoyaltyCoupons",
        "createLoyaltyRedemption",
        "useLoyaltyCoupon",
    ):
        assert operation in capability["supportedOperations"], operation

    # A token: client_credentials, JSON body.
    token = http.post(
        f"{v2}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": platform.client_id,
            "client_secret": platform.client_secret,
        },
        timeout=10,
    )
    assert token.status_code == 200, token.text
    conforming(token, "post", "/oauth/token")
    http.headers.update(
        {"Authorization": f"Bearer {token.json()['access_token']}", "X-App-MerchantId": MERCHANT_ID}
    )

    def get(template: str, path: str, **params: str) -> Any:
        answer = http.get(f"{v2}{path}", params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return conforming(answer, "get", template)

    def post(template: str, path: str, body: dict[str, Any], status: int) -> Any:
        answer = http.post(f"{v2}{path}", json=body, timeout=10)
        assert answer.status_code == status, answer.text
        return conforming(answer, "post", template)

    # The customer, by phone; their account.
    found = get("/customers", "/customers", customerIdentifierType="phone", customerIdentifierValue=PHONE)
    (customer,) = found["items"]
    accounts = get(
        "/customers/{customerId}/loyalty-accounts", f"/customers/{customer['id']}/loyalty-accounts"
    )
    (account,) = accounts["items"]
    start = account["balance"]

    def balance() -> int:
        return int(get("/loyalty/accounts/{accountId}", f"/loyalty/accounts/{account['id']}")["balance"])

    def signed(event_type: str, count: int = 1) -> list[dict[str, Any]]:
        """The platform's receiver has ``count`` events of the type, each verified as it checks them."""
        wait_until(
            lambda: len(platform.events(event_type)) >= count, timeout=60, what=f"{count} {event_type}"
        )
        items = [i for i in list(platform.receiver.received) if i["json"]["eventType"] == event_type]
        return [
            verified(item, secret=platform.webhook_secret, merchant_id=MERCHANT_ID, app_id=APP_ID)
            for item in items
        ]

    def order_event(event_type: str, order_id: str, **payload: Any) -> None:
        envelope = {
            "id": f"evt-{uuid.uuid4().hex[:8]}",
            "eventType": event_type,
            "occurredAt": "2026-12-02T12:00:00Z",
            "customerIdentifier": {"type": "phone", "value": PHONE},
            "orderId": order_id,
            "payload": {"id": order_id, **payload},
        }
        post("/customer-events", "/customer-events", envelope, 204)

    # An order: the points, and the signed event at the platform's receiver.
    order_id = f"order-{uuid.uuid4().hex[:8]}"
    order_event("order.created", order_id, totalAmount=12_345)  # R$ 123.45: 123 points, rounded down
    assert balance() == start + 123
    (earned,) = signed("loyalty.points.earned")
    assert (earned["customerId"], earned["accountId"]) == (customer["id"], account["id"])
    assert (earned["payload"]["points_added"], earned["payload"]["new_balance"]) == (123, start + 123)

    # Redeem: 202 with a correlationId; the worker issues the coupon, announced with that id.
    rewards = get("/loyalty/rewards", "/loyalty/rewards")
    reward = next(r for r in rewards["items"] if r["name"] == "Free Dessert")
    accepted = post(
        "/loyalty/redemptions",
        "/loyalty/redemptions",
        {"accountId": account["id"], "rewardId": reward["id"], "quantity": 1, "relatedOrderId": order_id},
        202,
    )
    (redeemed,) = signed("loyalty.redemption.created")
    assert redeemed["payload"]["correlation_id"] == accepted["correlationId"]
    coupons = get("/loyalty/coupons", "/loyalty/coupons", customerId=customer["id"])
    (coupon,) = [c for c in coupons["items"] if c["id"] == redeemed["payload"]["coupon_id"]]
    assert coupon["status"] == "available"
    (debit,) = signed("loyalty.points.adjusted")  # the redemption's debit (an extension, subscribed)
    assert debit["payload"]["points_spent"] == redeemed["payload"]["points_spent"]
    assert balance() == start + 123 - redeemed["payload"]["points_spent"]

    # Use it for the order: the coupon is used, and the event says so.
    post(
        "/loyalty/coupons/{couponId}/use",
        f"/loyalty/coupons/{coupon['id']}/use",
        {"relatedOrderId": order_id},
        200,
    )
    (use,) = signed("loyalty.coupon.used")
    assert (use["payload"]["coupon_id"], use["payload"]["coupon_code"]) == (coupon["id"], coupon["code"])
    coupons = get("/loyalty/coupons", "/loyalty/coupons", customerId=customer["id"])
    assert next(c for c in coupons["items"] if c["id"] == coupon["id"])["status"] == "used"

    # Cancel the order: what it awarded is taken back, in the ledger and as a signed adjustment.
    before = balance()
    order_event("order.cancelled", order_id)
    assert balance() == before - 123
    reversal = next(
        e for e in signed("loyalty.points.adjusted", 2) if e["payload"]["reference_id"] == order_id
    )
    assert (reversal["payload"]["points_spent"], reversal["payload"]["new_balance"]) == (123, before - 123)
    history = get(
        "/loyalty/accounts/{accountId}/transactions", f"/loyalty/accounts/{account['id']}/transactions"
    )
    assert [t["amount"] for t in history["items"] if t["type"] == "adjust"][:1] == [-123]

    # Every event the platform got verified above; each id once, so deduplication never drops one.
    ids = [item["json"]["id"] for item in platform.receiver.received]
    assert len(ids) == len(set(ids)) == 5
