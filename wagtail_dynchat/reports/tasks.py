"""Celery tasks of reports: the nightly rollup, the retention purge and the refresh of today's
figures (run them from beat)."""

import datetime
import logging

from celery import shared_task

from .live import refresh
from .retention import purge_expired as purge
from .rollup import local_today
from .rollup import rollup_day as rollup

__all__ = ["purge_expired", "refresh_live_reports", "rollup_day"]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def rollup_day(day_iso=None):
    """Roll up one local day (``YYYY-MM-DD``), yesterday by default. Idempotent: a redelivered
    or repeated task rewrites the same rows."""
    if day_iso:
        day = datetime.date.fromisoformat(day_iso)
    else:
        day = local_today() - datetime.timedelta(days=1)
    result = rollup(day)
    logger.info(
        "dynchat rollup of %s: %s events, %s rows, %ss",
        day,
        result["events"],
        result["rows"],
        result["seconds"],
    )
    return {**result, "day": day.isoformat()}


@shared_task(acks_late=True)
def purge_expired():
    """Purge events, anonymous people, rollups and records past their retention. Safe to run
    again: every batch commits on its own and the next run goes on from there."""
    counts = purge()
    logger.info("dynchat purge: %s", counts)
    return counts


@shared_task(ignore_result=True)
def refresh_live_reports():
    """Compute today's report figures into the cache ahead of the views; run it every
    ``REPORT_LIVE_CACHE_SECONDS`` (expiring queued runs after that long: only the latest
    matters)."""
    rows = refresh()
    logger.debug("dynchat live report rows cached: %s", rows)
    return rows
