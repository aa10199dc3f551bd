"""The nightly rollup of a busy day, and purging a day of expired events, on PostgreSQL.

Creates a throwaway database next to DATABASE_URL's (``<name>_rollup_bench``, dropped at the end
unless ``--keep``) and fills it in SQL (``generate_series``): one day 89 days ago with ``--events``
conversation events (5 for each of events/5 conversations of 10 dialogues on the demo pages, a
quarter of the people known, a mix of answers, captures, goals, completions and drops), then
``--history`` copies of that day spread over the following 88 days, so the table holds
(1 + history) x events rows over 90 days, with ids in time order as the application writes them.
Then it times:

- ``rollup_day`` of the first day (twice: the re-run replaces the rows, as a redelivered task
  does);
- ``purge_expired`` two days later, when that day (and only it) is past the 90-day retention
  (every event is re-dated two days back first, untimed). Goal events are kept (records), so
  about 90 % of the day's events go.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dynchat python bench/rollup.py \
        [--events 1000000] [--history 9] [--keep]

Budgets (docs/performance.md): under 60 s each for 1 million events in a 10-million-event table;
exits 1 when over.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_SECONDS = 60
DIALOGUES = 10
EVENTS_PER_CONVERSATION = 5


def _maintenance(url):
    """The server's ``postgres`` database, from where databases are created and dropped."""
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def bench_database(url, suffix="_rollup_bench"):
    """Create the throwaway database (named for ``url``'s plus ``suffix``); returns its URL and
    name."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    with psycopg.connect(_maintenance(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name)), name


def drop_database(url, name):
    import psycopg

    with psycopg.connect(_maintenance(url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(url, *, migrate=True):
    """Configure Django on ``url``; ``migrate`` also creates the tables and the demo content."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    if not migrate:
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_dynchat_demo", verbosity=0)


def make_dialogues():
    """``[(dialogue id, snapshot id, question card, capture card, goal card)]``."""
    import json

    from wagtail_dynchat.engine import flow as reader
    from wagtail_dynchat.models import Dialogue
    from wagtail_dynchat.snapshots import live_snapshot
    from wagtail_dynchat.snippets.blueprints import branch, capture, goal, question, with_block_ids

    flow = [
        branch(
            "start",
            "Start",
            question("<p>Want to hear more?</p>", [("Yes", "yes", "more"), ("No", "no", "bye")]),
        ),
        branch("more", "More", capture("email", "<p>Your e-mail?</p>", "email"), goal("Lead", 2)),
        branch("bye", "Bye"),
    ]
    result = []
    for number in range(DIALOGUES):
        dialogue = Dialogue(name=f"Bench {number}", live=False)
        dialogue.flow = with_block_ids(json.loads(json.dumps(flow)))
        dialogue.save()
        dialogue.save_revision().publish()
        dialogue.refresh_from_db()
        snapshot = live_snapshot(dialogue)
        cards = {}
        for each in reader.branches(snapshot.flow):
            for card in reader.cards(each):
                cards.setdefault(reader.card_type(card), reader.card_id(card))
        result.append(
            (dialogue.pk, snapshot.pk, cards["question"], cards["capture"], cards["goal"])
        )
    return result


def fill_day(day, events):
    """Insert ``events`` events (and their people, visitors, conversations) on ``day``, with
    ids in the order of their times, as the application writes them."""
    from django.db import connection
    from wagtail.models import Page, Site

    from wagtail_dynchat.reports.rollup import day_bounds

    conversations = events // EVENTS_PER_CONVERSATION
    start, _end = day_bounds(day)
    dialogues = make_dialogues()
    site_id = Site.objects.get(is_default_site=True).pk
    page_ids = list(Page.objects.filter(depth__gt=1).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_dialogue (n int, id bigint, snapshot bigint, "
            "question text, capture text, goal text)"
        )
        cursor.executemany(
            "INSERT INTO bench_dialogue VALUES (%s, %s, %s, %s, %s, %s)",
            [(n, *row) for n, row in enumerate(dialogues)],
        )
        cursor.execute("CREATE TEMP TABLE bench_page (n int, id bigint)")
        cursor.executemany("INSERT INTO bench_page VALUES (%s, %s)", list(enumerate(page_ids)))
        cursor.execute(
            """
            INSERT INTO wagtail_dynchat_person (email, first_name, last_name, phone, company,
                job_title, attributes, created_at, updated_at)
            SELECT CASE WHEN g %% 4 = 0 THEN 'p' || g || '@bench.example' END, '', '', '', '',
                '', '{}', %s, %s
            FROM generate_series(1, %s) AS g
            """,
            [start, start, conversations],
        )
        cursor.execute(
            """
            INSERT INTO wagtail_dynchat_visitor (key, person_id, session, visits,
                munchkin_cookie, created_at, last_seen_at)
            SELECT substr(md5(p.id::text || 'v'), 1, 32), p.id, 's' || p.id, 1, '', %s, %s
            FROM wagtail_dynchat_person p
            """,
            [start, start],
        )
        cursor.execute(
            """
            INSERT INTO wagtail_dynchat_conversation (public_id, dialogue_id, snapshot_id,
                visitor_id, person_id, site_id, page_id, url, mode, context, status, state,
                awaiting, transcript, search_text, started_at, updated_at, engaged_at,
                completed_at)
            SELECT substr(md5(v.id::text || 'c'), 1, 32), d.id, d.snapshot, v.id, v.person_id,
                %s, pg.id, '', 'chatbot', '{}',
                CASE WHEN v.id %% 3 = 0 THEN 'completed' ELSE 'active' END, '{}',
                CASE WHEN v.id %% 3 = 0 THEN NULL
                     ELSE jsonb_build_object('card', CASE WHEN v.id %% 3 = 1 THEN d.question
                          ELSE d.capture END, 'kind', 'question') END,
                '[]', '', t.at, t.at + interval '50 seconds', t.at + interval '10 seconds',
                CASE WHEN v.id %% 3 = 0 THEN t.at + interval '40 seconds' END
            FROM wagtail_dynchat_visitor v
            JOIN bench_dialogue d ON d.n = v.id %% %s
            JOIN bench_page pg ON pg.n = (v.id / %s) %% %s
            CROSS JOIN LATERAL (
                SELECT %s::timestamptz + (v.id * 86000.0 / %s) * interval '1 second' AS at
            ) t
            """,
            [site_id, len(dialogues), len(dialogues), len(page_ids), start, conversations],
        )
        cursor.execute(
            """
            INSERT INTO wagtail_dynchat_conversationevent (conversation_id, dialogue_id, kind,
                card, data, session, page_id, created_at)
            SELECT c.id, c.dialogue_id, e.kind, e.card, e.data, 's' || c.visitor_id, c.page_id,
                c.started_at + k * interval '10 seconds'
            FROM wagtail_dynchat_conversation c
            JOIN bench_dialogue d ON d.id = c.dialogue_id
            CROSS JOIN generate_series(1, %s) AS k
            CROSS JOIN LATERAL (
                SELECT CASE k WHEN 1 THEN 'triggered' WHEN 2 THEN 'engaged' WHEN 3 THEN 'answered'
                           WHEN 4 THEN CASE WHEN c.id %% 2 = 0 THEN 'captured' ELSE 'goal' END
                           ELSE CASE WHEN c.status = 'completed' THEN 'completed'
                                     ELSE 'closed' END
                       END AS kind,
                       CASE k WHEN 2 THEN d.question WHEN 3 THEN d.question
                           WHEN 4 THEN CASE WHEN c.id %% 2 = 0 THEN d.capture ELSE d.goal END
                           ELSE '' END AS card,
                       CASE k
                           WHEN 3 THEN CASE WHEN c.id %% 5 = 0
                               THEN '{"value": "no", "label": "No"}'::jsonb
                               ELSE '{"value": "yes", "label": "Yes"}'::jsonb END
                           WHEN 4 THEN CASE WHEN c.id %% 2 = 0
                               THEN jsonb_build_object('field', 'email', 'value',
                                    'c' || c.id || '@bench.example', 'new', c.id %% 4 = 0)
                               ELSE '{"name": "Lead", "score": 2}'::jsonb END
                           ELSE '{}'::jsonb END AS data
            ) e
            ORDER BY c.started_at, c.id, k
            """,
            [EVENTS_PER_CONVERSATION],
        )
        cursor.execute("ANALYZE")
        cursor.execute("SELECT count(*) FROM wagtail_dynchat_conversationevent")
        return cursor.fetchone()[0]


def add_history(day, copies):
    """Copy the events of ``day`` onto ``copies`` later days (up to yesterday), oldest first,
    each copy in its own session so the once-per-session constraint holds."""
    from django.db import connection

    from wagtail_dynchat.reports.rollup import day_bounds

    start, end = day_bounds(day)
    step = max(1, 88 // max(copies, 1))
    columns = "conversation_id, dialogue_id, kind, card, data, session, page_id, created_at"
    with connection.cursor() as cursor:
        for number in range(1, copies + 1):
            cursor.execute(
                f"""
                INSERT INTO wagtail_dynchat_conversationevent ({columns})
                SELECT conversation_id, dialogue_id, kind, card, data, session || '-' || %s,
                    page_id, created_at + %s * interval '1 day'
                FROM wagtail_dynchat_conversationevent
                WHERE created_at >= %s AND created_at < %s
                ORDER BY created_at, id
                """,
                [number, number * step, start, end],
            )
        cursor.execute("VACUUM ANALYZE wagtail_dynchat_conversationevent")
        cursor.execute("SELECT count(*) FROM wagtail_dynchat_conversationevent")
        return cursor.fetchone()[0]


def age_events(days):
    """Move every event ``days`` days into the past (keeps their order)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wagtail_dynchat_conversationevent "
            "SET created_at = created_at - %s * interval '1 day'",
            [days],
        )
        cursor.execute("VACUUM ANALYZE wagtail_dynchat_conversationevent")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=9, help="copies of the day, later")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("bench/rollup.py needs DATABASE_URL pointing at PostgreSQL.")
        return 2
    bench_url, name = bench_database(url)
    try:
        setup(bench_url)
        import datetime

        from wagtail_dynchat.reports.retention import purge_expired
        from wagtail_dynchat.reports.rollup import local_today, rollup_day

        day = local_today() - datetime.timedelta(days=89)
        started = time.perf_counter()
        count = fill_day(day, args.events)
        print(f"generated {count:,} events on {day} in {time.perf_counter() - started:.1f} s")
        if args.history:
            started = time.perf_counter()
            total = add_history(day, args.history)
            print(
                f"copied them onto {args.history} later days: {total:,} events in the table "
                f"({time.perf_counter() - started:.1f} s)"
            )

        first = rollup_day(day)
        print(
            f"rollup_day: {first['seconds']:.2f} s ({first['events']:,} events, "
            f"{first['rows']:,} rows)"
        )
        again = rollup_day(day)
        print(f"rollup_day again (idempotent re-run): {again['seconds']:.2f} s")

        age_events(2)
        started = time.perf_counter()
        counts = purge_expired()
        purge_seconds = time.perf_counter() - started
        print(
            f"purge_expired: {purge_seconds:.2f} s ({counts['events']:,} events deleted, "
            f"{counts['people']:,} people)"
        )
        worst = max(first["seconds"], again["seconds"], purge_seconds)
        scale = args.events / 1_000_000
        over = worst > BUDGET_SECONDS * max(scale, 1)
        print(f"budget {BUDGET_SECONDS} s per million events: {'OVER' if over else 'ok'}")
        return 1 if over else 0
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(url, name)


if __name__ == "__main__":
    sys.exit(main())
