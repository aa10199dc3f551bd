"""Celery tasks that write booked meetings into the agents' calendars.

Tasks take ids only and re-read the meeting, so a retry (or a second delivery: ``acks_late``)
sees its current state. The event is created with the meeting's ``event_key`` as the provider's
idempotency key (Google: our own event id; Graph: ``transactionId``), so running the task twice
creates one event.

Errors: ``Throttled`` retries after the provider's ``Retry-After``; ``Transient`` with exponential
backoff and jitter; both at most :data:`MAX_RETRIES` times. ``ReauthRequired`` (the connection is
then out of rotation), a permanent ``ProviderError`` or exhausted retries mark the meeting failed
and e-mail the agent and the sales admins, so someone can call the visitor.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import logging
import random

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from ..engine.tokens import render_tokens
from ..models import Agent, CalendarConnection, Meeting
from . import connections
from .providers.base import EventSpec, ProviderError, ReauthRequired, Throttled, Transient

__all__ = ["cancel_calendar_event", "create_calendar_event", "update_calendar_event"]

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
BACKOFF_BASE = 10  # seconds: 10, 20, 40, 80, 160 (+ jitter)
BACKOFF_MAX = 15 * 60
TASK_OPTIONS = {"bind": True, "acks_late": True, "max_retries": MAX_RETRIES}


def backoff(retries):
    """Seconds before retry number ``retries + 1``: exponential, capped, with full jitter on top
    of half of it so that workers hitting the same provider spread out."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**retries)
    return delay / 2 + random.uniform(0, delay / 2)


class _Failed(Exception):
    """The meeting could not be written to the calendar; the message says why (for people)."""


def _meeting(meeting_id):
    return (
        Meeting.objects.select_related("agent__user", "agent__connection", "person")
        .filter(pk=meeting_id)
        .first()
    )


def _connection(agent):
    try:
        connection = agent.connection
    except CalendarConnection.DoesNotExist:
        connection = None
    if connection is None:
        raise _Failed(_("%(agent)s has no calendar connected.") % {"agent": agent.name})
    return connection


def _call(connection, method, *args):
    """``method(tokens, *args)`` with the connection's tokens, storing them again when the call
    renewed them; a refused grant takes the connection out of rotation."""
    tokens = connections.tokens_for(connection)  # marks the connection when refused
    before = dataclasses.replace(tokens)
    try:
        return method(tokens, *args)
    except ReauthRequired as error:
        connections.mark_failing(connection, str(error))  # once: out of rotation, people told
        raise
    finally:
        if tokens != before:
            connections.save_tokens(connection, tokens)


def _provider(connection):
    return connections.provider_module(connection.provider)


def _person_facts(meeting):
    person = meeting.person
    facts = dict(person.as_facts()) if person is not None else {}
    facts.setdefault("email", meeting.email)
    if not facts.get("email"):
        facts["email"] = meeting.email
    facts["company.name"] = facts.get("company", "")
    return facts


def _plain_tokens(text, facts):
    # render_tokens escapes values for HTML; the invitation is plain text.
    return html.unescape(render_tokens(text or "", facts))


def event_spec(meeting):
    """What goes into the agent's calendar for ``meeting``."""
    agent = meeting.agent
    person = meeting.person
    who = " ".join(part for part in (person.first_name, person.last_name) if part) if person else ""
    who = who or meeting.email
    site = getattr(settings, "WAGTAIL_SITE_NAME", "") or ""
    summary = _("Meeting: %(who)s and %(agent)s") % {"who": who, "agent": agent.name}
    if site:
        summary = f"{summary} ({site})"
    description = _plain_tokens(meeting.invitation, _person_facts(meeting))
    return EventSpec(
        summary=summary[:250],
        description=description,
        start=meeting.starts_at,
        end=meeting.ends_at,
        attendees=[meeting.email],
        online_meeting=meeting.online_meeting,
        time_zone=agent.time_zone or "UTC",
    )


def _retry(task, meeting, error):
    """Retry the task later, or fail the meeting when retries are exhausted."""
    if task.request.retries >= (task.max_retries or 0):
        raise _Failed(
            _("The calendar kept refusing the event (%(error)s).") % {"error": error}
        ) from error
    if isinstance(error, Throttled):
        countdown = error.retry_after
    else:
        countdown = max(error.retry_after or 0, backoff(task.request.retries))
    logger.info(
        "Calendar event of meeting %s: %s; retry %s in %.0f s",
        meeting.pk,
        error,
        task.request.retries + 1,
        countdown,
    )
    raise task.retry(exc=error, countdown=countdown)


def _fail(meeting, message):
    """Mark the meeting failed (when it still waits for its event) and tell the people."""
    changed = Meeting.objects.filter(pk=meeting.pk, status=Meeting.PENDING).update(
        status=Meeting.FAILED, problem=str(message)[:2000], updated_at=timezone.now()
    )
    if not changed:
        Meeting.objects.filter(pk=meeting.pk).update(problem=str(message)[:2000])
        return
    meeting.status, meeting.problem = Meeting.FAILED, str(message)
    logger.warning("Meeting %s could not be booked: %s", meeting.pk, message)
    _notify_failed(meeting)


# -- creating ---------------------------------------------------------------------------------


@shared_task(**TASK_OPTIONS)
def create_calendar_event(self, meeting_id):
    """Create the meeting's event in the agent's calendar (idempotent by ``event_key``)."""
    meeting = _meeting(meeting_id)
    if meeting is None or meeting.status != Meeting.PENDING or meeting.provider_event_id:
        return None  # gone, done already, or cancelled/failed meanwhile
    try:
        connection = _connection(meeting.agent)
        spec = event_spec(meeting)
        try:
            event_id = _call(
                connection,
                _provider(connection).create_event,
                connection.calendar_id,
                spec,
                meeting.event_key,
            )
        except ReauthRequired as error:
            raise _Failed(
                _("%(agent)s's calendar needs signing in again (%(error)s).")
                % {"agent": meeting.agent.name, "error": error}
            ) from error
        except (Throttled, Transient) as error:
            _retry(self, meeting, error)
        except ProviderError as error:
            raise _Failed(
                _("The calendar refused the event (%(error)s).") % {"error": error}
            ) from error
    except _Failed as failure:
        _fail(meeting, failure)
        return None
    _created(meeting, connection, spec, event_id)
    return event_id


def _created(meeting, connection, spec, event_id):
    """Record the event; undo or follow up when the meeting changed while we were writing it."""
    done = Meeting.objects.filter(
        pk=meeting.pk,
        status=Meeting.PENDING,
        event_key=meeting.event_key,
        agent_id=meeting.agent_id,
    ).update(
        status=Meeting.SCHEDULED,
        provider_event_id=event_id,
        problem="",
        updated_at=timezone.now(),
    )
    current = Meeting.objects.filter(pk=meeting.pk).first()
    if not done:
        # Cancelled or reassigned meanwhile: this event must not stay in this calendar.
        if (
            current is None
            or current.event_key != meeting.event_key
            or (current.status not in Meeting.HOLDING)
        ):
            try:
                _call(
                    connection, _provider(connection).cancel_event, connection.calendar_id, event_id
                )
            except ProviderError:
                logger.warning("Could not remove the stale event of meeting %s", meeting.pk)
        return
    if current.starts_at != spec.start or current.ends_at != spec.end:
        update_calendar_event.delay(meeting.pk)  # rescheduled while we were creating it
    connection.checked_at = timezone.now()
    CalendarConnection.objects.filter(pk=connection.pk).update(checked_at=connection.checked_at)
    meeting.status, meeting.provider_event_id = Meeting.SCHEDULED, event_id
    _notify_booked(meeting)


# -- updating and cancelling ------------------------------------------------------------------


@shared_task(**TASK_OPTIONS)
def update_calendar_event(self, meeting_id):
    """Move the meeting's event to the meeting's current time (after a reschedule)."""
    meeting = _meeting(meeting_id)
    if meeting is None or meeting.status not in Meeting.HOLDING:
        return None
    if not meeting.provider_event_id:
        # Not created yet: the creating task writes the current time (or follows up itself).
        return None
    try:
        connection = _connection(meeting.agent)
        _call(
            connection,
            _provider(connection).update_event,
            connection.calendar_id,
            meeting.provider_event_id,
            event_spec(meeting),
        )
    except (Throttled, Transient) as error:
        try:
            _retry(self, meeting, error)
        except _Failed as failure:
            _problem(meeting, failure)
    except (ProviderError, _Failed) as error:
        _problem(meeting, error)
    else:
        Meeting.objects.filter(pk=meeting.pk).update(problem="")
    return None


@shared_task(**TASK_OPTIONS)
def cancel_calendar_event(self, meeting_id, agent_id=None, event_id=None):
    """Cancel the meeting's event (the provider tells the visitor). ``agent_id`` and
    ``event_id`` name an event the meeting left behind (after a reassignment)."""
    meeting = _meeting(meeting_id)
    if meeting is None:
        return None
    if agent_id is None:
        if meeting.status != Meeting.CANCELLED or not meeting.provider_event_id:
            return None  # not cancelled, or never created (the creating task sees the status)
        agent, event_id = meeting.agent, meeting.provider_event_id
    else:
        agent = Agent.objects.select_related("user", "connection").filter(pk=agent_id).first()
        if agent is None or not event_id:
            return None
    try:
        connection = _connection(agent)
        _call(connection, _provider(connection).cancel_event, connection.calendar_id, event_id)
    except (Throttled, Transient) as error:
        try:
            _retry(self, meeting, error)
        except _Failed as failure:
            _problem(meeting, failure)
    except (ProviderError, _Failed) as error:
        _problem(meeting, error)
    return None


def _problem(meeting, error):
    message = str(error)[:2000]
    Meeting.objects.filter(pk=meeting.pk).update(problem=message)
    logger.warning("Calendar sync of meeting %s failed: %s", meeting.pk, message)


# -- e-mails ----------------------------------------------------------------------------------


def _local(moment, zone_name):
    import zoneinfo

    try:
        zone = zoneinfo.ZoneInfo(zone_name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
        zone_name = "UTC"
    local = moment.astimezone(zone)
    return _("%(date)s at %(time)s (%(zone)s)") % {
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"),
        "zone": zone_name,
    }


def _answers_text(answers):
    lines = []
    for item in answers or []:
        if isinstance(item, list | tuple) and len(item) == 2:
            prompt, answer = item
        elif isinstance(item, dict):
            prompt = item.get("prompt") or item.get("question") or item.get("label") or ""
            answer = item.get("answer") or item.get("value") or ""
        else:
            prompt, answer = "", item
        lines.append(f"- {prompt}: {answer}" if prompt else f"- {answer}")
    return lines


def _subject(text):
    site = getattr(settings, "WAGTAIL_SITE_NAME", "") or ""
    return f"[{site}] {text}" if site else text


def _send(subject, lines, to, cc=()):
    try:
        EmailMessage(_subject(subject), "\n".join(lines), to=list(to), cc=list(cc)).send()
    except Exception:
        logger.exception("Could not send the e-mail %r", subject)


def _notify_booked(meeting):
    agent = meeting.agent
    if not agent.user.email:
        return
    with override(getattr(settings, "LANGUAGE_CODE", None)):
        when = _local(meeting.starts_at, agent.time_zone)
        context = {"email": meeting.email, "when": when, "agent": agent.name}
        lines = [_("%(email)s booked a meeting with you on %(when)s.") % context, ""]
        answers = _answers_text(meeting.answers)
        if answers:
            lines += [_("What they told the chat:"), *answers, ""]
        if meeting.page_url:
            lines.append(_("Booked on: %(url)s") % {"url": meeting.page_url})
        _send(_("New meeting with %(email)s on %(when)s") % context, lines, [agent.user.email])


def _notify_failed(meeting):
    agent = meeting.agent
    admins = connections.admin_emails()
    if agent.user.email:
        to, cc = [agent.user.email], [email for email in admins if email != agent.user.email]
    else:
        to, cc = admins, []
    if not to:
        logger.warning("Nobody to tell that meeting %s failed", meeting.pk)
        return
    with override(getattr(settings, "LANGUAGE_CODE", None)):
        context = {
            "email": meeting.email,
            "when": _local(meeting.starts_at, agent.time_zone),
            "agent": agent.name,
            "problem": meeting.problem,
        }
        lines = [
            _(
                "The meeting %(email)s booked with %(agent)s on %(when)s could not be put in "
                "the calendar, so no invitation was sent."
            )
            % context,
            "",
            _("The problem: %(problem)s") % context,
            "",
            _("Please contact %(email)s to arrange the meeting.") % context,
        ]
        _send(_("Booking failed: %(email)s on %(when)s") % context, lines, to, cc)
    _tell_the_visitor(meeting)


def _tell_the_visitor(meeting):
    """The visitor was told "booked" in the chat: say honestly that the invitation will not come,
    in the language of the page they booked on."""
    conversation = meeting.conversation
    language = (conversation.context.get("page.language") if conversation else None) or getattr(
        settings, "LANGUAGE_CODE", None
    )
    with override(language):
        context = {"agent": meeting.agent.name, "when": _local(meeting.starts_at, "UTC")}
        lines = [
            _(
                "We are sorry: your meeting with %(agent)s on %(when)s could not be put in the "
                "calendar, so no invitation will come."
            )
            % context,
            "",
            _("%(agent)s knows and will contact you to find a time.") % context,
        ]
        _send(_("Your meeting could not be booked"), lines, [meeting.email])


# A booking enqueues its calendar task when its transaction commits; if the broker was down then,
# the meeting would wait forever. Run this from Celery beat (every few minutes): creating the
# event is idempotent, so a meeting whose task is merely slow is not booked twice.
STUCK_AFTER = datetime.timedelta(minutes=10)


@shared_task(acks_late=True)
def resend_pending_meetings():
    """Enqueue the calendar task again for meetings still pending after ``STUCK_AFTER``."""
    cutoff = timezone.now() - STUCK_AFTER
    ids = list(
        Meeting.objects.filter(status=Meeting.PENDING, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for meeting_id in ids:
        create_calendar_event.delay(meeting_id)
    if ids:
        logger.warning("Sent %d pending meeting(s) to the calendar again", len(ids))
    return len(ids)
