from django.apps import AppConfig


class ZupyConfig(AppConfig):
    """The project package. As an app it keeps only the migration history of the tables it once held
    (companies, API keys, stored idempotent answers), which now belong to ``companies`` and ``core``."""

    name = "zupy"
    verbose_name = "Project"
