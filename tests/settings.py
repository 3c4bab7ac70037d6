"""Test settings: the production settings with a test secret and the local PostgreSQL by default."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/zupy")

from zupy.settings import *  # noqa: F403

# The suite's own process keeps a per-process cache (fast, nothing shared between tests' databases);
# the database cache that is the default without CACHE_URL is exercised by the servers tests/e2e
# starts and by tests/core/test_database_cache.py.
if not os.environ.get("CACHE_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "zupy"}}

# Fast people's passwords; the client secrets' hasher is the production one (it is fast already).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "opendelivery.hashers.ClientSecretHasher",
]
# The manifest storage needs collectstatic (the Docker image runs it); tests render admin without it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# One test database name per checkout, so two clones (a developer's and CI's) can run side by side.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    import hashlib
    from pathlib import Path

    _checkout = hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode()).hexdigest()[:8]
    DATABASES["default"]["TEST"] = {"NAME": f"test_zupy_{_checkout}"}  # noqa: F405
