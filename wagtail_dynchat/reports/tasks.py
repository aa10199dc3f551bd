"""Celery tasks of reports: the nightly rollup and the retention purge (run them from beat)."""

import datetime
import logging

from celery import shared_task

from .retention import purge_expired as purge
from .rollup import local_today
from .rollup import rollup_day as rollup

__all__ = ["purge_expired", "rollup_day"]

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
