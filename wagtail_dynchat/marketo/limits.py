"""One Marketo rate budget and concurrency cap shared by every process, through Django's cache.

With the Redis cache (production) every web and Celery worker process draws from the same
budget, so together they stay within ``RATE_CALLS`` per ``RATE_WINDOW_SECONDS`` and
``MAX_CONCURRENT`` calls in flight (by default half of Marketo's instance limits of 100 calls
per 20 s and 10 concurrent calls, as Marketo advises).

Rate: a sliding window made of :data:`BUCKETS` counters per window (``cache.add`` +
``cache.incr``, atomic in Redis and in the local-memory cache). A caller increments the current
bucket and then sums the buckets of the last window plus :data:`EXTRA_BUCKETS` (a window anchored
at the call reaches into a partly elapsed oldest bucket, and Marketo sees the call a little later
than we count it); over budget, it takes its increment back and waits. Any interval of
``RATE_WINDOW_SECONDS`` therefore holds at most ``RATE_CALLS`` calls, even with a few tens of
milliseconds of jitter, at the price of a budget spread over ``window * (1 + 3 / BUCKETS)``.

Concurrency: ``MAX_CONCURRENT`` slot keys, each taken with ``cache.add`` (SET NX) holding a
random lease token and an expiry, so a killed worker frees its slot when the lease runs out. A
slot is released by deleting its key if it still holds our token.

:func:`call_slot` waits for a concurrency slot first and then for a rate token (so a call never
uses a token counted in an earlier window), sleeping small jittered amounts in between; it gives
up with :class:`~wagtail_dynchat.marketo.errors.RateLimited` after ``timeout`` seconds.

Daily count: every call that gets its slot is also counted against the day in the cache (Marketo's
day, which starts at 00:00 US Central, when its ``DAILY_QUOTA`` resets), for :func:`usage`: the
admin compares it with the quota. The count is ours, an upper bound of Marketo's (Marketo does not
count some refused calls), and it does not stop calls: Marketo answers 607 past its quota.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import random
import time
import uuid
import zoneinfo
from dataclasses import dataclass

from django.core.cache import caches

from ..conf import dynchat_settings
from .errors import RateLimited

#: Counters per rate window: more is a finer sliding window and a little more budget.
BUCKETS = 50
#: Buckets counted beyond a window: a safety margin of 2 to 3 buckets (4 to 6 % of the window) for
#: the time between our count and Marketo's (network and scheduling jitter).
EXTRA_BUCKETS = 3
#: Longest single wait between two tries, in seconds.
MAX_WAIT = 0.25
#: Marketo's daily quota resets at midnight US Central.
QUOTA_TIMEZONE = zoneinfo.ZoneInfo("America/Chicago")
#: The admin warns from this share of the daily quota on.
QUOTA_WARNING_SHARE = 0.8


class Limiter:
    def __init__(
        self,
        *,
        calls,
        window,
        max_concurrent,
        lease_seconds,
        cache=None,
        key="default",
        sleep=time.sleep,
        clock=time.time,
    ):
        if calls < 1 or window <= 0 or max_concurrent < 1:
            raise ValueError("the Marketo rate budget needs calls >= 1, window > 0, slots >= 1")
        self.calls = int(calls)
        self.window = float(window)
        self.max_concurrent = int(max_concurrent)
        self.lease_seconds = max(1, int(lease_seconds))
        self.cache = cache if cache is not None else caches[dynchat_settings.CACHE_ALIAS]
        self.prefix = f"dynchat:marketo:limits:{key}"
        self.bucket_seconds = self.window / BUCKETS
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def from_settings(cls, **overrides):
        config = dynchat_settings.MARKETO
        instance = config.get("MUNCHKIN_ID") or config.get("BASE_URL") or "default"
        options = {
            "calls": config["RATE_CALLS"],
            "window": config["RATE_WINDOW_SECONDS"],
            "max_concurrent": config["MAX_CONCURRENT"],
            # A call may take up to TIMEOUT per socket read; a lease outlives any live call.
            "lease_seconds": 2 * float(config["TIMEOUT"]) + 10,
            "key": hashlib.sha256(str(instance).encode()).hexdigest()[:16],
        }
        options.update(overrides)
        return cls(**options)

    # -- rate ------------------------------------------------------------------------------

    def _bucket(self, now):
        return int(now // self.bucket_seconds)

    def _bucket_key(self, bucket):
        return f"{self.prefix}:rate:{bucket}"

    def _window_keys(self, bucket):
        # The current bucket, a window of buckets before it and a small safety margin.
        return [self._bucket_key(b) for b in range(bucket - BUCKETS - EXTRA_BUCKETS, bucket + 1)]

    def _used(self, bucket):
        return sum(int(value) for value in self.cache.get_many(self._window_keys(bucket)).values())

    def try_rate(self):
        """Take one call from the rate budget if it allows one now; True when taken."""
        bucket = self._bucket(self.clock())
        if self._used(bucket) >= self.calls:
            return False
        key = self._bucket_key(bucket)
        ttl = int(self.window * 2) + 5
        self.cache.add(key, 0, ttl)
        try:
            self.cache.incr(key)
        except ValueError:  # expired or evicted between add and incr
            self.cache.add(key, 0, ttl)
            self.cache.incr(key)
        # Over budget (another process took the last call), or time moved on to the next
        # bucket while we counted in this one: give the call back and try again later.
        if self._used(bucket) > self.calls or self._bucket(self.clock()) != bucket:
            self._give_back(key)
            return False
        return True

    def _give_back(self, key):
        with contextlib.suppress(ValueError):
            self.cache.decr(key)

    def used(self):
        """Calls counted in the current (extended) window, for monitoring."""
        return self._used(self._bucket(self.clock()))

    # -- concurrency -----------------------------------------------------------------------

    def _slot_key(self, index):
        return f"{self.prefix}:slot:{index}"

    def try_slot(self):
        """Take a free concurrency slot; returns its ``(key, lease token)`` or None."""
        token = uuid.uuid4().hex
        indexes = list(range(self.max_concurrent))
        random.shuffle(indexes)
        for index in indexes:
            key = self._slot_key(index)
            if self.cache.add(key, token, self.lease_seconds):
                return key, token
        return None

    def release_slot(self, slot):
        key, token = slot
        if self.cache.get(key) == token:
            self.cache.delete(key)

    def slots_in_use(self):
        keys = [self._slot_key(index) for index in range(self.max_concurrent)]
        return len(self.cache.get_many(keys))

    # -- daily count -----------------------------------------------------------------------

    def _day_key(self, now):
        day = datetime.datetime.fromtimestamp(now, QUOTA_TIMEZONE).date()
        return f"{self.prefix}:day:{day.isoformat()}"

    def count_call(self):
        """Count one call against today's quota (Marketo's day, from 00:00 US Central)."""
        key = self._day_key(self.clock())
        try:
            # The key exists but for the day's first call: no add, one round trip less.
            self.cache.incr(key)
        except ValueError:
            # Concurrent first calls: one add wins, each incr counts once.
            self.cache.add(key, 0, 2 * 24 * 3600)  # outlives a 25-hour day, then expires
            self.cache.incr(key)

    def calls_today(self):
        """Calls counted since the last 00:00 US Central."""
        return int(self.cache.get(self._day_key(self.clock())) or 0)

    def quota_resets_at(self):
        """The next 00:00 US Central, when Marketo's daily quota (and our count) starts again."""
        local = datetime.datetime.fromtimestamp(self.clock(), QUOTA_TIMEZONE)
        midnight = datetime.datetime.combine(
            local.date() + datetime.timedelta(days=1), datetime.time(0), tzinfo=QUOTA_TIMEZONE
        )
        return midnight.astimezone(datetime.UTC)

    # -- both ------------------------------------------------------------------------------

    def _wait(self, deadline):
        remaining = deadline - self.clock()
        if remaining <= 0:
            return False
        pause = min(self.bucket_seconds, MAX_WAIT) * random.uniform(0.3, 1.0)
        self.sleep(min(pause, remaining))
        return True

    @contextlib.contextmanager
    def call_slot(self, timeout=None):
        """Block until the budget allows one call (and a concurrency slot is free); the slot is
        held for the ``with`` body. Raises RateLimited after ``timeout`` seconds."""
        if timeout is None:
            timeout = 3 * self.window + 10
        deadline = self.clock() + timeout
        slot = self.try_slot()
        while slot is None:
            if not self._wait(deadline):
                raise RateLimited("rate", f"no Marketo concurrency slot free within {timeout:g} s")
            slot = self.try_slot()
        try:
            while not self.try_rate():
                if not self._wait(deadline):
                    raise RateLimited("rate", f"Marketo rate budget exhausted for {timeout:g} s")
            self.count_call()
            yield
        finally:
            self.release_slot(slot)


def call_slot(timeout=None):
    """:meth:`Limiter.call_slot` of the budget configured in ``WAGTAIL_DYNCHAT["MARKETO"]``."""
    return Limiter.from_settings().call_slot(timeout=timeout)


@dataclass(frozen=True)
class Usage:
    """The shared budget as it stands: the current rate window, calls in flight, today's calls."""

    rate_used: int
    rate_calls: int
    rate_window_seconds: float
    in_flight: int
    max_concurrent: int
    today: int
    daily_quota: int
    quota_resets_at: datetime.datetime

    @property
    def rate_percent(self):
        return 100 * self.rate_used / self.rate_calls

    @property
    def concurrency_percent(self):
        return 100 * self.in_flight / self.max_concurrent

    @property
    def daily_percent(self):
        return 100 * self.today / self.daily_quota if self.daily_quota else 0

    @property
    def near_daily_quota(self):
        """True from :data:`QUOTA_WARNING_SHARE` of the daily quota on."""
        return bool(self.daily_quota) and self.today >= QUOTA_WARNING_SHARE * self.daily_quota


def usage(limiter=None):
    """Read-only figures of the budget configured in ``WAGTAIL_DYNCHAT["MARKETO"]`` (or of
    ``limiter``) for the admin: nothing is taken from the budget."""
    limiter = limiter or Limiter.from_settings()
    return Usage(
        rate_used=limiter.used(),
        rate_calls=limiter.calls,
        rate_window_seconds=limiter.window,
        in_flight=limiter.slots_in_use(),
        max_concurrent=limiter.max_concurrent,
        today=limiter.calls_today(),
        daily_quota=int(dynchat_settings.MARKETO.get("DAILY_QUOTA") or 0),
        quota_resets_at=limiter.quota_resets_at(),
    )
