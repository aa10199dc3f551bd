"""Initial Marketo sync of a large lead database: wall time, rows per second, peak memory.

The loopback Marketo fake (``tests/fakes``) runs in this process and serves a *generated*
database of ``--leads`` leads (default 1,000,000, with createdAt spread from 2024-01-01 to
2026-10-01, so about 33 windows of 31 days with ~30,000 leads each, plus a few empty ones up to
today). Each export's CSV is written to a temporary file when the job completes and served in
byte ranges. The sync itself runs in a child process, ``manage.py dynchat_marketo_sync
--initial`` under the test settings (no Celery), so that its peak resident memory is measured
alone with ``getrusage(RUSAGE_CHILDREN)``.

Differences from production, on purpose: status polls every ``--poll`` seconds (default 1)
instead of Marketo's 60, and export jobs process in ``--process`` seconds (default 1) instead
of minutes; both only shorten waiting. Everything else (ranges of 8 MB, chunks of 5,000 rows,
two jobs queued ahead, the shared rate budget of 50 calls per 20 s) is the default setting.

    DATABASE_URL=postgres://… python bench/marketo_initial_sync.py [--leads 1000000]

With DATABASE_URL pointing at PostgreSQL, a scratch database ``<name>_marketo_bench`` is
created next to it and dropped afterwards; without it, a temporary SQLite file is used. Exits 1
when the sync takes over 180 s, peaks over 300 MB, or loads a different number of leads.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_SECONDS = 180
BUDGET_MB = 300
START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
END = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)


def scratch_database(url):
    """A fresh PostgreSQL database next to ``url``'s; returns (its url, drop function)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + "_marketo_bench"
    admin = urlunsplit(parts._replace(path="/postgres"))

    def run(statement):
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{name}"')
    run(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name)), lambda: run(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def child():
    """The sync, as an operator runs it: the management command, in this process."""
    import django
    from django.conf import settings

    settings.WAGTAIL_DYNCHAT = {"MARKETO": json.loads(os.environ["BENCH_MARKETO"])}
    django.setup()
    from django.core.management import call_command

    call_command("dynchat_marketo_sync", "--initial", "--since", START.date().isoformat())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--poll", type=float, default=1.0, help="BULK_POLL_SECONDS")
    parser.add_argument("--process", type=float, default=1.0, help="seconds a job processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ.pop("REDIS_URL", None)  # an in-process cache: the bench shares no Redis
    os.environ.pop("CELERY_BROKER_URL", None)
    if args.child:
        return child()

    drop = None
    workdir = tempfile.TemporaryDirectory()
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        url, drop = scratch_database(url)
    else:
        url = f"sqlite:///{Path(workdir.name) / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = url

    import django

    from tests.fakes.marketo import FakeMarketo

    fake = FakeMarketo().start()
    try:
        fake.generate_leads(args.leads, START, END)
        fake.process_seconds = args.process
        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        marketo = {**fake.settings(), "BULK_POLL_SECONDS": args.poll}
        env = {**os.environ, "BENCH_MARKETO": json.dumps(marketo)}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, __file__, "--child"], env=env, cwd=ROOT, check=False
        )
        wall = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mb = usage.ru_maxrss / 1024
        cpu = usage.ru_utime + usage.ru_stime

        from django.db import connection

        from wagtail_dynchat.models import Company, Person

        people = Person.objects.count()
        companies = Company.objects.count()
        requests = len(fake.requests)
        files = sum(1 for r in fake.requests if r.route == "bulk.file")
        connection.close()
    finally:
        fake.stop()
        if drop is not None:
            drop()
        workdir.cleanup()

    engine = "PostgreSQL" if drop is not None else "SQLite"
    print(
        f"initial sync of {args.leads:,} generated leads into {engine}: "
        f"{people:,} people, {companies:,} companies"
    )
    print(
        f"wall {wall:.1f} s (budget {BUDGET_SECONDS} s), {people / wall:,.0f} rows/s, "
        f"peak RSS of the sync process {peak_mb:.0f} MB (budget {BUDGET_MB} MB)"
    )
    load = os.getloadavg()[0]
    print(
        f"CPU time of the sync process {cpu:.1f} s; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{requests} requests to the fake ({files} file ranges); poll every {args.poll:g} s, "
        f"jobs process in {args.process:g} s (shortened for the bench)"
    )
    if result.returncode or people != args.leads or wall > BUDGET_SECONDS or peak_mb > BUDGET_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
