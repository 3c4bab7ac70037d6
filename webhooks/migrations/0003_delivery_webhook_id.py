"""webhook_id becomes a UUID of its own, as the upstream outbound-webhooks guide says (it was the row's
KSUID). Filled here; made unique and required in 0004, in its own transaction (PostgreSQL refuses to
alter a table with the updates of this one's still pending)."""

import uuid

from django.db import migrations, models


def fill_webhook_ids(apps, schema_editor):
    """A new UUID for every row. A row never attempted gets it in its payload too, so its first send
    carries a UUID; a row already attempted keeps the id its receiver has seen (and deduplicates on)
    in its payload, so a retry or a resend is still recognised as the same event."""
    WebhookDelivery = apps.get_model("webhooks", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.only("pk", "attempts", "payload").iterator():
        delivery.webhook_id = uuid.uuid4()
        fields = ["webhook_id"]
        if delivery.attempts == 0 and isinstance(delivery.payload, dict):
            delivery.payload["webhook_id"] = str(delivery.webhook_id)
            fields.append("payload")
        delivery.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_delivery_lease"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="webhook_id",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_webhook_ids, migrations.RunPython.noop),
    ]
