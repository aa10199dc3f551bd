"""Retention: purge what is kept no longer, in short batches.

- conversation events older than ``EVENT_RETENTION_DAYS`` (goal and meeting events are records
  and stay until ``RECORD_RETENTION_DAYS``);
- anonymous people (no e-mail, no Marketo lead) who never engaged and were last seen before
  ``EVENT_RETENTION_DAYS``, with their visitors, conversations and events;
- rollups older than ``ROLLUP_RETENTION_DAYS``;
- meetings older than ``RECORD_RETENTION_DAYS`` (by when they took place);
- conversations (transcripts) last active before ``RECORD_RETENTION_DAYS``: a transcript is a
  record sales may look back at, like a meeting, not event-level data;
- Marketo outbox items sent more than ``EVENT_RETENTION_DAYS`` ago (their payloads hold personal
  data that Marketo now has; waiting and dead items stay until sent or retried).

Events are deleted by primary-key ranges, ``PURGE_BATCH_SIZE`` ids per statement, each its own
transaction, so no statement holds locks for long and concurrent inserts go on. Ranges are bounded
through the ``created_at`` index, and where the previous run stopped is remembered
(:class:`RetentionMark`): goal events kept for two years are not re-read every night.
"""

import datetime

from django.db import connection, transaction
from django.db.models import Exists, Max, Min, OuterRef
from django.utils import timezone

from ..conf import dynchat_settings
from ..models import (
    Conversation,
    ConversationEvent,
    Meeting,
    OutboxItem,
    Person,
    RetentionMark,
    RollupDay,
    Visitor,
)
from .rollup import ROLLUP_MODELS, local_today

#: Event kinds that are records (kept ``RECORD_RETENTION_DAYS``), not event-level data.
RECORD_KINDS = (ConversationEvent.GOAL, "meeting")

# ids may be assigned slightly out of created_at order (transactions committing out of order);
# an hour is far beyond any transaction we run.
SKEW = datetime.timedelta(hours=1)

EVENTS_MARK = "events"


def purge_expired(*, now=None, batch_size=None):
    """Purge everything past its retention; returns the number of rows deleted by kind."""
    now = now or timezone.now()
    batch_size = batch_size or dynchat_settings.PURGE_BATCH_SIZE
    event_cutoff = now - datetime.timedelta(days=dynchat_settings.EVENT_RETENTION_DAYS)
    record_cutoff = now - datetime.timedelta(days=dynchat_settings.RECORD_RETENTION_DAYS)
    rollup_cutoff = local_today(now) - datetime.timedelta(
        days=dynchat_settings.ROLLUP_RETENTION_DAYS
    )
    return {
        "events": purge_events(event_cutoff, record_cutoff, batch_size=batch_size),
        "people": purge_anonymous_people(event_cutoff, batch_size=max(batch_size // 20, 1)),
        "rollups": purge_rollups(rollup_cutoff, batch_size=batch_size),
        "meetings": purge_meetings(record_cutoff, batch_size=batch_size),
        "conversations": purge_conversations(record_cutoff, batch_size=max(batch_size // 20, 1)),
        "outbox": purge_sent_outbox(event_cutoff, batch_size=batch_size),
    }


def _boundary_id(cutoff):
    """The highest event id that may be older than ``cutoff`` (None: no such event)."""
    newest = ConversationEvent.objects.filter(created_at__lt=cutoff).aggregate(
        at=Max("created_at")
    )["at"]
    if newest is None:
        return None
    return ConversationEvent.objects.filter(
        created_at__gte=newest - SKEW, created_at__lt=cutoff
    ).aggregate(id=Max("pk"))["id"]


def _first_id_from(cutoff):
    """The lowest id of an event at or after ``cutoff`` (None: none within SKEW of it)."""
    return ConversationEvent.objects.filter(
        created_at__gte=cutoff, created_at__lt=cutoff + SKEW
    ).aggregate(id=Min("pk"))["id"]


def _delete_range(table, low, high, where, params):
    """Delete the rows of ``table`` with ``low <= id < high`` matching ``where``; one short
    transaction."""
    quote = connection.ops.quote_name
    sql = f"DELETE FROM {quote(table)} WHERE {quote('id')} >= %s AND {quote('id')} < %s AND {where}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [low, high, *params])
        return cursor.rowcount


def _purge_id_range(low, high, where, params, batch_size):
    table = ConversationEvent._meta.db_table
    deleted = 0
    for start in range(low, high + 1, batch_size):
        deleted += _delete_range(table, start, min(start + batch_size, high + 1), where, params)
    return deleted


def purge_events(event_cutoff, record_cutoff, *, batch_size):
    """Delete events created before ``event_cutoff``, and record events (goals, meetings)
    before ``record_cutoff``. Returns how many were deleted."""
    quote = connection.ops.quote_name
    first = ConversationEvent.objects.aggregate(id=Min("pk"))["id"]
    if first is None:
        return 0
    deleted = 0
    # Records past their own retention: everything left below that boundary is a record.
    high = _boundary_id(record_cutoff)
    if high is not None:
        deleted += _purge_id_range(
            first, high, f"{quote('created_at')} < %s", [record_cutoff], batch_size
        )
    # Event-level data, from where the last run stopped.
    high = _boundary_id(event_cutoff)
    if high is None:
        return deleted
    mark, _created = RetentionMark.objects.get_or_create(name=EVENTS_MARK)
    low = max(first, mark.position)
    placeholders = ", ".join(["%s"] * len(RECORD_KINDS))
    where = f"{quote('created_at')} < %s AND {quote('kind')} NOT IN ({placeholders})"
    deleted += _purge_id_range(low, high, where, [event_cutoff, *RECORD_KINDS], batch_size)
    # Next time start at the first id that may still hold an event younger than this cutoff.
    following = _first_id_from(event_cutoff)
    mark.position = min(high + 1, following) if following is not None else high + 1
    mark.save(update_fields=["position", "updated_at"])
    return deleted


def purge_anonymous_people(cutoff, *, batch_size):
    """Delete anonymous people who never engaged and were not seen since ``cutoff``, with
    their visitors, conversations and events. Returns how many people were deleted."""
    bounds = Person.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return 0
    recent_visitor = Visitor.objects.filter(person=OuterRef("pk"), last_seen_at__gte=cutoff)
    engaged = Conversation.objects.filter(person=OuterRef("pk"), engaged_at__isnull=False)
    engaged_visitor = Conversation.objects.filter(
        visitor__person=OuterRef("pk"), engaged_at__isnull=False
    )
    meetings = Meeting.objects.filter(person=OuterRef("pk"))
    deleted = 0
    for start in range(bounds["low"], bounds["high"] + 1, batch_size):
        with transaction.atomic():
            ids = list(
                Person.objects.filter(
                    pk__gte=start,
                    pk__lt=start + batch_size,
                    email__isnull=True,
                    marketo_id__isnull=True,
                    created_at__lt=cutoff,
                )
                .exclude(Exists(recent_visitor))
                .exclude(Exists(engaged))
                .exclude(Exists(engaged_visitor))
                .exclude(Exists(meetings))
                .values_list("pk", flat=True)
            )
            if not ids:
                continue
            # Children first, set by set, so the cascade finds nothing left to load row by row.
            conversations = Conversation.objects.filter(person_id__in=ids) | (
                Conversation.objects.filter(visitor__person_id__in=ids)
            )
            conversation_ids = list(conversations.values_list("pk", flat=True))
            ConversationEvent.objects.filter(conversation_id__in=conversation_ids).delete()
            Conversation.objects.filter(pk__in=conversation_ids).delete()
            Visitor.objects.filter(person_id__in=ids).delete()
            deleted += Person.objects.filter(pk__in=ids).delete()[1].get(Person._meta.label, 0)
    return deleted


def _purge_queryset(queryset, batch_size):
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def purge_rollups(cutoff_day, *, batch_size):
    """Delete rollups of days before ``cutoff_day``. Returns how many rows were deleted."""
    deleted = 0
    for model in (*ROLLUP_MODELS, RollupDay):
        deleted += _purge_queryset(model.objects.filter(day__lt=cutoff_day), batch_size)
    return deleted


def purge_meetings(cutoff, *, batch_size):
    """Delete meetings that took place (and were booked) before ``cutoff``."""
    return _purge_queryset(
        Meeting.objects.filter(starts_at__lt=cutoff, created_at__lt=cutoff), batch_size
    )


def purge_sent_outbox(cutoff, *, batch_size):
    """Delete Marketo outbox items sent before ``cutoff``. Returns how many were deleted."""
    return _purge_queryset(
        OutboxItem.objects.filter(status=OutboxItem.STATUS_DONE, updated_at__lt=cutoff),
        batch_size,
    )


def purge_conversations(cutoff, *, batch_size):
    """Delete conversations started and last active before ``cutoff``, with what is left of
    their events. Returns how many conversations were deleted."""
    recent_event = ConversationEvent.objects.filter(
        conversation=OuterRef("pk"), created_at__gte=cutoff
    )
    old = Conversation.objects.filter(started_at__lt=cutoff, updated_at__lt=cutoff).exclude(
        Exists(recent_event)
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            # Events first, in one statement, so the cascade finds none to load.
            ConversationEvent.objects.filter(conversation_id__in=ids).delete()
            deleted += (
                Conversation.objects.filter(pk__in=ids).delete()[1].get(Conversation._meta.label, 0)
            )
