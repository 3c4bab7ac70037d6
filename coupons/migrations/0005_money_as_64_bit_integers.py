"""Step 2 of 2 (see customers 0003): the coupon's spent points and micro-Z$ become 64-bit integers."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0004_z_to_micro_units"),
    ]

    operations = [
        migrations.AlterField(
            model_name="coupon",
            name="points_spent",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="coupon",
            name="z_tokens_spent",
            field=models.BigIntegerField(default=0, help_text="micro-Z$ (1 Z$ = 1 000 000)"),
        ),
        migrations.AddConstraint(
            model_name="coupon",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("points_spent__lte", 1000000000000000), ("z_tokens_spent__lte", 1000000000000000000)
                ),
                name="coupon_spent_within_limits",
            ),
        ),
    ]
