"""Inbound orders through HTTP: a partner posts its sales (Repediu's format, the guide's generic
one), the body is stored once however often and however simultaneously it is sent, and the worker
turns each order into points exactly once, with the points.earned event at a loopback receiver."""

import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from integrations.models import BatchStatus, InboundBatch, Integration, OrderOutcome, Outcome
from integrations.services import inbound_batch_process, integration_configure
from tests.conftest import Api, assert_problem, run_together
from tests.e2e.servers import ROOT, production_env

pytestmark = pytest.mark.django_db(transaction=True)

REPEDIU = "/api/v2/webhooks/integrations/repediu/"
GENERIC = "/api/v2/webhooks/integrations/my-pos/"


def sale(id_venda: Any, phone: str | None, total: Any, **more: Any) -> dict[str, Any]:
    return {
        "cliente": "Maria Santos",
        "Celular": phone,
        "Email": None,
        "CpfCnpj": None,
        "Valor": total,
        "id_venda": id_venda,
        "DataVenda": "2026-03-22T14:30:00.000Z",
        "loja_cnpj": "12.345.678/0001-90",
        "loja_nome": "Pizzaria Exemplo",
        **more,
    }


def order(order_id: str, total: str, **customer: str | None) -> dict[str, Any]:
    return {
        "customer_name": "João Silva",
        "customer_phone": None,
        "customer_email": None,
        "customer_cpf": None,
        "order_total": total,
        "order_id": order_id,
        "order_date": "2026-03-22T15:10:00.000Z",
        **{f"customer_{k}": v for k, v in customer.items()},
    }


def post_raw(api: Api, path: str, body: bytes) -> Any:
    return api.client.post(path, body, content_type="application/json")


def worker_once() -> str:
    out = StringIO()
    call_command("integration_worker", "--once", stdout=out)
    return out.getvalue()


def deliver_events() -> None:
    call_command("webhook_worker", "--once", stdout=StringIO())


def balance(shop: Any, phone: str) -> int:
    return Customer.objects.get(company=shop, phone=phone).points_balance


def earned(events: Any) -> list[dict[str, Any]]:
    return [item["json"]["data"] for item in events.received if item["json"]["event"] == "points.earned"]


def test_a_repediu_body_posted_twice_and_concurrently_credits_each_sale_once(shop, partner, repediu, events):
    first = json.dumps(
        [sale(123456789, "+55 11 98765-4321", "89.90"), sale(247346205, "(19) 99228-5367", "62.00")]
    )
    received = post_raw(partner, REPEDIU, first.encode())
    assert received.status_code == 200, received.content
    assert received.json()["data"]["status"] == "received"
    again = post_raw(partner, REPEDIU, first.encode())
    assert again.json()["data"] == {"status": "duplicate", "id": received.json()["data"]["id"]}

    # The same sales in another body (one more field): a new body, the same orders.
    second = json.dumps(
        [sale(123456789, "+5511987654321", "89.90", extra=1), sale(247346205, "19992285367", "62.00")]
    )
    answers = run_together(6, lambda: post_raw(partner, REPEDIU, second.encode()))
    assert [a.status_code for a in answers] == [200] * 6
    statuses = sorted(a.json()["data"]["status"] for a in answers)
    assert statuses == ["duplicate"] * 5 + ["received"]
    assert len({a.json()["data"]["id"] for a in answers}) == 1
    assert InboundBatch.objects.filter(integration=repediu).count() == 2

    assert "2 attempt(s) made" in worker_once()
    assert balance(shop, "+5511987654321") == 89
    assert balance(shop, "+5519992285367") == 62
    outcomes = sorted(OrderOutcome.objects.values_list("order_id", "outcome"))
    assert outcomes == [
        ("123456789", Outcome.CREDITED),
        ("123456789", Outcome.DUPLICATE),
        ("247346205", Outcome.CREDITED),
        ("247346205", Outcome.DUPLICATE),
    ]
    assert set(InboundBatch.objects.values_list("status", flat=True)) == {BatchStatus.PROCESSED}

    deliver_events()
    assert sorted((e["reference_id"], e["points_added"], e["source"]) for e in earned(events)) == [
        ("repediu:123456789", 89, "integration:repediu"),
        ("repediu:247346205", 62, "integration:repediu"),
    ]
    assert worker_once().startswith("integration_worker: 0 attempt(s)"), "nothing is processed twice"


def test_a_generic_body_twice_and_concurrently_credits_once_through_the_real_worker_process(
    shop, partner, generic, events, tmp_path
):
    integration_configure(company=shop, slug="my-pos", points_per_unit=Decimal("0.5"), rounding="half_up")
    body = json.dumps(
        [order("A-1", "89.90", phone="+5511987654321"), order("A-2", "45.00", email="Ana@Example.com")]
    )
    answers = run_together(4, lambda: post_raw(partner, GENERIC, body.encode()))
    assert sorted(a.json()["data"]["status"] for a in answers) == ["duplicate"] * 3 + ["received"]
    assert post_raw(partner, GENERIC, body.encode()).json()["data"]["status"] == "duplicate"
    # One object, not an array: the same sale once more.
    single = post_raw(partner, GENERIC, json.dumps(order("A-1", "89.90", phone="+5511987654321")).encode())
    assert single.json()["data"]["status"] == "received"

    db = connection.settings_dict
    env = production_env(
        "integration-worker",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CACHE_URL="locmemcache://integration-worker",
        HEARTBEAT_DIR=str(tmp_path),
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "integration_worker", "--once"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 attempt(s) made" in done.stdout
    assert (tmp_path / "integration_worker").exists(), "the heartbeat compose reads"

    assert balance(shop, "+5511987654321") == 45  # 89.90 x 0.5 = 44.95, half up
    ana = Customer.objects.get(company=shop, email="ana@example.com")
    assert ana.points_balance == 23  # 22.5, half up
    assert sorted(OrderOutcome.objects.values_list("order_id", "outcome")) == [
        ("A-1", Outcome.CREDITED),
        ("A-1", Outcome.DUPLICATE),
        ("A-2", Outcome.CREDITED),
    ]
    deliver_events()
    assert sorted((e["reference_id"], e["source"]) for e in earned(events)) == [
        ("my-pos:A-1", "integration:my-pos"),
        ("my-pos:A-2", "integration:my-pos"),
    ]


def test_one_broken_order_never_blocks_the_others(shop, partner, repediu):
    body = [
        sale(1, "+5511987654321", "10.00"),
        sale(2, "+5511911112222", "not money"),
        sale(3, None, "45.00", cliente="Não Informado"),
        "not an order",
        sale(5, "12", "20.00", CpfCnpj="12.345.678/0001-90"),
        sale(6, None, "30.00", Email="Bia@Example.com"),
        sale(7, "+5511933334444", "0.40"),
    ]
    assert partner.post(REPEDIU, body).status_code == 200
    worker_once()
    outcomes = {o.position: o for o in OrderOutcome.objects.all()}
    assert {p: o.outcome for p, o in outcomes.items()} == {
        0: Outcome.CREDITED,
        1: Outcome.FAILED,
        2: Outcome.SKIPPED,
        3: Outcome.FAILED,
        4: Outcome.SKIPPED,
        5: Outcome.CREDITED,
        6: Outcome.SKIPPED,
    }
    assert "Valor" in outcomes[1].reason
    assert "identifier" in outcomes[2].reason
    assert "phone" in outcomes[4].reason and "cpf" in outcomes[4].reason
    assert "no points" in outcomes[6].reason
    assert balance(shop, "+5511987654321") == 10
    assert Customer.objects.get(company=shop, email="bia@example.com").points_balance == 30
    assert not Customer.objects.filter(company=shop, phone="+5511911112222").exists()


def test_an_unknown_or_disabled_slug_is_integration_not_found(shop, partner, repediu):
    assert_problem(
        partner.post("/api/v2/webhooks/integrations/saipos/", [sale(1, "+5511987654321", "1")]),
        403,
        "integration-not-found",
        "integration_not_found",
    )
    integration_configure(company=shop, slug="repediu", enabled=False)
    assert_problem(partner.post(REPEDIU, []), 403, "integration-not-found", "integration_not_found")
    assert not InboundBatch.objects.exists()


def test_another_companys_slug_is_not_found_for_this_key(partner, repediu):
    from tests.factories import CompanyFactory, make_key

    other = Api(make_key(CompanyFactory.create()))
    assert_problem(other.post(REPEDIU, []), 403, "integration-not-found", "integration_not_found")


def test_bad_json_is_400_and_a_scalar_body_is_400_and_nothing_is_stored(partner, repediu):
    assert_problem(post_raw(partner, REPEDIU, b'[{"id_venda": '), 400, "validation-error", "malformed_body")
    assert_problem(post_raw(partner, REPEDIU, b'"orders"'), 400, "validation-error", "not_orders")
    assert not InboundBatch.objects.exists()


def test_the_body_bound_is_its_own(settings, partner, repediu):
    settings.ZUPY_MAX_BODY_BYTES = 1000
    settings.ZUPY_MAX_INBOUND_BODY_BYTES = 5000
    body = json.dumps([sale(n, "+5511987654321", "1.00") for n in range(10)]).encode()
    assert 1000 < len(body) < 5000
    assert post_raw(partner, REPEDIU, body).status_code == 200
    big = json.dumps([sale(n, "+5511987654321", "1.00") for n in range(40)]).encode()
    assert_problem(post_raw(partner, REPEDIU, big), 413, "payload-too-large")
    assert InboundBatch.objects.count() == 1


def test_the_inbound_budget_is_its_own_and_higher(settings, shop, partner, repediu):
    settings.ZUPY_RATE_LIMITS = {"free": 2, "standard": 2, "enterprise": 2}
    settings.ZUPY_INBOUND_RATE_LIMITS = {"free": 4, "standard": 4, "enterprise": 4}
    answers = [partner.post(REPEDIU, [sale(n, "+5511987654321", "1.00")]) for n in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[0]["X-RateLimit-Limit"] == "4"
    assert_problem(answers[4], 429, "rate-limit-exceeded")
    # The orders took nothing of the key's own budget.
    assert partner.get("/api/v2/customers/").status_code == 200


def test_ops_configure_an_integration_with_the_command(shop):
    out = StringIO()
    call_command(
        "configure_integration", shop.pk, "goomer", "--adapter", "generic", "--points-per-unit", "2",
        "--rounding", "up", "--otp-policy", "relaxed", stdout=out,
    )  # fmt: skip
    made = json.loads(out.getvalue())
    assert made["created"] is True and made["points_per_unit"] == "2.0000" and made["otp_policy"] == "relaxed"
    out = StringIO()
    call_command("configure_integration", shop.pk, "goomer", "--disable", stdout=out)
    changed = json.loads(out.getvalue())
    assert changed["created"] is False and changed["enabled"] is False and changed["adapter"] == "generic"
    integration = Integration.objects.get(company=shop, slug="goomer")
    assert integration.points_for(Decimal("10.01")) == 21


def test_hostile_orders_are_recorded_as_failed_and_the_batch_still_completes(shop, partner, repediu):
    body = [
        sale(1, "+5511987654321", "10.00", cliente="Ma\x00ria"),
        sale("x\x00" * 80, "+5511987654321", "10.00"),
        sale(3, "+5511987654321", "1e30"),
        sale(4, "+5511987654321", "NaN"),
        sale(5, "+5511987654321", ["89.90"]),
        sale("a" * 101, "+5511987654321", "9999999.99"),
        sale(7, "+5511987654321", "5.00"),
    ]
    assert partner.post(REPEDIU, body).status_code == 200
    worker_once()
    outcomes = [o.outcome for o in OrderOutcome.objects.order_by("position")]
    assert outcomes == [Outcome.FAILED] * 6 + [Outcome.CREDITED]
    assert InboundBatch.objects.get().status == BatchStatus.PROCESSED
    assert balance(shop, "+5511987654321") == 5


def test_a_body_that_is_not_utf8_is_400(partner, repediu):
    answer = partner.client.post(
        REPEDIU, '[{"cliente": "João"}]'.encode("latin-1"), content_type="application/json; charset=latin-1"
    )
    assert_problem(answer, 400, "validation-error", "not_orders")
    assert not InboundBatch.objects.exists()


def test_the_same_sale_in_two_bodies_processed_by_two_workers_at_once_credits_once(shop, partner, repediu):
    """Two workers, each with its own body holding the same sales, at the same instant: the unique
    constraint on credited (integration, order id) lets one credit each sale, the other records it
    as a duplicate."""
    sales = [sale(n, f"+55119{n:08d}", "10.00") for n in range(1, 6)]
    ids = [
        partner.post(REPEDIU, sales).json()["data"]["id"],
        partner.post(REPEDIU, list(reversed(sales))).json()["data"]["id"],
    ]
    InboundBatch.objects.update(lease="test", locked_until=timezone.now() + timedelta(minutes=5))
    results = run_together(2, lambda: inbound_batch_process(batch_id=ids.pop(), lease="test"))
    assert results == [None, None]
    counts = {
        outcome: OrderOutcome.objects.filter(outcome=outcome).count()
        for outcome in (Outcome.CREDITED, Outcome.DUPLICATE)
    }
    assert counts == {Outcome.CREDITED: 5, Outcome.DUPLICATE: 5}
    assert [balance(shop, f"+55119{n:08d}") for n in range(1, 6)] == [10] * 5
    assert set(InboundBatch.objects.values_list("status", flat=True)) == {BatchStatus.PROCESSED}


def test_an_empty_array_and_more_orders_than_a_body_takes_are_refused_and_nothing_is_stored(
    settings, partner, repediu
):
    assert_problem(partner.post(REPEDIU, []), 400, "validation-error", "not_orders")
    settings.INTEGRATION_MAX_ORDERS_PER_BODY = 5
    problem = assert_problem(partner.post(REPEDIU, [1] * 6), 413, "payload-too-large", "too_many_orders")
    assert "at most 5" in problem["detail"]
    assert not InboundBatch.objects.exists()
    assert partner.post(REPEDIU, [sale(n, "+5511987654321", "1.00") for n in range(5)]).status_code == 200


def test_an_order_past_one_awards_bound_fails_and_enrols_nobody(shop, partner, repediu):
    # points/add refuses more than 1,000,000 at once; an order is one award and is held to it.
    body = [sale("E7", "+5511955556666", "9999999"), sale("E8", "+5511977778888", "1000000")]
    assert partner.post(REPEDIU, body).status_code == 200
    worker_once()
    outcomes = {o.order_id: o for o in OrderOutcome.objects.all()}
    assert outcomes["E7"].outcome == Outcome.FAILED and "at most 1000000" in outcomes["E7"].reason
    assert not Customer.objects.filter(company=shop, phone="+5511955556666").exists()
    assert balance(shop, "+5511977778888") == 1_000_000


def test_an_order_whose_credit_fails_enrols_nobody(monkeypatch, shop, partner, repediu):
    from core.errors import ValidationFailed
    from integrations import services

    def refuse(**kwargs: Any) -> Any:
        raise ValidationFailed("refused for the test")

    monkeypatch.setattr(services, "points_add", refuse)
    assert partner.post(REPEDIU, [sale("H2", None, "10.00", Email="fresh@example.com")]).status_code == 200
    worker_once()
    (outcome,) = OrderOutcome.objects.all()
    assert (outcome.outcome, outcome.reason) == (Outcome.FAILED, "refused for the test")
    assert not Customer.objects.filter(company=shop, email="fresh@example.com").exists()


@pytest.mark.parametrize("rate", ["abc", "Infinity"])
def test_a_rate_that_is_not_a_number_is_a_clear_usage_error_at_the_command_line(shop, rate):
    db = connection.settings_dict
    env = production_env(
        "configure-integration",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CACHE_URL="locmemcache://configure-integration",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "configure_integration", shop.pk, "goomer", "--points-per-unit", rate],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert f"--points-per-unit: not a number: {rate!r}" in done.stderr, done.stderr
    assert not Integration.objects.filter(company=shop, slug="goomer").exists()
