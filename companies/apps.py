from django.apps import AppConfig


class CompaniesConfig(AppConfig):
    name = "companies"
    verbose_name = "Companies and API keys"

    def ready(self) -> None:
        from companies import signals  # noqa: F401  (cached key lookups forgotten; a program per company)
