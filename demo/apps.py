from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (``seed_demo``): the one place that builds with every app, so it stands above them all."""

    name = "demo"
    verbose_name = "Demo data"
