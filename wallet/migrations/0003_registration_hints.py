from django.db import migrations, models


def copy_device_hints(apps, schema_editor):
    """Each registration starts with what its device last said: the best there is for rows that
    were registered before the hints were kept per registration."""
    AppleRegistration = apps.get_model("wallet", "AppleRegistration")
    for registration in AppleRegistration.objects.select_related("device").iterator():
        device = registration.device
        registration.platform_hint = device.platform_hint
        registration.os_version = device.os_version
        registration.locale = device.locale
        registration.save(update_fields=["platform_hint", "os_version", "locale"])


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0002_design_images"),
    ]

    operations = [
        migrations.AddField(
            model_name="appleregistration",
            name="platform_hint",
            field=models.CharField(blank=True, max_length=20),
        ),
        migrations.AddField(
            model_name="appleregistration",
            name="os_version",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AddField(
            model_name="appleregistration",
            name="locale",
            field=models.CharField(blank=True, max_length=35),
        ),
        migrations.RunPython(copy_device_hints, migrations.RunPython.noop),
        migrations.RemoveField(model_name="appledevice", name="platform_hint"),
        migrations.RemoveField(model_name="appledevice", name="os_version"),
        migrations.RemoveField(model_name="appledevice", name="locale"),
    ]
