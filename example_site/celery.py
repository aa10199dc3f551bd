"""The example site's Celery app.

The package defines tasks with ``shared_task`` and no app of its own; a project like this one owns
the app and lets ``autodiscover_tasks`` find them.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")

app = Celery("example_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
