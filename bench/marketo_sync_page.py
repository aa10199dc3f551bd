"""The admin's Marketo page on a large outbox, and the daily call count's cost per call.

Fills the outbox with ``--done`` sent items (spread over the last two hours, so the throughput
counts have work to do), ``--waiting`` pending/failed items and ``--dead`` dead ones with a few
distinct errors, then renders the page as a superuser ``--renders`` times. Printed: the median
and worst render time and the number of SQL queries of one render.

Then times :meth:`Limiter.call_slot` with a budget that never waits over ``--calls`` calls, and
the daily count (:meth:`Limiter.count_call`) alone: the count's share of the limiter's cost.

    python bench/marketo_sync_page.py [--done 200000] [--waiting 20000] [--dead 5000]

Runs on a throwaway SQLite database or on ``DATABASE_URL`` (PostgreSQL: its OutboxItem and
SyncRun rows are deleted first), with an in-process cache or ``REDIS_URL``.
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(workdir):
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django
    from django.conf import settings

    settings.WAGTAIL_DYNCHAT = {
        "MARKETO": {
            "BASE_URL": "https://123-ABC-456.mktorest.com",
            "CLIENT_ID": "bench",
            "CLIENT_SECRET": "bench",
        }
    }
    settings.ALLOWED_HOSTS = ["*"]
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(done, waiting, dead):
    from django.utils import timezone

    from wagtail_dynchat.models import OutboxItem, SyncRun

    OutboxItem.objects.all().delete()
    SyncRun.objects.all().delete()
    now = timezone.now()
    kinds = [k for k, _label in OutboxItem.KIND_CHOICES]
    rows = []
    for n in range(done):
        rows.append(OutboxItem(kind=kinds[n % 4], dedupe_key=f"d{n}", status="done"))
    for n in range(waiting):
        status = "failed" if n % 5 == 0 else "pending"
        error = "HTTP 503: unavailable" if status == "failed" else ""
        rows.append(
            OutboxItem(kind=kinds[n % 4], dedupe_key=f"w{n}", status=status, last_error=error)
        )
    for n in range(dead):
        error = f"skipped: 10{n % 7:02d}: rejected"
        rows.append(
            OutboxItem(kind=kinds[n % 4], dedupe_key=f"x{n}", status="dead", last_error=error)
        )
    OutboxItem.objects.bulk_create(rows, batch_size=5000)
    # Sent over the last two hours: a third in the throughput's hour.
    first = OutboxItem.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    for start in range(0, done, 5000):
        minutes = 120 * start / max(1, done)
        OutboxItem.objects.filter(pk__gte=first + start, pk__lt=first + start + 5000).update(
            updated_at=now - datetime.timedelta(minutes=minutes)
        )
    SyncRun.objects.create(kind="initial", windows_total=60, windows_done=12, rows=250_000)


def render(times):
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    user, _created = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_superuser": True, "is_staff": True}
    )
    client = Client()
    client.force_login(user)
    url = reverse("wagtail_dynchat_marketo_sync:index")
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return seconds, len(queries)


def limiter_cost(calls):
    """Seconds per :meth:`Limiter.call_slot` (daily count included) and per daily count."""
    from wagtail_dynchat.marketo.limits import Limiter

    limiter = Limiter(
        calls=10**9, window=20, max_concurrent=5, lease_seconds=60, key=uuid.uuid4().hex
    )
    with limiter.call_slot():  # warm the cache connection
        pass
    start = time.perf_counter()
    for _ in range(calls):
        with limiter.call_slot():
            pass
    per_slot = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        limiter.count_call()
    return per_slot, (time.perf_counter() - start) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--done", type=int, default=200_000)
    parser.add_argument("--waiting", type=int, default=20_000)
    parser.add_argument("--dead", type=int, default=5_000)
    parser.add_argument("--renders", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        setup(Path(workdir))
        from django.core.cache import cache
        from django.db import connection

        build(args.done, args.waiting, args.dead)
        seconds, queries = render(args.renders)
        print(
            f"database: {connection.vendor}; cache: {type(cache).__name__}; outbox: "
            f"{args.done} done, {args.waiting} waiting, {args.dead} dead"
        )
        print(
            f"Marketo page: median {statistics.median(seconds) * 1000:.0f} ms, "
            f"worst {max(seconds) * 1000:.0f} ms over {args.renders} renders; {queries} queries"
        )
        per_slot, per_count = limiter_cost(args.calls)
        print(
            f"call_slot: {per_slot * 1e6:.0f} µs per call, of which the daily count "
            f"{per_count * 1e6:.0f} µs ({args.calls} calls)"
        )


if __name__ == "__main__":
    main()
