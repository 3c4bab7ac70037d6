import django.db.models.deletion
from django.db import migrations, models

import wallet.models


def give_each_design_a_token(apps, schema_editor):
    """A unique field with a callable default is added as one value for every existing row: each
    design draws its own token here before the field becomes unique."""
    WalletDesign = apps.get_model("wallet", "WalletDesign")
    for design in WalletDesign.objects.filter(image_token__isnull=True):
        design.image_token = wallet.models.new_download_token()
        design.save(update_fields=["image_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="walletdesign",
            name="image_token",
            field=models.CharField(max_length=64, null=True),
        ),
        migrations.RunPython(give_each_design_a_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="walletdesign",
            name="image_token",
            field=models.CharField(
                default=wallet.models.new_download_token, editable=False, max_length=64, unique=True
            ),
        ),
        migrations.CreateModel(
            name="WalletImage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=40)),
                ("data", models.BinaryField()),
                ("width", models.PositiveIntegerField()),
                ("height", models.PositiveIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "design",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="images",
                        to="wallet.walletdesign",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(fields=("design", "name"), name="walletimage_one_per_name")
                ],
            },
        ),
    ]
