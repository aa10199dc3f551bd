"""Booking services: offer slots, reserve one, and change a meeting afterwards.

A booking is reserved in the database first and created in the agent's calendar by a Celery task
enqueued once the transaction commits (:mod:`.tasks`). Reserving locks the queue's row, so round
robin stays strict however many visitors book at once, and re-checks the agent's freedom; the
unique constraint on (agent, start) among holding meetings is the last guard.

Changes made by admins (cancel, reschedule, reassign) persist first and sync the calendar the
same way.
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..marketo import activities as marketo_activities
from ..models import Agent, Meeting, MeetingQueue, QueueMember
from ..models.people import new_token
from . import routing, slots

__all__ = [
    "BookingError",
    "NoAgentAvailable",
    "SlotTaken",
    "book",
    "cancel",
    "offer",
    "reassign",
    "reschedule",
    "set_status",
]

UTC = datetime.UTC


class BookingError(Exception):
    """A booking or change that cannot be made; ``decision`` is the routing behind it, if any."""

    def __init__(self, message="", decision=None):
        super().__init__(message)
        self.decision = decision


class SlotTaken(BookingError):
    """Nobody who could take the meeting is free at that time (any more)."""


class NoAgentAvailable(BookingError):
    """Routing found nobody to take meetings: the card's fallback applies."""


def _iso(moment):
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zone(name):
    try:
        return zoneinfo.ZoneInfo(name), name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return UTC, "UTC"


def _enqueue(task, *args):
    # Robust: the reservation is committed whatever the broker says; a failure is logged.
    transaction.on_commit(functools.partial(task.delay, *args), robust=True)


def _tasks():
    from . import tasks

    return tasks


# -- offering -------------------------------------------------------------------------------------


def offer(*, queue_id, email, person, facts, visitor_tz, now=None):
    """The free times of the agents routing would consider, days then times in the visitor's zone.

    ``{"tz": zone, "days": [{"date": "YYYY-MM-DD", "times": ["…Z", …]}, …], "agents": n}``: times
    are UTC ISO 8601 instants, grouped by the visitor's local date. An unknown zone is read as UTC
    (and said so in ``tz``). Free/busy costs at most one request per provider, none when cached.
    """
    zone, name = _zone(visitor_tz)
    decision = routing.route(email=email, person=person, facts=facts, queue_id=queue_id, now=now)
    starts = set()
    for agent in decision.candidates:
        starts.update(decision.slots.get(agent.pk, ()))
    days = slots.group_by_day(starts, zone)
    return {
        "tz": name,
        "days": [
            {"date": day.isoformat(), "times": [_iso(moment) for moment in moments]}
            for day, moments in days.items()
        ],
        "agents": len(decision.candidates),
    }


# -- booking --------------------------------------------------------------------------------------


def _aware(start):
    if not isinstance(start, datetime.datetime) or start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    return start.astimezone(UTC)


def book(
    *,
    start,
    email,
    person,
    facts,
    queue_id,
    conversation=None,
    dialogue=None,
    page_url="",
    answers=(),
    invitation="",
    online_meeting=True,
    now=None,
):
    """Route, then reserve the meeting at ``start`` with the first candidate still free.

    Returns the Meeting (status pending; the calendar event follows from a task). Raises
    :class:`SlotTaken` when nobody who could take it is free then, :class:`NoAgentAvailable`
    when routing found nobody at all.
    """
    start = _aware(start)
    now = now or timezone.now()
    decision = routing.route(
        email=email, person=person, facts=facts, queue_id=queue_id, start=start, now=now
    )
    if not decision.candidates:
        if decision.taken:
            raise SlotTaken(_("Nobody is free at that time any more."), decision)
        raise NoAgentAvailable(_("No agent is available."), decision)

    log = decision.log
    with transaction.atomic():
        queue = None
        candidates = decision.candidates
        if decision.queue is not None:
            # The lock makes concurrent bookings of this queue take turns, so each one reads the
            # last agent the previous one wrote.
            queue = MeetingQueue.objects.select_for_update().get(pk=decision.queue.pk)
            candidates = routing.order_candidates(queue, candidates)
            log["order"] = [agent.pk for agent in candidates]
        attempts = []
        for agent in candidates:
            free, reason = routing.agent_freedom(
                agent, start, now=now, busy=decision.busy.get(agent.pk)
            )
            if not free:
                attempts.append({"id": agent.pk, "name": agent.name, "skipped": reason})
                continue
            log["attempts"] = attempts
            log["chosen"] = {"id": agent.pk, "name": agent.name, "step": decision.step}
            try:
                with transaction.atomic():
                    meeting = Meeting.objects.create(
                        agent=agent,
                        person=person if getattr(person, "pk", None) else None,
                        conversation=conversation,
                        dialogue=dialogue or None,
                        page_url=(page_url or "")[:2048],
                        email=email,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=agent.meeting_minutes),
                        status=Meeting.PENDING,
                        invitation=invitation or agent.invitation,
                        online_meeting=bool(online_meeting and agent.online_meeting),
                        answers=[
                            list(pair) if isinstance(pair, tuple) else pair for pair in answers
                        ],
                        routing_log=log,
                    )
            except IntegrityError:
                # Someone else reserved this agent's slot between our check and our insert.
                attempts.append({"id": agent.pk, "name": agent.name, "skipped": routing.TAKEN})
                del log["chosen"]
                continue
            booked_at = timezone.now()
            Agent.objects.filter(pk=agent.pk).update(last_booked_at=booked_at)
            agent.last_booked_at = booked_at
            if queue is not None:
                MeetingQueue.objects.filter(pk=queue.pk).update(last_agent=agent)
                QueueMember.objects.filter(queue=queue, agent=agent).update(booked=F("booked") + 1)
            _enqueue(_tasks().create_calendar_event, meeting.pk)
            marketo_activities.queue_meeting(meeting)
            return meeting
        log["attempts"] = attempts
    raise SlotTaken(_("Nobody is free at that time any more."), decision)


# -- changes --------------------------------------------------------------------------------------


def _history(meeting, action, by=None, **details):
    entry = {"at": _iso(timezone.now()), "action": action, **details}
    if by is not None:
        entry["by"] = getattr(by, "get_username", lambda: str(by))()
    log = dict(meeting.routing_log or {})
    log["history"] = [*log.get("history", []), entry]
    meeting.routing_log = log


def _locked(meeting):
    return Meeting.objects.select_for_update().select_related("agent__user").get(pk=meeting.pk)


def _copy(source, target, fields):
    for name in fields:
        setattr(target, name, getattr(source, name))


def cancel(meeting, by=None):
    """Cancel the meeting and, once committed, its calendar event (the visitor is told by the
    provider's cancellation). Cancelling a cancelled meeting changes nothing."""
    with transaction.atomic():
        current = _locked(meeting)
        if current.status == Meeting.CANCELLED:
            _copy(current, meeting, ["status", "routing_log"])
            return meeting
        current.status = Meeting.CANCELLED
        _history(current, "cancelled", by)
        current.save(update_fields=["status", "routing_log", "updated_at"])
        # A pending meeting may have its event created meanwhile: the task sees the status.
        _enqueue(_tasks().cancel_calendar_event, current.pk)
        marketo_activities.queue_meeting(current)
    _copy(current, meeting, ["status", "routing_log", "updated_at"])
    return meeting


def reschedule(meeting, new_start, by=None, *, now=None):
    """Move the meeting to ``new_start`` with the same agent (same calendar event, updated).

    Raises SlotTaken when the agent is not free then, BookingError for a meeting that no longer
    holds time (cancelled, completed, failed)."""
    new_start = _aware(new_start)
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(meeting)
        if current.status not in Meeting.HOLDING:
            raise BookingError(_("Only a booked meeting can be rescheduled."))
        agent = Agent.objects.select_related("user", "connection").get(pk=current.agent_id)
        free, reason = routing.agent_freedom(
            agent, new_start, now=now, exclude=current.pk, on_grid=False
        )
        if not free:
            raise SlotTaken(
                _("%(agent)s is not free then (%(reason)s).")
                % {"agent": agent.name, "reason": routing.REASONS[reason]}
            )
        old_start = current.starts_at
        current.starts_at = new_start
        current.ends_at = new_start + (current.ends_at - old_start)
        if current.status == Meeting.SCHEDULED:
            current.status = Meeting.RESCHEDULED
        _history(current, "rescheduled", by, **{"from": _iso(old_start), "to": _iso(new_start)})
        try:
            with transaction.atomic():
                current.save(
                    update_fields=["starts_at", "ends_at", "status", "routing_log", "updated_at"]
                )
        except IntegrityError:
            raise SlotTaken(_("%(agent)s is not free then.") % {"agent": agent.name}) from None
        _enqueue(_tasks().update_calendar_event, current.pk)
        marketo_activities.queue_meeting(current)
    _copy(current, meeting, ["starts_at", "ends_at", "status", "routing_log", "updated_at"])
    return meeting


SETTABLE = (Meeting.COMPLETED, Meeting.NO_SHOW)


def set_status(meeting, status, by=None):
    """Mark a meeting completed or no-show. The calendar event stays as it is (it happened, or
    was due), so nothing is synced."""
    if status not in SETTABLE:
        raise ValueError(f"A meeting can be marked {SETTABLE}, not {status!r}")
    with transaction.atomic():
        current = _locked(meeting)
        if current.status in (Meeting.CANCELLED, Meeting.FAILED):
            raise BookingError(_("A cancelled or failed meeting cannot be marked so."))
        current.status = status
        _history(current, status, by)
        current.save(update_fields=["status", "routing_log", "updated_at"])
        marketo_activities.queue_meeting(current)
    _copy(current, meeting, ["status", "routing_log", "updated_at"])
    return meeting


def reassign(meeting, agent, by=None, *, now=None):
    """Give the meeting to ``agent`` at the same time: the event moves from the old agent's
    calendar to the new one's (cancelled there, created here with a new idempotency key).

    Raises SlotTaken when the new agent is not free then (or out of rotation)."""
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(meeting)
        if current.status not in Meeting.HOLDING:
            raise BookingError(_("Only a booked meeting can be reassigned."))
        if current.agent_id == agent.pk:
            _copy(current, meeting, ["agent", "status", "routing_log"])
            return meeting
        agent = Agent.objects.select_related("user", "connection").get(pk=agent.pk)
        free, reason = routing.agent_freedom(agent, current.starts_at, now=now, on_grid=False)
        if not free:
            raise SlotTaken(
                _("%(agent)s is not free then (%(reason)s).")
                % {"agent": agent.name, "reason": routing.REASONS[reason]}
            )
        old_agent_id, old_event = current.agent_id, current.provider_event_id
        _history(current, "reassigned", by, **{"from": old_agent_id, "to": agent.pk})
        current.agent = agent
        current.ends_at = current.starts_at + timedelta(minutes=agent.meeting_minutes)
        current.event_key = new_token()
        current.provider_event_id = ""
        current.status = Meeting.PENDING
        current.problem = ""
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:
            raise SlotTaken(_("%(agent)s is not free then.") % {"agent": agent.name}) from None
        tasks = _tasks()
        if old_event:
            _enqueue(tasks.cancel_calendar_event, current.pk, old_agent_id, old_event)
        _enqueue(tasks.create_calendar_event, current.pk)
    _copy(
        current,
        meeting,
        ["agent", "ends_at", "event_key", "provider_event_id", "status", "problem", "routing_log"],
    )
    return meeting
