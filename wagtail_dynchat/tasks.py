"""The app's Celery tasks, where ``app.autodiscover_tasks()`` looks for them."""

from .meetings.tasks import (
    cancel_calendar_event,
    create_calendar_event,
    resend_pending_meetings,
    update_calendar_event,
)

__all__ = [
    "cancel_calendar_event",
    "create_calendar_event",
    "resend_pending_meetings",
    "update_calendar_event",
]
