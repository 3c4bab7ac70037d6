"""Every model change has its migration: a field's help text or choices changed without one would
be a migration that the next `makemigrations` writes on a deploy machine."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
