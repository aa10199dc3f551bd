"""The shared Marketo rate limiter and concurrency cap (wagtail_dynchat.marketo.limits)."""

import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from bisect import bisect_left
from pathlib import Path

import pytest
from django.core.cache import caches

from tests.conftest import require_service
from wagtail_dynchat.marketo import RateLimited, limits
from wagtail_dynchat.marketo.limits import Limiter

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """A fake clock: sleeping moves time on at once."""

    def __init__(self, now=1_000_000.0):
        self.now = now
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def make(clock, **options):
    defaults = {"calls": 5, "window": 10, "max_concurrent": 2, "lease_seconds": 30}
    return Limiter(**{**defaults, **options}, key=uuid.uuid4().hex, sleep=clock.sleep, clock=clock)


def max_in_window(times, window):
    times = sorted(times)
    return max(
        (i - bisect_left(times, t - window, 0, i) + 1 for i, t in enumerate(times)), default=0
    )


def test_rate_budget_per_window():
    clock = Clock()
    limiter = make(clock)
    granted = []
    for _ in range(12):
        with limiter.call_slot(timeout=60):
            granted.append(clock())
    assert granted[:5] == [granted[0]] * 5  # the budget is available at once
    assert max_in_window(granted, 10) <= 5
    assert granted[5] - granted[0] >= 10  # the sixth call waited for the window to slide
    assert all(0 < pause <= limits.MAX_WAIT for pause in clock.slept)
    assert len(set(clock.slept)) > 1  # jittered


def test_rate_limited_after_timeout():
    clock = Clock()
    limiter = make(clock, calls=2)
    for _ in range(2):
        with limiter.call_slot():
            pass
    with pytest.raises(RateLimited), limiter.call_slot(timeout=3):
        pass
    assert clock.slept and sum(clock.slept) <= 3 + 1e-9
    # The rejected call gave its count back and released its concurrency slot.
    assert limiter.used() == 2
    assert limiter.slots_in_use() == 0


def test_concurrency_cap_and_release():
    clock = Clock()
    limiter = make(clock, calls=100)
    with limiter.call_slot(), limiter.call_slot():
        assert limiter.slots_in_use() == 2
        with pytest.raises(RateLimited) as caught, limiter.call_slot(timeout=1):
            pass
        assert "concurrency" in caught.value.message
    assert limiter.slots_in_use() == 0
    with limiter.call_slot():
        assert limiter.slots_in_use() == 1


def test_slot_released_when_the_body_raises():
    limiter = make(Clock())
    with pytest.raises(ZeroDivisionError), limiter.call_slot():
        1 / 0  # noqa: B018
    assert limiter.slots_in_use() == 0


def test_lease_of_a_killed_worker_expires():
    limiter = Limiter(calls=100, window=10, max_concurrent=1, lease_seconds=1, key="lease")
    held = limiter.try_slot()  # a worker took the slot and was killed: never released
    assert held is not None
    assert limiter.try_slot() is None
    started = time.monotonic()
    with limiter.call_slot(timeout=5):
        pass
    assert 0.5 < time.monotonic() - started < 4
    # The dead worker's late release does not free a slot someone else holds now.
    other = limiter.try_slot()
    limiter.release_slot(held)
    assert limiter.slots_in_use() == 1
    limiter.release_slot(other)


def test_threads_share_the_budget():
    limiter = Limiter(calls=8, window=0.5, max_concurrent=3, lease_seconds=10, key="threads")
    lock = threading.Lock()
    state = {"in": 0, "max": 0, "times": []}

    def work():
        for _ in range(6):
            with limiter.call_slot(timeout=20):
                with lock:
                    state["in"] += 1
                    state["max"] = max(state["max"], state["in"])
                    state["times"].append(time.time())
                time.sleep(0.005)
                with lock:
                    state["in"] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(state["times"]) == 36
    assert state["max"] <= 3
    assert max_in_window(state["times"], 0.5) <= 8


def test_from_settings(settings):
    settings.WAGTAIL_DYNCHAT = {
        "MARKETO": {"RATE_CALLS": 7, "RATE_WINDOW_SECONDS": 3, "MAX_CONCURRENT": 2, "TIMEOUT": 5}
    }
    limiter = Limiter.from_settings()
    assert (limiter.calls, limiter.window, limiter.max_concurrent) == (7, 3.0, 2)
    assert limiter.lease_seconds == 20
    assert limiter.cache is caches["default"]
    with limits.call_slot():
        assert limiter.slots_in_use() == 1
    assert limiter.used() == 1


WORKER = textwrap.dedent(
    """
    import sys, time
    import django
    django.setup()
    import redis
    from wagtail_dynchat.marketo.limits import Limiter

    key, calls = sys.argv[1], int(sys.argv[2])
    r = redis.Redis.from_url(__import__("os").environ["REDIS_URL"])
    limiter = Limiter(calls=10, window=1, max_concurrent=3, lease_seconds=10, key=key)
    for _ in range(calls):
        with limiter.call_slot(timeout=30):
            now = r.incr(key + ":inflight")
            r.rpush(key + ":inflight-samples", now)
            r.rpush(key + ":times", repr(time.time()))
            time.sleep(0.01)
            r.decr(key + ":inflight")
    """
)


def test_processes_share_the_budget_through_redis():
    """4 processes hammer one limiter (10 calls/s, 3 concurrent); Redis counts what they did."""
    url = os.environ.get("REDIS_URL")
    if not url:
        require_service("Redis", "set REDIS_URL=redis://127.0.0.1:6379/15")
    import redis

    try:
        connection = redis.Redis.from_url(url)
        connection.ping()
    except redis.RedisError as error:
        require_service("Redis", f"{url} is not reachable ({error})")
    key = f"dynchat-test-{uuid.uuid4().hex}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, key, "15"], cwd=ROOT, env=env)
        for _ in range(4)
    ]
    try:
        codes = [worker.wait(timeout=90) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    try:
        assert codes == [0, 0, 0, 0]
        times = [float(value) for value in connection.lrange(key + ":times", 0, -1)]
        samples = [int(value) for value in connection.lrange(key + ":inflight-samples", 0, -1)]
    finally:
        connection.delete(key + ":times", key + ":inflight-samples", key + ":inflight")
    assert len(times) == 60
    assert max_in_window(times, 1.0) <= 10
    assert max(samples) <= 3
    assert time.monotonic() - started >= 5  # 60 calls at 10 per second
