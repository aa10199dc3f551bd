"""Settings of the example site: SQLite, eager Celery, everything local.

Environment variables switch on real services: ``DATABASE_URL`` (PostgreSQL), ``REDIS_URL`` (the
cache, shared by rate limits) and ``CELERY_BROKER_URL`` (a real broker instead of eager tasks).
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

SITE_DIR = Path(__file__).resolve().parent
BASE_DIR = SITE_DIR.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-site-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "example_site.home",
    "wagtail_dynchat",
    "wagtail_modeladmin",
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail_localize",
    "wagtail_localize.locales",  # replaces "wagtail.locales"
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "example_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [SITE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

WSGI_APPLICATION = "example_site.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{SITE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German"), ("fr", "French"), ("es", "Spanish")]
WAGTAIL_I18N_ENABLED = True
# wagtail-localize would otherwise publish a new translation of a live page or dialogue at once,
# still in the original language; translators publish when they are done.
WAGTAILLOCALIZE_SYNC_LIVE_STATUS_ON_TRANSLATE = False
WAGTAIL_CONTENT_LANGUAGES = LANGUAGES
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = SITE_DIR / "static_collected"
MEDIA_URL = "/media/"
MEDIA_ROOT = SITE_DIR / "media"

WAGTAIL_SITE_NAME = "Dynchat example"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", "http://127.0.0.1:8000")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "txt", "xlsx", "zip"]

# Celery runs tasks in-process unless a broker is configured, so the demo needs no worker.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "memory://")
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_TASK_EAGER_PROPAGATES = True
# Periodic work for `celery -A example_site beat`.
CELERY_BEAT_SCHEDULE = {
    "dynchat-resend-pending-meetings": {
        "task": "wagtail_dynchat.meetings.tasks.resend_pending_meetings",
        "schedule": 5 * 60,
    },
    # Retries that come due and leases of killed workers are picked up here.
    "dynchat-drain-marketo-outbox": {
        "task": "wagtail_dynchat.marketo.tasks.drain_outbox",
        "schedule": 60,
    },
    # Leads changed in Marketo since the last sync; also restarts a stalled initial sync.
    "dynchat-sync-changed-marketo-leads": {
        "task": "wagtail_dynchat.marketo.sync_tasks.sync_changed_leads",
        "schedule": 5 * 60,
    },
    # "Engaged with a Dialogue" (Dropped) for conversations left idle without completing.
    "dynchat-queue-dropped-conversations": {
        "task": "wagtail_dynchat.marketo.activities.queue_dropped_conversations",
        "schedule": 5 * 60,
    },
    # Yesterday's report rollups, after the last conversations of the day went idle.
    "dynchat-rollup-day": {
        "task": "wagtail_dynchat.reports.tasks.rollup_day",
        "schedule": crontab(hour=1, minute=0),
    },
    "dynchat-purge-expired": {
        "task": "wagtail_dynchat.reports.tasks.purge_expired",
        "schedule": crontab(hour=3, minute=0),
    },
    # Today's report figures, computed ahead of the dashboard (REPORT_LIVE_CACHE_SECONDS).
    "dynchat-refresh-live-reports": {
        "task": "wagtail_dynchat.reports.tasks.refresh_live_reports",
        "schedule": 60,
        "options": {"expires": 55},
    },
}

WAGTAIL_DYNCHAT = {}
