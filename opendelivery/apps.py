from django.apps import AppConfig


class OpenDeliveryConfig(AppConfig):
    """The OpenDelivery 2.0 Customer (Loyalty) surface under ``/v2``: a second way in to the same
    services, ledger and locks as ``/api/v2``, for ordering platforms that speak the standard."""

    name = "opendelivery"
    verbose_name = "OpenDelivery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every error under these paths, from Django or a middleware too, in the standard's shapes.
        from core.problems import register_error_shape
        from opendelivery.errors import DISCOVERY_PATH, discovery_shape, od_shape

        register_error_shape("/v2/", od_shape)
        register_error_shape(DISCOVERY_PATH, discovery_shape)
