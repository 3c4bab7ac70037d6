from django.apps import AppConfig


class ZupyConfig(AppConfig):
    name = "zupy"
    verbose_name = "Companies and API keys"
