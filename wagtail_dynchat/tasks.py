"""The app's Celery tasks, where ``app.autodiscover_tasks()`` looks for them."""

from .marketo.activities import queue_dropped_conversations
from .marketo.identity import lookup_munchkin_cookie
from .marketo.sync_tasks import run_initial_sync, sync_changed_leads
from .marketo.tasks import drain_outbox
from .meetings.tasks import (
    cancel_calendar_event,
    create_calendar_event,
    resend_pending_meetings,
    update_calendar_event,
)
from .reports.tasks import purge_expired, rollup_day

__all__ = [
    "cancel_calendar_event",
    "create_calendar_event",
    "drain_outbox",
    "lookup_munchkin_cookie",
    "purge_expired",
    "queue_dropped_conversations",
    "resend_pending_meetings",
    "rollup_day",
    "run_initial_sync",
    "sync_changed_leads",
    "update_calendar_event",
]
