"""Meeting slots for a big queue: server time once free/busy is fetched.

Builds a 20-agent queue over 14 days: working hours 09:00-12:00 and 13:00-17:00 on weekdays in
each agent's time zone (five zones, DST included), 30-minute meetings with a 10-minute buffer, a
daily cap of 6, about 10 random busy intervals per agent per day and a few booked meetings (fixed
seed, unsorted, some overlapping). Then times ``queue_slots`` for the whole queue, cold (the
cache of local-time conversions emptied before each run, as for a process's first request) and
warm, and ``group_by_day`` in the visitor's time zone on its answer, and prints the median and 95th
percentile of each.

    python bench/slots.py [--runs 200]

Pure Python, no database: exits 1 when a median of ``queue_slots`` is over 50 ms.
"""

import argparse
import datetime
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wagtail_dynchat.meetings import slots as engine  # noqa: E402
from wagtail_dynchat.meetings.slots import Availability, group_by_day, queue_slots  # noqa: E402

BUDGET_MS = 50
AGENTS = 20
DAYS = 14
BUSY_PER_DAY = 10
ZONES = ["Europe/Berlin", "America/New_York", "Europe/London", "Asia/Kolkata", "America/Chicago"]
VISITOR_ZONE = "America/Los_Angeles"
# Spans the end of European summer time (25 October 2026) and of American (1 November 2026).
NOW = datetime.datetime(2026, 10, 20, 7, 13, tzinfo=datetime.UTC)


def build_queue(rng):
    """``{agent: (availability, busy, booked)}``, as the booking service hands them over."""
    hours = [(datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(17))]
    queue = {}
    for n in range(AGENTS):
        zone_name = ZONES[n % len(ZONES)]
        zone = ZoneInfo(zone_name)
        availability = Availability(
            time_zone=zone_name,
            weekly=dict.fromkeys(range(5), hours),
            duration=timedelta(minutes=30),
            buffer_after=timedelta(minutes=10),
            daily_cap=6,
        )
        busy, booked = [], []
        first = NOW.astimezone(zone).date()
        for offset in range(DAYS + 1):
            day = first + timedelta(days=offset)
            for _ in range(BUSY_PER_DAY):
                begin = datetime.datetime.combine(
                    day, datetime.time(rng.randrange(7, 19), rng.choice((0, 15, 30, 45))), zone
                )
                busy.append((begin, begin + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))))
            for _ in range(rng.randrange(0, 4)):
                begin = datetime.datetime.combine(
                    day, datetime.time(rng.randrange(9, 17), rng.choice((0, 30))), zone
                )
                booked.append((begin, begin + timedelta(minutes=30)))
        rng.shuffle(busy)  # providers answer per calendar, not in one global order
        queue[f"agent-{n}"] = (availability, busy, booked)
    return queue


def timed(function, runs, before=None):
    timings = []
    for _ in range(runs):
        if before:
            before()
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return result, timings


def summary(timings):
    median = statistics.median(timings) * 1000
    p95 = statistics.quantiles(timings, n=20)[-1] * 1000
    return median, p95


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    queue = build_queue(random.Random(5))
    busy = sum(len(busy) for _, busy, _ in queue.values())
    booked = sum(len(booked) for _, _, booked in queue.values())

    def answer():
        return queue_slots(queue, now=NOW)

    _, cold = timed(answer, args.runs, before=engine._wall_to_us.cache_clear)
    slots, warm = timed(answer, args.runs)
    days, grouping = timed(lambda: group_by_day(slots, VISITOR_ZONE), args.runs)
    cold_median, cold_p95 = summary(cold)
    median, p95 = summary(warm)
    group_median, group_p95 = summary(grouping)
    offers = sum(len(agents) for agents in slots.values())

    print(
        f"{AGENTS} agents over {DAYS} days: {busy} busy intervals, {booked} booked meetings; "
        f"{len(slots)} start times over {len(days)} visitor days, {offers} agent slots"
    )
    print(
        f"queue_slots, cold, over {args.runs} runs: median {cold_median:.2f} ms, "
        f"95th percentile {cold_p95:.2f} ms (budget: median under {BUDGET_MS} ms)"
    )
    print(
        f"queue_slots, warm, over {args.runs} runs: median {median:.2f} ms, "
        f"95th percentile {p95:.2f} ms (budget: median under {BUDGET_MS} ms)"
    )
    print(
        f"group_by_day ({VISITOR_ZONE}) on its answer: median {group_median:.2f} ms, "
        f"95th percentile {group_p95:.2f} ms"
    )
    return 0 if max(cold_median, median) < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
