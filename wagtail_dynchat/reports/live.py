"""Today's rollup rows, computed from today's raw events and kept in the cache for a short while.

Reports read whole past days from the stored rollups, but today has none yet: its rows are
computed from its events (:func:`.rollup.compute_day`), one rollup table at a time so that a
metric pays only for the table it reads. On a busy site that is a GROUP BY over a hundred
thousand events, too slow to repeat on every page view, so the rows of each table are cached for
``REPORT_LIVE_CACHE_SECONDS`` (shared by every report, whatever its filters, since the rows hold
every dimension): today's figures may lag that long behind the events.

The first view after the entries expire pays for the computation (about a second for a day of
100,000 events, see docs/performance.md). :func:`refresh`, run every
``REPORT_LIVE_CACHE_SECONDS`` by beat (``tasks.refresh_live_reports``), computes them ahead of
the views, so that none does with a cache shared between processes (Redis).
"""

from django.core.cache import caches

from ..conf import dynchat_settings
from ..models import DailyMeetingStats, DailyStats
from .rollup import ROLLUP_MODELS, compute_day, local_today

# Tables computed by the same queries: asking for one caches the other for free.
_TOGETHER = {DailyStats: (DailyStats, DailyMeetingStats)}

# Bump when the cached rows change shape, so that old entries are not read by new code.
_VERSION = 1


def _cache_key(day, model):
    return f"dynchat:report-live:{_VERSION}:{day.isoformat()}:{model._meta.label_lower}"


def _as_dicts(model, instances):
    # Plain dicts pickle smaller than model instances and are all reports need.
    names = [field.attname for field in model._meta.concrete_fields if not field.primary_key]
    return [{name: getattr(row, name) for name in names} for row in instances]


def live_rows(day, model, *, now=None):
    """The rollup rows of ``model`` for ``day`` (dicts of field values), computed from the day's
    events. A fixed ``now`` (tests, reproducible exports) always computes them afresh; otherwise
    they are read from and kept in the cache for ``REPORT_LIVE_CACHE_SECONDS`` (0: never)."""
    timeout = dynchat_settings.REPORT_LIVE_CACHE_SECONDS
    cache = caches[dynchat_settings.CACHE_ALIAS] if now is None and timeout else None
    if cache is not None:
        rows = cache.get(_cache_key(day, model))
        if rows is not None:
            return rows
    models = _TOGETHER.get(model, (model,))
    computed, _events = compute_day(day, now=now, models=models)
    rows = {each: _as_dicts(each, computed[each]) for each in models}
    if cache is not None:
        cache.set_many({_cache_key(day, each): rows[each] for each in models}, timeout)
    return rows[model]


def refresh(day=None):
    """Compute the rows of every rollup table for ``day`` (today by default) and put them in the
    cache, for twice ``REPORT_LIVE_CACHE_SECONDS`` so that they are still there when the next
    refresh is a little late. Returns how many rows were cached."""
    timeout = dynchat_settings.REPORT_LIVE_CACHE_SECONDS
    if not timeout:
        return 0
    day = day or local_today()
    computed, _events = compute_day(day)
    entries = {_cache_key(day, model): _as_dicts(model, computed[model]) for model in ROLLUP_MODELS}
    caches[dynchat_settings.CACHE_ALIAS].set_many(entries, 2 * timeout)
    return sum(len(rows) for rows in entries.values())
