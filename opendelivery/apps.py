from typing import Any

from django.apps import AppConfig


class OpenDeliveryConfig(AppConfig):
    """The OpenDelivery 2.0 Customer (Loyalty) surface under ``/v2``: a second way in to the same
    services, ledger and locks as ``/api/v2``, for ordering platforms that speak the standard."""

    name = "opendelivery"
    verbose_name = "OpenDelivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from core.events import published
        from core.problems import register_error_shape
        from opendelivery.errors import DISCOVERY_PATH, discovery_shape, od_shape
        from opendelivery.events import (
            od_client_companies,
            od_delivery_target,
            od_event_record,
            od_subscribers_forget,
        )
        from opendelivery.models import OdClient, OdMerchantLink
        from webhooks.models import Surface
        from webhooks.services import webhook_surface_register

        # Every error under these paths, from Django or a middleware too, in the standard's shapes.
        register_error_shape("/v2/", od_shape)
        register_error_shape(DISCOVERY_PATH, discovery_shape)

        # Loyalty events: the native ones, as OpenDelivery envelopes, into the webhook outbox.
        def record(*, company_id: str, event: str, data: dict[str, Any], **_: Any) -> None:
            od_event_record(company_id=company_id, event=event, data=data)

        def client_changed(*, instance: OdClient, **_: Any) -> None:
            od_subscribers_forget(*od_client_companies(instance))

        def link_changed(*, instance: OdMerchantLink, **_: Any) -> None:
            od_subscribers_forget(instance.company_id)

        # Strong references, held by the app config: the receivers live as long as the process.
        self._receivers = (record, client_changed, link_changed)
        published.connect(record, dispatch_uid="opendelivery.record")
        # Whoever changes a client or a link (admin, commands, services), events follow it.
        for name, signal in (("saved", post_save), ("deleted", post_delete)):
            signal.connect(client_changed, sender=OdClient, dispatch_uid=f"opendelivery.client_{name}")
            signal.connect(link_changed, sender=OdMerchantLink, dispatch_uid=f"opendelivery.link_{name}")
        webhook_surface_register(surface=Surface.OPENDELIVERY, lookup=od_delivery_target)
