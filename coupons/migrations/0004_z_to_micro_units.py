"""Z$ become integer micro-units, step 1 of 2 (see customers 0002): widen, then multiply by 10^6."""

from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("coupons", "0003_coupon_expiring_notified_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="coupon",
            name="z_tokens_spent",
            field=models.DecimalField(decimal_places=6, default=Decimal("0"), max_digits=27),
        ),
        migrations.RunSQL(
            "UPDATE coupons_coupon SET z_tokens_spent = ROUND(z_tokens_spent * 1000000)",
            reverse_sql="UPDATE coupons_coupon SET z_tokens_spent = z_tokens_spent / 1000000.0",
        ),
    ]
