"""A lifetime counter becomes 64-bit."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reward",
            name="quantity_redeemed",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
