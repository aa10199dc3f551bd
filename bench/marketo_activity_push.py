"""Custom activity push throughput against the rate budget, on the loopback Marketo fake.

The fake enforces Marketo's limits on a shortened window (``--fake-calls`` calls per
``--window`` seconds, 10 concurrent calls); our budget is half of that, as the defaults are
(``RATE_CALLS`` = fake calls / 2 per ``RATE_WINDOW_SECONDS`` = window, 5 concurrent). The bench
sets the activity types up with ``ensure_activity_types``, makes ``--records`` people who are
Marketo leads, queues one "Reached Dialogue Goal" activity each in the outbox, then drains it
with the real ``drain_outbox`` task from ``--threads`` threads (in each of ``--processes``) for
``--windows`` windows, the backlog never running out (a queue drained to its end splits its
last rows among the workers, and a call of a few records costs as much budget as a full one).

Printed: records/s over the whole drain, the sustained rate (calls come in groups of
``RATE_CALLS``, the budget releasing calls as earlier ones leave its window: the records of the
calls from the end of the first group to the end of the last whole one, over that time), the
ceiling ``300 x RATE_CALLS / RATE_WINDOW_SECONDS``, the sustained ratio to it, and the fake's
606/615 answers. Budget: sustained ≥ 90 % of the ceiling, no 606. (Our limiter counts 3 of its
50 buckets beyond the window, a margin for jitter: at most 50/53 = 94.3 % of the ceiling.)

    python bench/marketo_activity_push.py [--window 10] [--windows 5] [--threads 8]
        [--processes 1] [--records N]

Runs on ``DATABASE_URL`` (PostgreSQL; its outbox and people rows are deleted first) or a
throwaway SQLite database (one writer at a time: expect lock errors with several threads), with
an in-process cache or ``REDIS_URL`` (needed with ``--processes``, forked after the data is
built, as the rate budget must be shared); exits 1 when the sustained ratio is under 90 % or
the fake answered 606.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 0.90
BATCH = 300


def setup(workdir, args):
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"
    # A broker nobody consumes: the drain's "more is due" re-enqueue goes nowhere, the threads
    # below do the draining.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django
    from django.conf import settings

    from tests import fakes
    from tests.fakes.marketo import FakeMarketo

    # http.server sends headers and body in separate writes; with Nagle's algorithm on, each
    # answer then waits for the client's delayed ACK (40 ms on Linux), a stall of the loopback
    # fake, not of Marketo or of our code.
    fakes._Handler.disable_nagle_algorithm = True
    fake = FakeMarketo(rate_calls=args.fake_calls, window=args.window, max_concurrent=10).start()
    settings.WAGTAIL_DYNCHAT = {
        "MARKETO": {
            **fake.settings(),
            "RATE_CALLS": args.fake_calls // 2,
            "RATE_WINDOW_SECONDS": args.window,
            "MAX_CONCURRENT": 5,
        }
    }
    django.setup()
    from django.core.management import call_command

    import example_site.celery  # noqa: F401  (the app the tasks are sent with)

    call_command("migrate", verbosity=0)
    return fake


def build(fake, records):
    from django.db import connection
    from django.utils import timezone

    from wagtail_dynchat.marketo import activities
    from wagtail_dynchat.marketo.client import MarketoClient
    from wagtail_dynchat.models import OutboxItem, Person

    OutboxItem.objects.all().delete()
    Person.objects.all().delete()
    activities.ensure_activity_types(MarketoClient())
    stamp = "2026-11-25T10:00:00Z"
    with fake.lock:
        for lead_id in range(1, records + 1):
            fake.leads[lead_id] = {"id": lead_id, "email": f"p{lead_id}@bench.example"}
    people = Person.objects.bulk_create(
        [
            Person(email=f"p{n}@bench.example", marketo_id=n, first_name=f"P{n}")
            for n in range(1, records + 1)
        ],
        batch_size=2000,
    )
    now = timezone.now()
    OutboxItem.objects.bulk_create(
        [
            OutboxItem(
                kind=OutboxItem.KIND_ACTIVITY,
                dedupe_key=f"activity:goal:bench:{person.pk}",
                person=person,
                next_attempt_at=now,
                payload={
                    "type": "goal",
                    "activityDate": stamp,
                    "primaryAttributeValue": "Book a demo",
                    "attributes": [
                        {"apiName": "dynchatGoalName", "value": "Demo requested"},
                        {"apiName": "dynchatConversationScore", "value": 2},
                        {"apiName": "dynchatPageUrl", "value": "https://example.com/pricing/"},
                    ],
                },
            )
            for person in people
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        # As autovacuum would in a live site: earlier runs' deleted rows must not be scanned.
        with connection.cursor() as cursor:
            for model in (OutboxItem, Person):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def _worker_process(threads, stop, results):
    results.put(_drain_threads(threads, stop))


def _drain_threads(threads, stop):
    """Drain from ``threads`` threads until ``stop`` is set or nothing is due; returns the
    workers' errors."""
    from django.db import connections

    from wagtail_dynchat.marketo import tasks
    from wagtail_dynchat.models import OutboxItem

    errors = []

    def worker():
        try:
            while not stop.is_set() and tasks.drain_outbox(OutboxItem.KIND_ACTIVITY):
                pass
        except Exception as error:  # reported below; the other workers go on
            errors.append(repr(error))
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return errors


def drain(processes, threads, duration):
    """Drain for ``duration`` seconds in ``processes`` forked processes of ``threads`` threads
    each (the fake keeps serving from this one); returns the elapsed seconds and the workers'
    errors. The backlog outlasts the run, so every call can be a full batch."""
    import multiprocessing

    from django.db import connections

    context = multiprocessing.get_context("fork")
    stop = context.Event() if processes > 1 else threading.Event()
    timer = threading.Timer(duration, stop.set)
    if processes == 1:
        started = time.perf_counter()
        timer.start()
        errors = _drain_threads(threads, stop)
        return time.perf_counter() - started, errors
    connections.close_all()  # children must open their own connections
    results = context.Queue()
    pool = [
        context.Process(target=_worker_process, args=(threads, stop, results))
        for _ in range(processes)
    ]
    started = time.perf_counter()
    timer.start()
    for process in pool:
        process.start()
    errors = []
    for _ in pool:
        errors.extend(results.get())
    for process in pool:
        process.join()
    return time.perf_counter() - started, errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, help="activities queued (default: 1.3 x what the run can send)"
    )
    parser.add_argument("--windows", type=float, default=5, help="run length, in windows")
    parser.add_argument("--window", type=float, default=10.0, help="the fake's window, seconds")
    parser.add_argument("--fake-calls", type=int, default=100, help="the fake's calls per window")
    parser.add_argument("--threads", type=int, default=8, help="threads per process")
    parser.add_argument(
        "--processes", type=int, default=1, help="worker processes (more than 1 needs REDIS_URL)"
    )
    args = parser.parse_args()
    duration = args.windows * args.window
    if args.records is None:
        ceiling = BATCH * (args.fake_calls // 2) / args.window
        args.records = int(1.3 * ceiling * (duration + args.window))
    if args.processes > 1 and not os.environ.get("REDIS_URL"):
        parser.error("--processes above 1 needs REDIS_URL: the workers share one rate budget")
    with tempfile.TemporaryDirectory() as workdir:
        fake = setup(Path(workdir), args)
        try:
            from django.conf import settings
            from django.db import connection
            from django.db.models import Count

            from wagtail_dynchat.models import OutboxItem

            build(fake, args.records)
            fake.clear_requests()
            with fake.lock:
                fake.accepted.clear()
            elapsed, errors = drain(args.processes, args.threads, duration)
            statuses = dict(
                OutboxItem.objects.values_list("status").annotate(n=Count("pk")).order_by()
            )
            vendor = connection.vendor
            budget = settings.WAGTAIL_DYNCHAT["MARKETO"]
        finally:
            fake.stop()

    calls = sorted(fake.calls("activities.external.add"), key=lambda call: call.time)
    sizes = [len(call.json["input"]) for call in calls]
    sent = len(fake.activities)
    rate_calls, window = budget["RATE_CALLS"], budget["RATE_WINDOW_SECONDS"]
    ceiling = BATCH * rate_calls / window
    overall = sent / elapsed
    # The budget allows RATE_CALLS calls at once at the start, and then RATE_CALLS more as each
    # leaves the window: calls come in groups of RATE_CALLS. Measured from the last call of the
    # first group to the last call of the last whole group, so the burst and the calls that
    # finished after the stop are left out.
    groups = len(calls) // rate_calls
    span = calls[groups * rate_calls - 1].time - calls[rate_calls - 1].time if groups > 1 else 0.0
    after_burst = sum(sizes[rate_calls : groups * rate_calls])
    sustained = after_burst / span if span else 0.0
    start = calls[0].time if calls else 0.0
    per_window = [0] * (int((calls[-1].time - start) // window) + 1 if calls else 0)
    for call in calls:
        per_window[int((call.time - start) // window)] += 1
    print(
        f"{sent} activities sent of {args.records} queued in {len(calls)} calls "
        f"({args.processes} x {args.threads} threads, {vendor}); outbox: {statuses}"
    )
    print(
        f"fake: {args.fake_calls} calls / {window:g} s, budget {rate_calls} calls / {window:g} s, "
        f"max {fake.max_calls_in_window(window)} calls in any {window:g} s, "
        f"max {fake.max_in_flight} in flight"
    )
    print(f"drain: {elapsed:.1f} s (stopped after {duration:g} s), overall {overall:.0f} records/s")
    print(f"calls per {window:g} s from the first: {per_window}")
    print(
        f"sustained {sustained:.0f} records/s (whole groups of {rate_calls} calls after the first) "
        f"vs ceiling "
        f"{ceiling:.0f} records/s (300 x {rate_calls} / {window:g} s): "
        f"ratio {sustained / ceiling:.1%} (target {TARGET:.0%})"
    )
    partial = [size for size in sizes if size < BATCH]
    print(
        f"606 answers: {fake.rejected['606']}, 615 answers: {fake.rejected['615']}; "
        f"calls with fewer than {BATCH} records: {partial}"
    )
    if errors:
        print("worker errors:", *errors[:5], sep="\n  ")
    if sustained / ceiling < TARGET or fake.rejected["606"] or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
