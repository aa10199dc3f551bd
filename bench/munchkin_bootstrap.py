"""What the Munchkin cookie costs bootstrap: database queries and server time per case.

Loads the demo site with Marketo configured (pointing at the loopback fake; no call is made
during the measured requests: lookups are only queued, on a broker nobody consumes), then calls
bootstrap through the full Django stack on a warm cache for:

- an anonymous browser without cookies, and one with only ``_mkto_trk`` (no visitor row yet);
- a returning visitor without ``_mkto_trk``, and one whose cookie was already looked up;
- a returning visitor whose cookie is seen for the first time (or is due for its re-check):
  the one conditional UPDATE that claims the lookup, plus publishing the task.

Prints queries and median / 95th percentile server time per case. Budget: no query added to
the first four cases, one to the last.

    python bench/munchkin_bootstrap.py [--requests 2000]

Runs on a throwaway SQLite database (or DATABASE_URL) and an in-process cache.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COOKIE = "id:123-ABC-456&token:_mch-example.com-1700000000000-12345"


def setup(workdir):
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.pop("REDIS_URL", None)
    # A real (in-memory) broker, not eager tasks: the lookup is queued, not run in the request.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    import django
    from django.conf import settings

    from tests.fakes.marketo import FakeMarketo

    fake = FakeMarketo().start()
    settings.WAGTAIL_DYNCHAT = {"RATE_LIMIT_IP": "100000000/m", "MARKETO": fake.settings()}
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("load_dynchat_demo", verbosity=0)
    return fake


def measure(requests):
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import Page

    from wagtail_dynchat.models import Dialogue, Visitor

    page = Page.objects.get(slug="pricing")
    dialogue = Dialogue.objects.get(slug="book-a-demo")

    def bootstrap(client):
        started = time.perf_counter()
        response = client.get("/dynchat/api/bootstrap", {"page": page.pk, "url": page.url})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        return elapsed

    def returning():
        client = Client()
        start = client.post(
            "/dynchat/api/conversations",
            {"dialogue": dialogue.pk, "page": page.pk, "url": "", "mode": "popup"},
            content_type="application/json",
        )
        assert start.status_code in (200, 201), start.content
        return client

    def queries(client, before=None):
        if before:
            before()
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            bootstrap(client)
        return len(captured)

    def timings(client, before=None):
        out = []
        for _ in range(requests):
            if before:
                before()
            out.append(bootstrap(client))
        return out

    anonymous = Client()
    stranger = Client()
    stranger.cookies["_mkto_trk"] = COOKIE
    plain = returning()
    looked_up = returning()
    looked_up.cookies["_mkto_trk"] = COOKIE
    bootstrap(looked_up)  # claims (and queues) its lookup once
    first_sight = returning()
    first_sight.cookies["_mkto_trk"] = COOKIE
    key = first_sight.cookies["dynchat_vid"].value

    def forget():
        Visitor.objects.filter(key=key).update(munchkin_cookie="", munchkin_checked_at=None)

    for client in (anonymous, stranger, plain, looked_up):
        bootstrap(client)  # warm
    cases = [
        ("anonymous, no cookies", anonymous, None),
        ("anonymous, only _mkto_trk", stranger, None),
        ("returning, no _mkto_trk", plain, None),
        ("returning, _mkto_trk already looked up", looked_up, None),
        ("returning, _mkto_trk first seen (lookup queued)", first_sight, forget),
    ]
    return [(name, queries(c, before), timings(c, before)) for name, c, before in cases]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        fake = setup(Path(workdir))
        try:
            results = measure(args.requests)
        finally:
            fake.stop()
    ok = True
    base = {name: count for name, count, _ in results}
    for name, count, times in results:
        median = statistics.median(times) * 1000
        p95 = statistics.quantiles(times, n=20)[-1] * 1000
        print(f"{name:48} queries {count}   median {median:.2f} ms   p95 {p95:.2f} ms")
    ok = (
        base["anonymous, no cookies"] == base["anonymous, only _mkto_trk"] == 0
        and base["returning, no _mkto_trk"] == base["returning, _mkto_trk already looked up"]
        and base["returning, _mkto_trk first seen (lookup queued)"]
        == base["returning, no _mkto_trk"] + 1
    )
    print(f"Marketo calls during the measured requests: {len(fake.calls('leads.get'))}")
    print("budget: no query added without a due lookup, one with it:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
