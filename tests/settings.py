"""Test settings: the production settings with a test secret and the local PostgreSQL by default."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/zupy")

from zupy.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs collectstatic (the Docker image runs it); tests render admin without it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# One test database name per checkout, so two clones (a developer's and CI's) can run side by side.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    import hashlib
    from pathlib import Path

    _checkout = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:8]
    DATABASES["default"]["TEST"] = {"NAME": f"test_zupy_{_checkout}"}  # noqa: F405
