"""Settings of the real Celery worker processes that ``tests/celery_worker.py`` starts.

The test settings, changed so a worker shares the running test's state: the test database
(``DYNCHAT_WORKER_DB_NAME``, pytest-django's ``test_…`` database), the Redis cache of
``REDIS_URL`` (so the Marketo rate budget is one with the test process and the other workers), a
real broker (``CELERY_BROKER_URL``, tasks not eager), the test's own queue
(``DYNCHAT_WORKER_QUEUE``, so a task the worker enqueues itself stays in that test) and the
fake Marketo's settings (``DYNCHAT_WORKER_MARKETO``, a JSON object).
"""

import json
import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["DYNCHAT_WORKER_DB_NAME"]
# The worker process opens and closes its connections per task; a killed worker leaves none.
DATABASES["default"]["CONN_MAX_AGE"] = 0

CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_DEFAULT_QUEUE = os.environ["DYNCHAT_WORKER_QUEUE"]
# One message reserved per process: a worker does not sit on drains another one could run.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

WAGTAIL_DYNCHAT = {"MARKETO": json.loads(os.environ.get("DYNCHAT_WORKER_MARKETO") or "{}")}
