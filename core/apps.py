from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    """The kit: the HTTP plumbing every app stands on, and its one table (stored idempotent answers)."""

    name = "core"
    verbose_name = "Service kit"

    def ready(self) -> None:
        from core import admin_layers, schema  # noqa: F401  (register the middleware check, the OpenAPI extensions)

        post_migrate.connect(create_cache_tables, sender=self)


def create_cache_tables(using: str = "default", **kwargs: Any) -> None:
    """After every ``migrate``: the database cache's table (the default without CACHE_URL), so a
    fresh clone's ``scripts/serve`` and a switch of cache backend both find it. Idempotent."""
    call_command("createcachetable", database=using, verbosity=0)
