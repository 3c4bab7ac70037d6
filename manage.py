#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zupy.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings, which refuse a bad environment)
    except ImproperlyConfigured as error:
        # A refused environment is the operator's to fix: one clear paragraph, not Django's traceback.
        command = " ".join(sys.argv[1:]) or "help"
        sys.exit(
            f"manage.py: {error}.\n"
            f"  Locally, run it as scripts/manage {command} (DEBUG on, the SQLite file scripts/serve uses);\n"
            "  in production, set the environment in docs/operations.md (SECRET_KEY, DATABASE_URL, ...)."
        )
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
