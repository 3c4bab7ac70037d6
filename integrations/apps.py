from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _forget_binding(sender: Any, instance: Any, **kwargs: Any) -> None:
    from integrations.selectors import integration_otp_preset_forget

    integration_otp_preset_forget(api_key_ids=[instance.api_key_id])


def _forget_integration(sender: Any, instance: Any, **kwargs: Any) -> None:
    from integrations.selectors import integration_keys, integration_otp_preset_forget

    if instance.pk is not None:
        integration_otp_preset_forget(api_key_ids=integration_keys(integration=instance))


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        # The cached OTP preset of a key (integrations.selectors) follows its binding and its
        # integration's preset, whoever changes them (the admin's inline, the command, a shell).
        from integrations.models import Integration, IntegrationKey

        post_save.connect(_forget_binding, sender=IntegrationKey, dispatch_uid="integration-key-saved")
        post_delete.connect(_forget_binding, sender=IntegrationKey, dispatch_uid="integration-key-deleted")
        post_save.connect(_forget_integration, sender=Integration, dispatch_uid="integration-saved")
