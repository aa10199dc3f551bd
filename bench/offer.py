"""A meeting card's offer for a big queue: server time once free/busy is cached, provider calls.

Builds a 20-agent round-robin queue (five time zones, weekdays 09:00-12:00 and 13:00-17:00,
30-minute meetings, 10-minute buffer, daily cap 6, 14-day horizon), connects every agent's
calendar to the loopback Google fake (``tests/fakes``) through the real OAuth round trip, adds
about 10 busy intervals per agent per day there and a few booked meetings in the database. Then
calls ``booking.offer`` (routing, free/busy, slot maths, grouping in the visitor's zone):

- once cold, counting the free/busy requests the fake receives (budget: one per provider);
- ``--runs`` times warm (free/busy from the cache), timing each and counting queries.

    python bench/offer.py [--runs 200]

Runs on a throwaway SQLite database (or DATABASE_URL) and an in-process cache; exits 1 when the
warm median is over 50 ms or the cold offer made more than one free/busy request.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_MS = 50
AGENTS = 20
DAYS = 14
BUSY_PER_DAY = 10
ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Asia/Kolkata", "America/Chicago"]
VISITOR_ZONE = "America/Los_Angeles"


def setup(workdir):
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # the fake speaks plain http
    os.environ.pop("REDIS_URL", None)
    import django
    from cryptography.fernet import Fernet
    from django.conf import settings

    from tests.fakes.google_calendar import FakeGoogle

    fake = FakeGoogle().start()
    settings.WAGTAIL_DYNCHAT = {
        "CALENDAR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "GOOGLE": fake.settings(),
        "FREE_BUSY_CACHE_SECONDS": 3600,
    }
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return fake


def build(fake, now):
    from django.contrib.auth import get_user_model

    from tests.fakes.fixtures import connect_google
    from wagtail_dynchat.meetings import tokens
    from wagtail_dynchat.models import Agent, CalendarConnection, Meeting, MeetingQueue, QueueMember

    rng = random.Random(20)
    queue = MeetingQueue.objects.create(name="Bench")
    for index in range(AGENTS):
        email = f"agent{index}@sales.example"
        user = get_user_model().objects.create_user(f"agent{index}", email)
        agent = Agent.objects.create(
            user=user,
            time_zone=ZONES[index % len(ZONES)],
            meeting_minutes=30,
            buffer_minutes=10,
            min_notice_hours=24,
            horizon_days=DAYS,
            daily_cap=6,
        )
        bundle = connect_google(fake, email)
        CalendarConnection.objects.create(
            agent=agent,
            provider="google",
            account=bundle.account,
            encrypted_tokens=tokens.encrypt(bundle),
        )
        QueueMember.objects.create(queue=queue, agent=agent, sort_order=index)
        for day in range(DAYS):
            base = now + timedelta(days=day)
            for _ in range(BUSY_PER_DAY):
                start = base + timedelta(minutes=rng.randrange(0, 24 * 60, 5))
                fake.add_busy(email, start, start + timedelta(minutes=rng.choice((15, 30, 60))))
        for day in range(1, DAYS, 3):
            start = (now + timedelta(days=day)).replace(hour=14, minute=0)
            Meeting.objects.create(
                agent=agent,
                email="someone@client.example",
                starts_at=start,
                ends_at=start + timedelta(minutes=30),
                status=Meeting.SCHEDULED,
            )
    return queue


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        fake = setup(Path(workdir))
        try:
            from django.db import connection
            from django.test.utils import CaptureQueriesContext

            from wagtail_dynchat.meetings import booking

            now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
            queue = build(fake, now)

            def offer():
                return booking.offer(
                    queue_id=queue.pk,
                    email="visitor@client.example",
                    person=None,
                    facts={},
                    visitor_tz=VISITOR_ZONE,
                    now=now,
                )

            fake.clear_requests()
            started = time.perf_counter()
            cold = offer()
            cold_ms = (time.perf_counter() - started) * 1000
            cold_calls = len(fake.calls("freebusy.query"))

            timings = []
            for _ in range(args.runs):
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    answer = offer()
                timings.append((time.perf_counter() - started) * 1000)
            warm_calls = len(fake.calls("freebusy.query")) - cold_calls
        finally:
            fake.stop()

    times = sum(len(day["times"]) for day in answer["days"])
    timings.sort()
    median = statistics.median(timings)
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(
        f"offer for {AGENTS} agents over {DAYS} days: {answer['agents']} agents offered, "
        f"{times} times on {len(answer['days'])} days"
    )
    print(f"cold (free/busy fetched): {cold_ms:.1f} ms, {cold_calls} free/busy request(s)")
    print(
        f"warm (free/busy cached): median {median:.1f} ms, p95 {p95:.1f} ms "
        f"(budget {BUDGET_MS} ms), {len(captured)} queries, {warm_calls} free/busy requests"
    )
    assert cold["days"] == answer["days"]
    if median > BUDGET_MS or cold_calls > 1 or warm_calls:
        sys.exit(1)


if __name__ == "__main__":
    main()
