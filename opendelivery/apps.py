from django.apps import AppConfig


class OpenDeliveryConfig(AppConfig):
    """The OpenDelivery 2.0 Customer (Loyalty) surface under ``/v2``: a second way in to the same
    services, ledger and locks as ``/api/v2``, for ordering platforms that speak the standard."""

    name = "opendelivery"
    verbose_name = "OpenDelivery"
    default_auto_field = "django.db.models.BigAutoField"
