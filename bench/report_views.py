"""The dashboard and a dialogue's report on 90 days of events, on PostgreSQL.

Creates a throwaway database next to DATABASE_URL's (``<name>_report_bench``, dropped at the end
unless ``--keep``) and fills it in SQL with ``bench/rollup.py``'s day (10 dialogues on the demo
pages, 5 events per conversation, a quarter of the people known): one day ``--days - 1`` days
ago with ``--events / --days`` events, then a copy of that day (people, visitors, conversations
and events, with ids of their own) on every following day up to now. Reports use a fixed-offset
time zone in which it is now 22:00-23:00, so the table holds about ``--events`` events over
``--days`` days and today has most of its share, none of it in the future (the dashboard read in
the evening). Every past day is rolled up (``rollup_day``, timed); today is not: reports compute
it from its events.

Then it times, ``--runs`` times after a warm-up (median, 95th percentile and the queries of one
run):

- today's live computation (``rollup.compute_day``), for every rollup table (what the
  ``refresh_live_reports`` task does) and for each table alone;
- each ``Report`` method on a fresh ``Report`` (30 and 90 days), cold (cache emptied first: the
  method computes the tables it reads) and warm (today's rows in the cache);
- the views, through Django's test client as a logged-in superuser (server time is the time of
  ``client.get`` in the process: middleware, view, queries and template): the dashboard
  (``wagtail_dynchat_dashboard:index``, default range and ``range=90d``) and a dialogue's report
  (``wagtail_dynchat_dialogue_report:index``, 30 and 90 days), warm (as the refresh task or an
  earlier view within ``REPORT_LIVE_CACHE_SECONDS`` leaves the cache) and cold (the first view
  after the cache entries expired, when no task refreshes them). Views not registered are skipped.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat python bench/report_views.py \\
        [--events 10000000] [--days 90] [--runs 15] [--keep] [--reuse] \\
        [--pg-settings "random_page_cost=1.1 jit=off"]

Filling 10M events takes 15-20 minutes on 2 cores; ``--keep`` then ``--reuse`` times again on
the same database (no fill, no rollups) within the hour or so before its day ends.
``--pg-settings`` sets PostgreSQL settings on the timed connection.

Budget (docs/performance.md): each view under 300 ms of server time (median, warm); exits 1 when
over. Cold figures are printed for information.
"""

import argparse
import datetime
import os
import statistics
import sys
import time

from rollup import EVENTS_PER_CONVERSATION, bench_database, drop_database, fill_day, setup

BUDGET_MS = 300
SUFFIX = "_report_bench"


# How copied rows differ from the first day's: ids shifted by a multiple of each table's largest
# id, unique columns derived from the new id, times moved by whole days.
SHIFTED = {
    "wagtail_dynchat_person": {
        "id": "id + {person}",
        "email": "CASE WHEN email IS NOT NULL THEN 'p' || (id + {person}) || '@bench.example' END",
        "created_at": "created_at + {days} * interval '1 day'",
        "updated_at": "updated_at + {days} * interval '1 day'",
    },
    "wagtail_dynchat_visitor": {
        "id": "id + {visitor}",
        "key": "substr(md5((id + {visitor})::text || 'v'), 1, 32)",
        "person_id": "person_id + {person}",
        "created_at": "created_at + {days} * interval '1 day'",
        "last_seen_at": "last_seen_at + {days} * interval '1 day'",
    },
    "wagtail_dynchat_conversation": {
        "id": "id + {conversation}",
        "public_id": "substr(md5((id + {conversation})::text || 'c'), 1, 32)",
        "visitor_id": "visitor_id + {visitor}",
        "person_id": "person_id + {person}",
        "started_at": "started_at + {days} * interval '1 day'",
        "updated_at": "updated_at + {days} * interval '1 day'",
        "engaged_at": "engaged_at + {days} * interval '1 day'",
        "completed_at": "completed_at + {days} * interval '1 day'",
    },
}
# The column that dates a row of each table.
DATED_BY = {
    "wagtail_dynchat_person": "created_at",
    "wagtail_dynchat_visitor": "created_at",
    "wagtail_dynchat_conversation": "started_at",
}


def copy_days(first_day, copies, until):
    """Copy the people, visitors, conversations and events of ``first_day`` onto each of the
    ``copies`` days after it, up to ``until`` (now: nothing is in the future): every day has
    visitors and conversations of its own (as the application allows one active conversation per
    visitor and dialogue), with ids in time order as the application writes them."""
    from django.db import connection

    from wagtail_dynchat.reports.rollup import day_bounds

    start, end = day_bounds(first_day)
    with connection.cursor() as cursor:
        columns, strides = {}, {}
        for table in SHIFTED:
            # Every column, so that fields added to the models later are copied too.
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s ORDER BY ordinal_position",
                [table],
            )
            columns[table] = [name for (name,) in cursor.fetchall()]
            cursor.execute(f"SELECT max(id) + 1 FROM {table}")
            strides[table.removeprefix("wagtail_dynchat_")] = cursor.fetchone()[0]
        for number in range(1, copies + 1):
            shifts = {name: number * stride for name, stride in strides.items()}
            shifts["days"] = number
            for table, overrides in SHIFTED.items():
                expressions = ", ".join(
                    overrides.get(name, name).format(**shifts) for name in columns[table]
                )
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns[table])}) "
                    f"SELECT {expressions} FROM {table} "
                    f"WHERE {DATED_BY[table]} >= %s AND {DATED_BY[table]} < %s "
                    f"AND {DATED_BY[table]} + {number} * interval '1 day' < %s ORDER BY id",
                    [start, end, until],
                )
            cursor.execute(
                """
                INSERT INTO wagtail_dynchat_conversationevent (conversation_id, dialogue_id, kind,
                    card, data, session, page_id, created_at)
                SELECT conversation_id + {conversation}, dialogue_id, kind, card, data,
                    session || '-' || {days}, page_id, created_at + {days} * interval '1 day'
                FROM wagtail_dynchat_conversationevent
                WHERE created_at >= %s AND created_at < %s
                    AND created_at + {days} * interval '1 day' < %s
                ORDER BY created_at, id
                """.format(**shifts),
                [start, end, until],
            )
        for table in SHIFTED:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        for table in (*SHIFTED, "wagtail_dynchat_conversationevent"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("SELECT count(*) FROM wagtail_dynchat_conversationevent")
        return cursor.fetchone()[0]


def fill(events, days):
    """``events`` events over the ``days`` days ending today; returns the first day."""
    from django.utils import timezone

    from wagtail_dynchat.reports.rollup import local_today

    first_day = local_today() - datetime.timedelta(days=days - 1)
    per_day = events // days // EVENTS_PER_CONVERSATION * EVENTS_PER_CONVERSATION
    started = time.perf_counter()
    count = fill_day(first_day, per_day)
    print(f"generated {count:,} events on {first_day} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    total = copy_days(first_day, days - 1, until=timezone.now())
    print(
        f"copied them onto the {days - 1} following days: {total:,} events in the table "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return first_day


def evening_zone(hour=22):
    """A fixed-offset time zone in which it is now ``hour`` o'clock: today's events (up to now)
    are then most of a day's, as when the dashboard is read in the evening, and the day does not
    end during the run."""
    utc_hour = datetime.datetime.now(datetime.UTC).hour
    offset = (hour - utc_hour) % 24
    if offset > 14:
        offset -= 24
    # Etc/GMT names count the other way round: Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{-offset:+d}"


def use_zone(zone):
    from django.conf import settings

    from wagtail_dynchat.conf import dynchat_settings

    settings.WAGTAIL_DYNCHAT = {**settings.WAGTAIL_DYNCHAT, "TIME_ZONE": zone}
    dynchat_settings.reload()


def remember_zone(zone=None):
    """Keep the report time zone of the filled database in it (``--reuse`` needs the same
    days); returns it."""
    from django.db import connection

    with connection.cursor() as cursor:
        if zone is not None:
            cursor.execute("CREATE TABLE bench_zone (name text)")
            cursor.execute("INSERT INTO bench_zone VALUES (%s)", [zone])
        cursor.execute("SELECT name FROM bench_zone")
        return cursor.fetchone()[0]


def rollup_past_days(first_day):
    """Roll up every day before today, as the nightly task would have; returns the seconds
    of each day."""
    from wagtail_dynchat.reports.rollup import local_today, rollup_day

    seconds = []
    day = first_day
    while day < local_today():
        seconds.append(rollup_day(day)["seconds"])
        day += datetime.timedelta(days=1)
    if seconds:
        print(
            f"rollup_day of {len(seconds)} past days: {sum(seconds):.1f} s "
            f"(median {statistics.median(seconds):.2f} s, slowest {max(seconds):.2f} s a day)"
        )
    return seconds


def measure(function, runs, *, before=None):
    """Call ``function`` once to warm up, then ``runs`` times; returns the times in ms and the
    number of queries of the last run. ``before`` runs untimed before each call."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    if before:
        before()
    function()
    times = []
    queries = 0
    for _run in range(runs):
        if before:
            before()
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            function()
            times.append((time.perf_counter() - started) * 1000)
        queries = len(captured)
    return times, queries


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Table:
    """Rows of figures, printed at the end; remembers which rows are over budget."""

    def __init__(self):
        self.rows = []
        self.over = []

    def add(self, name, times, queries, budget=None):
        median, p95 = statistics.median(times), percentile(times, 0.95)
        status = ""
        if budget is not None:
            status = "ok" if median < budget else "OVER"
            if status == "OVER":
                self.over.append(name)
        self.rows.append((name, median, p95, queries, budget, status))
        print(f"  {name}: median {median:.1f} ms, p95 {p95:.1f} ms, {queries} queries")

    def print(self):
        width = max(len(row[0]) for row in self.rows)
        print()
        print(f"{'figure':<{width}}  {'median':>9}  {'p95':>9}  {'queries':>7}  budget")
        for name, median, p95, queries, budget, status in self.rows:
            limit = f"< {budget} ms {status}" if budget is not None else ""
            print(f"{name:<{width}}  {median:>6.1f} ms  {p95:>6.1f} ms  {queries:>7}  {limit}")


def clear_cache():
    from django.core.cache import caches

    from wagtail_dynchat.conf import dynchat_settings

    caches[dynchat_settings.CACHE_ALIAS].clear()


def time_report_api(table, key, runs):
    from wagtail_dynchat.reports import live, rollup
    from wagtail_dynchat.reports.metrics import Report, ReportFilters

    print("Report API, cold (cache emptied before each call; a fresh Report each time):")
    table.add(
        "compute_day(today), every table (the refresh task)",
        *measure(lambda: live.refresh(), runs, before=clear_cache),
    )
    for model in rollup.ROLLUP_MODELS:
        table.add(
            f"compute_day(today), {model.__name__} only",
            *measure(
                lambda model=model: rollup.compute_day(rollup.local_today(), models=(model,)),
                runs,
            ),
        )
    for preset in ("30d", "90d"):
        filters = ReportFilters.for_preset(preset)
        dialogue = filters.with_dialogue(key)
        calls = {
            "totals": lambda filters=filters: Report(filters).totals(),
            "by_day": lambda filters=filters: Report(filters).by_day(),
            "by_dialogue": lambda filters=filters: Report(filters).by_dialogue(),
            "top_pages": lambda filters=filters: Report(filters).top_pages(),
            "meetings_by_agent": lambda filters=filters: Report(filters).meetings_by_agent(),
            "goals": lambda filters=filters: Report(filters).goals(),
            "coverage": lambda filters=filters: Report(filters).coverage(),
            "funnel, one dialogue": lambda dialogue=dialogue: Report(dialogue).funnel(),
        }
        for name, call in calls.items():
            table.add(f"Report {preset} .{name}, cold", *measure(call, runs, before=clear_cache))
            table.add(f"Report {preset} .{name}, warm", *measure(call, runs))


def view_urls(key):
    """``{name: url}`` of the views registered so far."""
    from django.urls import NoReverseMatch, reverse

    urls = {}
    try:
        dashboard = reverse("wagtail_dynchat_dashboard:index")
        urls["dashboard (default range)"] = dashboard
        urls["dashboard range=90d"] = dashboard + "?range=90d"
    except NoReverseMatch:
        print("  (no dashboard view registered yet: wagtail_dynchat_dashboard:index)")
    try:
        report = reverse("wagtail_dynchat_dialogue_report:index", args=[key])
        urls["dialogue report range=30d"] = report + "?range=30d"
        urls["dialogue report range=90d"] = report + "?range=90d"
    except NoReverseMatch:
        print("  (no dialogue report view registered yet: wagtail_dynchat_dialogue_report:index)")
    return urls


def time_views(table, key, runs):
    from django.contrib.auth import get_user_model
    from django.test import Client

    print("Views (test client, superuser):")
    urls = view_urls(key)
    if not urls:
        return
    user = get_user_model().objects.filter(username="bench").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)

    def get(url):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")

    for name, url in urls.items():
        table.add(f"{name}, warm", *measure(lambda url=url: get(url), runs), budget=BUDGET_MS)
        table.add(f"{name}, cold", *measure(lambda url=url: get(url), runs, before=clear_cache))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90, help="days of events, today included")
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each figure")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="time a database kept by --keep")
    parser.add_argument(
        "--pg-settings",
        default="",
        help="PostgreSQL settings of the timed connection, e.g. 'random_page_cost=1.1 jit=off'",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench/report_views.py needs DATABASE_URL pointing at PostgreSQL.")
        return 2
    if not 2 <= args.days <= 90:
        parser.error("--days must be between 2 and 90 (the event retention)")
    if args.reuse:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        name = parts.path.lstrip("/") + SUFFIX
        bench_url = urlunsplit(parts._replace(path="/" + name))
    else:
        bench_url, name = bench_database(url, SUFFIX)
    try:
        setup(bench_url, migrate=not args.reuse)
        import zoneinfo

        from django.conf import settings
        from django.utils import timezone

        from wagtail_dynchat.models import ConversationEvent, Dialogue
        from wagtail_dynchat.reports.rollup import day_bounds, local_today

        settings.ALLOWED_HOSTS = ["*"]
        zone = remember_zone(None if args.reuse else evening_zone())
        use_zone(zone)
        local = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(zone))
        print(f"report time zone {zone}: local time {local:%Y-%m-%d %H:%M}")
        if not args.reuse:
            rollup_past_days(fill(args.events, args.days))
        if args.pg_settings:
            from django.db import connection

            connection.close()
            options = " ".join(f"-c {each}" for each in args.pg_settings.split())
            connection.settings_dict.setdefault("OPTIONS", {})["options"] = options
            print(f"timed with PostgreSQL settings: {args.pg_settings}")
        start, end = day_bounds(local_today())
        today = ConversationEvent.objects.filter(created_at__gte=start, created_at__lt=end)
        total = ConversationEvent.objects.count()
        print(f"{total:,} events in the table, {today.count():,} of them today")
        key = Dialogue.objects.get(name="Bench 0").translation_key
        with open("/proc/loadavg") as loadavg:
            print(f"load average before timing: {loadavg.read().strip()}")
        table = Table()
        time_report_api(table, key, args.runs)
        time_views(table, key, args.runs)
        table.print()
        with open("/proc/loadavg") as loadavg:
            print(f"load average after timing: {loadavg.read().strip()}")
        print(
            f"budget {BUDGET_MS} ms per view (median, warm): {'OVER' if table.over else 'ok'} "
            f"({os.cpu_count()} CPUs)"
        )
        return 1 if table.over else 0
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url, name)


if __name__ == "__main__":
    sys.exit(main())
