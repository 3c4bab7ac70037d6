"""The tables stay where they are; only Django's record of which app owns the models moves
(to companies and core). State only, but for the content types: they move with their models, so admin history and
staff permissions keep pointing at them."""

from django.db import migrations

OWNERS = {
    "company": "companies",
    "loyaltyprogram": "companies",
    "apikey": "companies",
    "idempotencyrecord": "core",
}


def _move(apps, schema_editor, forward: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model, owner in OWNERS.items():
        source, target = ("zupy", owner) if forward else (owner, "zupy")
        # Where the target's row exists already (made by an earlier post_migrate), keep it.
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def move_content_types(apps, schema_editor) -> None:
    _move(apps, schema_editor, forward=True)


def move_content_types_back(apps, schema_editor) -> None:
    _move(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("coupons", "0006_company_in_companies_app"),
        ("customers", "0005_company_in_companies_app"),
        ("otp", "0002_company_in_companies_app"),
        ("rewards", "0004_company_in_companies_app"),
        ("webhooks", "0005_company_in_companies_app"),
        ("zupy", "0004_apikey_response_format"),
    ]

    state_operations = [
        migrations.RemoveField(
            model_name="idempotencyrecord",
            name="company",
        ),
        migrations.RemoveField(
            model_name="loyaltyprogram",
            name="company",
        ),
        migrations.DeleteModel(
            name="ApiKey",
        ),
        migrations.DeleteModel(
            name="IdempotencyRecord",
        ),
        migrations.DeleteModel(
            name="Company",
        ),
        migrations.DeleteModel(
            name="LoyaltyProgram",
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
