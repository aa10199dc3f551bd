"""The app's Celery tasks, where ``app.autodiscover_tasks()`` looks for them."""

from .marketo.tasks import drain_outbox
from .meetings.tasks import (
    cancel_calendar_event,
    create_calendar_event,
    resend_pending_meetings,
    update_calendar_event,
)

__all__ = [
    "cancel_calendar_event",
    "create_calendar_event",
    "drain_outbox",
    "resend_pending_meetings",
    "update_calendar_event",
]
