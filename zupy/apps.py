from django.apps import AppConfig


class ZupyConfig(AppConfig):
    name = "zupy"
    verbose_name = "Companies and API keys"

    def ready(self) -> None:
        from zupy import signals  # noqa: F401  (forgets cached API keys on every save and delete)
        from zupy.api import schema  # noqa: F401  (registers the OpenAPI security scheme)
