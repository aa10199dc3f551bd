"""Celery tasks of the Marketo lead sync.

- :func:`run_initial_sync` does one step of an initial sync (poll a job, or load one window)
  and enqueues itself again with the countdown the step asks for, so a worker never sleeps
  through Marketo's minute between polls. Run eagerly (no broker: the demo), it goes on
  in-process for as long as there is work that needs no waiting, and stops at the first wait
  (``dynchat_marketo_sync --initial`` or the admin's "start" continues it).
- :func:`sync_changed_leads`, for Celery beat: the incremental sync; it also re-enqueues an
  initial sync whose chain of tasks was lost (a purged queue, a countdown task dropped).
"""

from __future__ import annotations

import datetime
import logging

from celery import shared_task
from django.utils import timezone

from ..models import SyncRun
from . import bulk, sync
from .errors import MarketoError

__all__ = ["run_initial_sync", "sync_changed_leads"]

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_initial_sync(self, run_id):
    """One step of initial sync ``run_id``; re-enqueued with the step's countdown."""
    try:
        delay = sync.step(run_id)
        while delay == 0 and self.request.is_eager:
            delay = sync.step(run_id)
    except sync.NotConfigured as error:
        logger.error("Marketo initial sync %s: %s", run_id, error)
        return None
    if delay is None or self.request.is_eager:
        return delay
    run_initial_sync.apply_async((run_id,), countdown=max(0, round(delay)))
    return delay


def _stalled(run, now):
    """An initial run whose chain of tasks seems lost: no step for a long while."""
    quiet = max(2 * bulk.poll_seconds(), sync.LOCK_SECONDS) + 60
    wait = sync._when(run.state.get("wait_until"))
    if wait is not None and wait > now:
        return False
    return (now - run.updated_at) > datetime.timedelta(seconds=quiet) and not sync.is_busy(run.pk)


@shared_task(acks_late=True, ignore_result=True)
def sync_changed_leads():
    """Incremental sync of the leads changed since the last finished sync (Celery beat)."""
    try:
        sync.make_client()
    except sync.NotConfigured:
        return None
    initial = SyncRun.objects.filter(
        kind=SyncRun.KIND_INITIAL, status=SyncRun.STATUS_RUNNING
    ).first()
    if initial is not None:
        if _stalled(initial, timezone.now()):
            logger.warning("Marketo initial sync %s looked stalled: continued", initial.pk)
            run_initial_sync.delay(initial.pk)
        return None
    try:
        run = sync.sync_changes()
    except MarketoError as error:
        logger.warning("Marketo incremental sync: %s (continued at the next run)", error)
        return None
    return run.pk if run is not None else None
