"""Migrations 0003/0004 on rows written before them: each row gets its own UUID webhook_id (in the
payload too if never sent; a row already sent keeps the id its receiver saw), and ``failed`` rows
become ``exhausted``."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import CompanyFactory
from tests.migrating import migrate

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("webhooks", "0002_delivery_lease")]
AFTER = [("webhooks", "0004_delivery_exhausted")]


def test_existing_rows_get_uuids_and_failed_becomes_exhausted():
    company = CompanyFactory.create()
    old = migrate(BEFORE)
    try:
        Delivery = old.get_model("webhooks", "WebhookDelivery")
        rows = {
            name: Delivery.objects.create(
                id=f"{name:0<27}"[:27],
                company_id=company.pk,
                event="coupon.used",
                url="https://example.com/hook",
                status=status,
                attempts=attempts,
                next_attempt_at=timezone.now(),
                payload={"event": "coupon.used", "webhook_id": f"{name:0<27}"[:27], "data": {}},
            )
            for name, status, attempts in [
                ("fresh", "pending", 0),
                ("retrying", "pending", 2),
                ("dead", "failed", 4),
                ("done", "succeeded", 1),
            ]
        }
        new = migrate(AFTER)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("webhooks"))
    Delivery = new.get_model("webhooks", "WebhookDelivery")
    after = {name: Delivery.objects.get(pk=row.pk) for name, row in rows.items()}
    assert {name: row.status for name, row in after.items()} == {
        "fresh": "pending",
        "retrying": "pending",
        "dead": "exhausted",
        "done": "succeeded",
    }
    assert len({row.webhook_id for row in after.values()}) == 4
    assert all(isinstance(row.webhook_id, uuid.UUID) for row in after.values())
    assert after["fresh"].payload["webhook_id"] == str(after["fresh"].webhook_id)
    for name in ("retrying", "dead", "done"):
        assert after[name].payload["webhook_id"] == rows[name].id, name  # what the receiver has seen
