"""webhook_id unique and required (filled by 0003), and the state ``failed`` renamed ``exhausted``,
as the upstream outbound-webhooks guide names a delivery whose four attempts all failed."""

import uuid

from django.db import migrations, models


def rename_failed(apps, schema_editor):
    apps.get_model("webhooks", "WebhookDelivery").objects.filter(status="failed").update(status="exhausted")


def rename_exhausted(apps, schema_editor):
    apps.get_model("webhooks", "WebhookDelivery").objects.filter(status="exhausted").update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_delivery_webhook_id"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="webhook_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("succeeded", "Succeeded"), ("exhausted", "Exhausted")],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.RunPython(rename_failed, rename_exhausted),
    ]
