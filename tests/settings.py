"""Test settings: the example site, made fast and isolated.

``DATABASE_URL`` selects PostgreSQL, ``REDIS_URL`` a Redis cache; without them the suite runs on
SQLite and an in-memory cache.
"""

from example_site.settings import *  # noqa: F403

SECRET_KEY = "tests-not-secret"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

WAGTAILADMIN_BASE_URL = "http://testserver"
WAGTAIL_DYNCHAT = {}
