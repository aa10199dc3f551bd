"""Daily rollups: one local day of conversation events (and meetings) aggregated into the
``Daily*Stats`` tables, which reports read.

Counting rules (the product's, see docs): triggered, engaged and completed are counted at most once
per visitor per session when the events are written (``conversations._record``), so here they are
plain counts. People acquired are distinct visitor sessions that gave an e-mail nobody had before
(capture events flagged ``"new"``). Meetings booked come from the meetings themselves (counted on
the day they were booked, unless the booking failed). Goals and documents opened may repeat.

The funnel: a conversation *reached* a card when it has an event on it (answered, goal, document,
condition) or is waiting at it; it *dropped* at the card it is waiting at when it has not
completed, its last event falls on the day, nothing happened in it since and it has been idle for
longer than ``SESSION_IDLE_SECONDS``. Run the rollup of a day once that long after midnight; a
conversation the visitor takes up again later stops counting as dropped when its day is re-run.

The heavy work is done by the database (``GROUP BY`` over the day's events through the
``created_at`` index); only the groups come back to Python. Rolling a day up deletes its rows and
inserts new ones in one transaction, so it is idempotent and can be re-run for any day.
"""

import datetime
import time
import zoneinfo
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from ..conf import dynchat_settings
from ..models import (
    Conversation,
    ConversationEvent,
    DailyCardStats,
    DailyChoiceStats,
    DailyGoalStats,
    DailyMeetingStats,
    DailyStats,
    Meeting,
    RollupDay,
)

#: Every rollup table, in the order they are written.
ROLLUP_MODELS = (DailyStats, DailyCardStats, DailyChoiceStats, DailyGoalStats, DailyMeetingStats)

#: The dimensions every rollup row has, besides ``day``.
DIMENSIONS = ("dialogue_id", "translation_key", "site_id", "locale_id", "known")

# Events that show a conversation reached a card (besides waiting at it).
REACHED_KINDS = (
    ConversationEvent.ANSWERED,
    ConversationEvent.GOAL,
    ConversationEvent.DOCUMENT,
    ConversationEvent.CONDITION,
    "meeting_unavailable",
)

COUNTERS = (
    "triggered",
    "engaged",
    "completed",
    "people_acquired",
    "meetings_booked",
    "goals_reached",
    "documents_opened",
)


def report_timezone():
    """The time zone whose midnight separates report days."""
    return zoneinfo.ZoneInfo(dynchat_settings.TIME_ZONE or settings.TIME_ZONE)


def local_today(now=None):
    """Today in the report time zone."""
    return timezone.localtime(now or timezone.now(), report_timezone()).date()


def day_bounds(day):
    """The aware datetimes ``[start, end)`` of a local day."""
    zone = report_timezone()
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time.min, tzinfo=zone
    )
    return start, end


def _known(person_path):
    return Case(
        When(**{f"{person_path}__email__isnull": False}, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


# How each dimension is read from an event, a conversation and a meeting.
_EVENT_DIMENSIONS = {
    "dialogue_id": F("dialogue_id"),
    "translation_key": F("dialogue__translation_key"),
    "site_id": F("conversation__site_id"),
    "locale_id": F("dialogue__locale_id"),
    "known": _known("conversation__person"),
}
_CONVERSATION_DIMENSIONS = {
    "dialogue_id": F("dialogue_id"),
    "translation_key": F("dialogue__translation_key"),
    "site_id": F("site_id"),
    "locale_id": F("dialogue__locale_id"),
    "known": _known("person"),
}
_MEETING_DIMENSIONS = {
    "dialogue_id": F("dialogue_id"),
    "translation_key": F("dialogue__translation_key"),
    "site_id": F("conversation__site_id"),
    "locale_id": F("dialogue__locale_id"),
    "known": _known("person"),
}


def _aliased(dimensions, **extra):
    """``values()`` keywords: aliases may not shadow model fields, hence the ``d_`` prefix."""
    return {f"d_{name}": expression for name, expression in {**dimensions, **extra}.items()}


def _unalias(row):
    return {name[2:]: value for name, value in row.items() if name.startswith("d_")}


def _key(row, names):
    return tuple(row[name] for name in names)


def compute_day(day, *, now=None, models=ROLLUP_MODELS):
    """The rollup rows of ``day`` (unsaved instances by model) and how many events were read.

    Nothing is written: :func:`rollup_day` stores the result, and reports call this for today.
    ``models`` limits the work to those rollup tables (a report computes only the ones its
    metrics read); the others come back empty. The events read are counted by the headline
    counters' query, so they are 0 when ``DailyStats`` is not among ``models``.
    """
    now = now or timezone.now()
    start, end = day_bounds(day)
    events = ConversationEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    rows = {model: [] for model in ROLLUP_MODELS}
    events_read = 0
    if DailyStats in models or DailyMeetingStats in models:
        meetings = _meeting_rows(day, start, end)
        if DailyMeetingStats in models:
            rows[DailyMeetingStats] = meetings
        if DailyStats in models:
            rows[DailyStats], events_read = _headline_rows(day, events, meetings)
    if DailyCardStats in models:
        rows[DailyCardStats] = _card_rows(day, events, end, now)
    if DailyChoiceStats in models:
        rows[DailyChoiceStats] = _choice_rows(day, events)
    if DailyGoalStats in models:
        rows[DailyGoalStats] = _goal_rows(day, events)
    return rows, events_read


def _meeting_rows(day, start, end):
    """Meetings booked that day, per agent."""
    meetings = (
        Meeting.objects.filter(created_at__gte=start, created_at__lt=end)
        .exclude(status=Meeting.FAILED)
        .values(
            **_aliased(
                _MEETING_DIMENSIONS,
                page_id=F("conversation__page_id"),
                agent_id=F("agent_id"),
            )
        )
        .annotate(n_booked=Count("pk"), n_cancelled=Count("pk", filter=Q(status=Meeting.CANCELLED)))
    )
    return [
        DailyMeetingStats(
            day=day, booked=row["n_booked"], cancelled=row["n_cancelled"], **_unalias(row)
        )
        for row in meetings
    ]


def _headline_rows(day, events, meetings):
    """The headline counters per page (meetings booked from ``meetings``, the day's
    :class:`DailyMeetingStats`), and how many events were read."""
    main_names = (*DIMENSIONS, "page_id")
    main = {}
    acquired = Q(kind=ConversationEvent.CAPTURED, data__field="email", data__new=True) & ~Q(
        session=""
    )
    grouped = events.values(**_aliased(_EVENT_DIMENSIONS, page_id=F("page_id"))).annotate(
        n_triggered=Count("pk", filter=Q(kind=ConversationEvent.TRIGGERED)),
        n_engaged=Count("pk", filter=Q(kind=ConversationEvent.ENGAGED)),
        n_completed=Count("pk", filter=Q(kind=ConversationEvent.COMPLETED)),
        n_goals_reached=Count("pk", filter=Q(kind=ConversationEvent.GOAL)),
        n_documents_opened=Count("pk", filter=Q(kind=ConversationEvent.DOCUMENT_OPENED)),
        # One acquisition per visitor per session.
        n_people_acquired=Count(
            Concat(
                Cast("conversation__visitor_id", CharField()),
                Value(":"),
                "session",
                output_field=CharField(),
            ),
            filter=acquired,
            distinct=True,
        ),
        n_events=Count("pk"),
    )
    events_read = 0
    for row in grouped:
        dims = _unalias(row)
        events_read += row["n_events"]
        counters = {name: row.get(f"n_{name}", 0) for name in COUNTERS if name != "meetings_booked"}
        main[_key(dims, main_names)] = DailyStats(day=day, meetings_booked=0, **dims, **counters)
    for meeting in meetings:
        key = tuple(getattr(meeting, name) for name in main_names)
        stats = main.get(key)
        if stats is None:
            stats = main[key] = DailyStats(day=day, **dict(zip(main_names, key, strict=True)))
        stats.meetings_booked += meeting.booked
    return list(main.values()), events_read


def _card_rows(day, events, end, now):
    """The funnel: per card, conversations that reached it (an event on it, or waiting at it
    with nothing later), answered it, and dropped at it."""
    card_names = (*DIMENSIONS, "card")
    cards = {}
    on_cards = (
        events.filter(kind__in=REACHED_KINDS)
        .exclude(card="")
        .values(**_aliased(_EVENT_DIMENSIONS, card=F("card")))
        .annotate(
            n_reached=Count("conversation_id", distinct=True),
            n_answered=Count(
                "conversation_id", distinct=True, filter=Q(kind=ConversationEvent.ANSWERED)
            ),
        )
    )
    for row in on_cards:
        dims = _unalias(row)
        cards[_key(dims, card_names)] = DailyCardStats(
            day=day, reached=row["n_reached"], answered=row["n_answered"], dropped=0, **dims
        )

    # Conversations waiting at a card whose last event falls on the day: nothing since the end
    # of the day (else they wait at a card of a later day). They dropped there unless something
    # happened since they would have gone idle: those few are found from the events of the last
    # SESSION_IDLE_SECONDS and taken off. (The latest event of every conversation, a MAX over a
    # join, made the database read every event of every conversation; a NOT EXISTS per row in
    # the counts made PostgreSQL's estimate cross its JIT thresholds, costing a second.)
    idle_since = now - datetime.timedelta(seconds=dynchat_settings.SESSION_IDLE_SECONDS)
    later = ConversationEvent.objects.filter(conversation_id=OuterRef("pk"), created_at__gte=end)
    waiting = Conversation.objects.filter(
        pk__in=events.values("conversation_id"),
        status=Conversation.STATUS_ACTIVE,
        awaiting__isnull=False,
    ).exclude(Exists(later))
    dimensions = _aliased(_CONVERSATION_DIMENSIONS, card=KeyTextTransform("card", "awaiting"))
    for row in waiting.values(**dimensions).annotate(n=Count("pk")):
        dims = _unalias(row)
        if not dims["card"]:
            continue
        stats = cards.get(_key(dims, card_names))
        if stats is None:
            stats = cards[_key(dims, card_names)] = DailyCardStats(
                day=day, reached=0, answered=0, dropped=0, **dims
            )
        stats.reached += row["n"]
        stats.dropped += row["n"]
    if idle_since < end:
        recent = ConversationEvent.objects.filter(created_at__gte=idle_since, created_at__lt=end)
        still_going = waiting.filter(pk__in=recent.values("conversation_id"))
        for row in still_going.values(**dimensions).annotate(n=Count("pk")):
            # Rows of the first query, unless the conversation changed in between.
            stats = cards.get(_key(_unalias(row), card_names))
            if stats is not None:
                stats.dropped = max(0, stats.dropped - row["n"])
    return list(cards.values())


def _choice_rows(day, events):
    """Choices of question cards (answers with a label; free-text answers have none)."""
    choices = (
        events.filter(kind=ConversationEvent.ANSWERED, data__has_key="label")
        .values(
            **_aliased(
                _EVENT_DIMENSIONS,
                card=F("card"),
                value=Coalesce(
                    KeyTextTransform("value", "data"), Value(""), output_field=TextField()
                ),
                label=Coalesce(
                    KeyTextTransform("label", "data"), Value(""), output_field=TextField()
                ),
            )
        )
        .annotate(n=Count("pk"))
    )
    merged = defaultdict(int)
    for row in choices:
        dims = _unalias(row)
        # Values and labels longer than the columns are cut; cut ones may then coincide.
        dims["value"], dims["label"] = dims["value"][:255], dims["label"][:255]
        merged[tuple(sorted(dims.items(), key=lambda item: item[0]))] += row["n"]
    return [DailyChoiceStats(day=day, count=count, **dict(dims)) for dims, count in merged.items()]


def _goal_rows(day, events):
    """Goals reached, by name."""
    goals = (
        events.filter(kind=ConversationEvent.GOAL)
        .values(
            **_aliased(
                _EVENT_DIMENSIONS,
                page_id=F("page_id"),
                card=F("card"),
                goal=Coalesce(
                    KeyTextTransform("name", "data"), Value(""), output_field=TextField()
                ),
            )
        )
        .annotate(n=Count("pk"))
    )
    merged = defaultdict(int)
    for row in goals:
        dims = _unalias(row)
        dims["goal"] = dims["goal"][:255]
        merged[tuple(sorted(dims.items(), key=lambda item: item[0]))] += row["n"]
    return [DailyGoalStats(day=day, count=count, **dict(dims)) for dims, count in merged.items()]


def rollup_day(day, *, now=None):
    """Compute and store the rollups of ``day`` (a date), replacing any stored before.

    Returns ``{"day", "events", "rows", "seconds"}``. Safe to run again for the same day, and for
    any past day whose events are still kept (a day whose events were purged would roll up
    empty, so days older than ``EVENT_RETENTION_DAYS`` are refused).
    """
    now = now or timezone.now()
    oldest = local_today(now) - datetime.timedelta(days=dynchat_settings.EVENT_RETENTION_DAYS)
    if day < oldest:
        raise ValueError(
            f"{day} is older than the event retention ({dynchat_settings.EVENT_RETENTION_DAYS} "
            "days): its events are purged and its rollups would be lost."
        )
    started = time.monotonic()
    rows, events_read = compute_day(day, now=now)
    with transaction.atomic():
        for model in ROLLUP_MODELS:
            model.objects.filter(day=day).delete()
            model.objects.bulk_create(rows[model], batch_size=2000)
        elapsed = time.monotonic() - started
        RollupDay.objects.update_or_create(
            day=day,
            defaults={
                "computed_at": now,
                "events": events_read,
                "duration_ms": int(elapsed * 1000),
            },
        )
    return {
        "day": day,
        "events": events_read,
        "rows": sum(len(model_rows) for model_rows in rows.values()),
        "seconds": round(time.monotonic() - started, 3),
    }
