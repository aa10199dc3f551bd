"""Who takes the meeting: account routing → rules by priority → the card's queue → fallback.

:func:`route` collects every agent each step could offer, asks free/busy for all of them at once
(one request per provider, see :mod:`.availability`), then walks the steps in order. A step
decides when one of its agents is in rotation and free: free at ``start`` when the visitor chose a
time, or with at least one free slot when we are about to offer slots. Its free agents, in the
queue's order, are the candidates. Every agent considered is logged with the reason it was skipped,
so the meeting's admin page can say why the booking went where it went.

Queue order:

- round robin (default): the member after ``queue.last_agent`` in ``sort_order``, wrapping;
- weighted (smooth): the smallest ``(booked + 1) / weight``, ties to the smallest
  ``booked / weight``: weights 2:1:1 go A, B, C, A, A, B, C, A … like nginx's smooth weighted round
  robin, from the persistent ``QueueMember.booked`` counts; weight 0 takes no meetings;
- least recent: the agent booked longest ago (never booked first).

Ties go to ``sort_order``. The order is computed again under the queue's row lock when booking
(:func:`order_candidates`), so concurrent bookings follow it strictly.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .. import engine
from ..models import Account, Agent, Meeting, MeetingQueue, QueueMember, RoutingRule
from . import slots
from .availability import availability_of, busy_for, connection_of, fetch_window

__all__ = [
    "REASONS",
    "Decision",
    "agent_freedom",
    "booked_intervals",
    "order_candidates",
    "order_members",
    "route",
]

UTC = datetime.UTC
_MINUTE = datetime.timedelta(minutes=1)
ACCOUNT, RULE, QUEUE, FALLBACK = "account", "rule", "queue", "fallback"

# Why an agent was skipped: codes stored in the log, and how to say them.
INACTIVE = "inactive"
NOT_CONNECTED = "calendar_not_connected"
NEEDS_REAUTH = "calendar_needs_reauth"
UNKNOWN_BUSY = "free_busy_unknown"
BAD_AVAILABILITY = "invalid_availability"
ZERO_WEIGHT = "zero_weight"
NO_SLOT = "no_free_slot"
DAILY_CAP = "daily_cap"
TAKEN = "taken"


def _reasons():
    return {
        INACTIVE: _("does not take meetings (inactive)"),
        NOT_CONNECTED: _("calendar not connected"),
        NEEDS_REAUTH: _("calendar needs signing in again"),
        UNKNOWN_BUSY: _("the calendar's free/busy could not be read"),
        BAD_AVAILABILITY: _("the weekly availability is invalid"),
        ZERO_WEIGHT: _("weight 0 in this queue"),
        NO_SLOT: _("no free slot"),
        DAILY_CAP: _("daily meeting cap reached"),
        TAKEN: _("booked by someone else meanwhile"),
    }


class _Reasons(Mapping):
    """Reason code → translated text, read in the active language."""

    def __getitem__(self, key):
        return _reasons()[key]

    def __iter__(self):
        return iter(_reasons())

    def __len__(self):
        return len(_reasons())


REASONS = _Reasons()


@dataclass
class Decision:
    """The outcome of :func:`route`.

    ``candidates``: the agents to try, in order (empty for the fallback). ``queue``: the queue
    whose order applied (None for account routing and the fallback). ``slots``: each
    candidate's free start times (offers only). ``busy``: free/busy read for every agent
    considered, to re-check without asking the provider again. ``taken``: a time was asked for,
    and agents were in rotation but none was free then (the slot is taken, not the queue empty).
    """

    step: str
    candidates: list[Agent]
    log: dict[str, Any]
    queue: MeetingQueue | None = None
    start: datetime.datetime | None = None
    now: datetime.datetime | None = None
    slots: dict[int, list[datetime.datetime]] = field(default_factory=dict)
    busy: dict[int, list | None] = field(default_factory=dict)
    taken: bool = False

    @property
    def agents(self):
        return len(self.candidates)


@dataclass
class _Stage:
    step: str
    info: dict[str, Any]
    members: list[tuple[Agent, int | None]]  # (agent, weight or None)
    queue: MeetingQueue | None = None


def _iso(moment):
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _agent_ref(agent):
    return {"id": agent.pk, "name": agent.name}


# -- queue order ----------------------------------------------------------------------------------


def order_members(queue: MeetingQueue, members: list[QueueMember]) -> list[QueueMember]:
    """``members`` (in ``sort_order``) in the order the queue's strategy tries them."""
    members = sorted(members, key=lambda member: (member.sort_order or 0, member.pk or 0))
    if queue.strategy == MeetingQueue.WEIGHTED:
        positions = {id(member): index for index, member in enumerate(members)}
        # The member whose share after one more meeting stays lowest; on a tie the one with the
        # lowest share now (so a heavy member does not take two in a row needlessly).
        return sorted(
            members,
            key=lambda member: (
                (Fraction(member.booked + 1, member.weight), Fraction(member.booked, member.weight))
                if member.weight
                else (Fraction(10**9), Fraction(10**9)),
                positions[id(member)],
            ),
        )
    if queue.strategy == MeetingQueue.LEAST_RECENT:
        never = datetime.datetime.min.replace(tzinfo=UTC)
        return sorted(members, key=lambda member: member.agent.last_booked_at or never)
    # Round robin: the member after the last one booked, wrapping.
    for index, member in enumerate(members):
        if member.agent_id == queue.last_agent_id:
            return members[index + 1 :] + members[: index + 1]
    return members


def order_candidates(queue: MeetingQueue, candidates: Iterable[Agent]) -> list[Agent]:
    """The candidates (agents of ``queue``) in the strategy's order, from the current state of the
    queue and its members: called under the queue's row lock when booking."""
    candidates = {agent.pk: agent for agent in candidates}
    members = list(
        QueueMember.objects.filter(queue=queue, agent_id__in=candidates).select_related("agent")
    )
    ordered = []
    for member in order_members(queue, members):
        agent = candidates[member.agent_id]
        agent.last_booked_at = member.agent.last_booked_at
        ordered.append(agent)
    return ordered


# -- freedom --------------------------------------------------------------------------------------


def booked_intervals(agent_ids, start, end, *, exclude=None):
    """``{agent_id: [(start, end), …]}``: our own meetings holding the agents' time in the range."""
    booked = {agent_id: [] for agent_id in agent_ids}
    meetings = Meeting.objects.filter(
        agent_id__in=list(agent_ids),
        status__in=Meeting.HOLDING,
        starts_at__lt=end,
        ends_at__gt=start,
    )
    if exclude is not None:
        meetings = meetings.exclude(pk=exclude)
    for agent_id, begin, finish in meetings.values_list("agent_id", "starts_at", "ends_at"):
        booked[agent_id].append((begin, finish))
    return booked


def _day_range(moment):
    # Wide enough for the local day of ``moment`` in any zone, and for buffers around it.
    return moment - datetime.timedelta(days=2), moment + datetime.timedelta(days=2)


def _free_at(availability, start, *, now, busy, booked, on_grid=True):
    """(True, None) when ``start`` is a free slot, else (False, reason code). ``on_grid=False``
    accepts any whole minute inside working hours, not only the times the agent offers."""
    if not on_grid:
        availability = dataclasses.replace(availability, step=_MINUTE)
    end = start + availability.duration
    found = slots.agent_slots(availability, now=now, busy=busy, booked=booked, start=start, end=end)
    if start in found:
        return True, None
    if availability.daily_cap is not None:
        zone = availability.zone
        day = start.astimezone(zone).date()
        same_day = sum(1 for begin, _end in booked if begin.astimezone(zone).date() == day)
        if same_day >= availability.daily_cap:
            return False, DAILY_CAP
    return False, NO_SLOT


def _rotation_problem(agent, busy):
    """Why ``agent`` is out of rotation (a reason code), or None."""
    if not agent.active:
        return INACTIVE
    connection = connection_of(agent)
    if connection is None:
        return NOT_CONNECTED
    if not connection.usable:
        return NEEDS_REAUTH
    if busy.get(agent.pk) is None:
        return UNKNOWN_BUSY
    return None


def _without(intervals, start, end):
    """``intervals`` minus ``[start, end)`` (a meeting's own event is not busy for itself)."""
    kept = []
    for begin, finish in intervals:
        if finish <= start or begin >= end:
            kept.append((begin, finish))
            continue
        if begin < start:
            kept.append((begin, start))
        if finish > end:
            kept.append((end, finish))
    return kept


def agent_freedom(agent, start, *, now=None, busy=None, exclude=None, on_grid=True):
    """Whether ``agent`` can take a meeting at ``start``: ``(True, None)`` or ``(False, code)``.

    Reads the agent's holding meetings from the database (``exclude``: a meeting being moved)
    and ``busy`` when given (else free/busy, cached). A meeting being moved does not collide with
    its own calendar event: its current time is taken out of the busy intervals. ``on_grid``:
    ``start`` must be one of the times the agent offers (admins may move meetings off the grid).
    """
    now = now or timezone.now()
    if busy is None:
        window = fetch_window([agent], now)
        busy = busy_for([agent], *window).get(agent.pk)
        problem = _rotation_problem(agent, {agent.pk: busy})
    else:
        problem = _rotation_problem(agent, {agent.pk: busy})
    if problem:
        return False, problem
    try:
        availability = availability_of(agent)
    except Exception:
        return False, BAD_AVAILABILITY
    if exclude is not None:
        own = Meeting.objects.filter(pk=exclude).values_list("starts_at", "ends_at").first()
        if own:
            busy = _without(busy, *own)
    booked = booked_intervals([agent.pk], *_day_range(start), exclude=exclude)[agent.pk]
    return _free_at(availability, start, now=now, busy=busy, booked=booked, on_grid=on_grid)


# -- the steps ------------------------------------------------------------------------------------


def _find_account(email, person, facts):
    domain = ""
    if email and "@" in email:
        domain = email.rpartition("@")[2].strip().lower()
    accounts = Account.objects.select_related("agent__user", "agent__connection")
    if domain:
        account = accounts.filter(domain__iexact=domain).first()
        if account is not None:
            return account, "domain", domain
    company = ""
    if person is not None:
        company = person.company or ""
    if not company and facts:
        company = str(facts.get("company.name") or facts.get("person.company") or "")
    company = company.strip()
    if company:
        account = accounts.filter(name__iexact=company).order_by("pk").first()
        if account is not None:
            return account, "company", company
    return None, None, None


def _stages(email, person, facts, queue_id, log):
    stages = []
    account, matched_by, value = _find_account(email, person, facts)
    if account is not None:
        log["account"] = {
            "id": account.pk,
            "name": account.name,
            "domain": account.domain,
            "matched_by": matched_by,
            "value": value,
            "agent": account.agent_id,
        }
        stages.append(_Stage(ACCOUNT, {"account": account.pk}, [(account.agent, None)], queue=None))

    queues = []
    for rule in RoutingRule.objects.filter(active=True).select_related("queue"):
        try:
            matched = engine.evaluate(rule.compile_audience(), facts or {})
        except Exception:  # a broken rule must not break booking; it is logged as unmatched
            matched = False
        log["rules"].append(
            {
                "id": rule.pk,
                "name": rule.name,
                "priority": rule.priority,
                "queue": rule.queue_id,
                "matched": matched,
            }
        )
        if matched:
            queues.append((RULE, {"rule": rule.pk, "queue": rule.queue_id}, rule.queue))

    card_queue = None
    if queue_id is not None:
        card_queue = MeetingQueue.objects.filter(pk=queue_id).first()
        if card_queue is not None:
            queues.append((QUEUE, {"queue": card_queue.pk}, card_queue))
    if card_queue is not None:
        log["queue"] = {
            "id": card_queue.pk,
            "name": card_queue.name,
            "strategy": card_queue.strategy,
            "last_agent": card_queue.last_agent_id,
        }

    if queues:
        members_of = {}
        queryset = QueueMember.objects.filter(
            queue_id__in={queue.pk for _step, _info, queue in queues}
        ).select_related("agent__user", "agent__connection")
        for member in queryset:
            members_of.setdefault(member.queue_id, []).append(member)
        for step, info, queue in queues:
            ordered = order_members(queue, members_of.get(queue.pk, []))
            info = {
                **info,
                "queue_name": queue.name,
                "strategy": queue.strategy,
                "last_agent": queue.last_agent_id,
            }
            stages.append(_Stage(step, info, [(m.agent, m.weight) for m in ordered], queue=queue))
    return stages


def route(
    *,
    email: str | None,
    person=None,
    facts: Mapping[str, Any] | None = None,
    queue_id: int | None = None,
    start: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> Decision:
    """Decide who takes a meeting with the visitor (``start``: the time chosen, if any).

    Without ``start`` a step decides when one of its agents has a free slot, and each
    candidate's slots are in ``Decision.slots``. With ``start`` a step decides when one of its
    agents is free then; when nobody is, ``Decision.taken`` tells a taken slot (agents were in
    rotation) from nobody at all.
    """
    now = now or timezone.now()
    if start is not None:
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        start = start.astimezone(UTC)
    log = {
        "step": FALLBACK,
        "start": _iso(start),
        "now": _iso(now),
        "email": email or "",
        "account": None,
        "rules": [],
        "queue": None,
        "stages": [],
        "candidates": [],
    }
    stages = _stages(email, person, facts, queue_id, log)
    agents = {agent.pk: agent for stage in stages for agent, _weight in stage.members}
    window = fetch_window(agents.values(), now)
    busy = busy_for(
        [agent for agent in agents.values() if agent.active and connection_of(agent)], *window
    )
    for agent_id in agents:
        busy.setdefault(agent_id, None)

    if start is None:
        booked = booked_intervals(agents, window[0] - datetime.timedelta(days=1), window[1])
    else:
        booked = booked_intervals(agents, *_day_range(start))

    evaluated = {}  # agent pk -> (free, reason, slots)

    def evaluate(agent):
        if agent.pk in evaluated:
            return evaluated[agent.pk]
        problem = _rotation_problem(agent, busy)
        if problem:
            result = (False, problem, [])
        else:
            try:
                availability = availability_of(agent)
            except Exception:
                result = (False, BAD_AVAILABILITY, [])
            else:
                if start is None:
                    found = slots.agent_slots(
                        availability, now=now, busy=busy[agent.pk], booked=booked[agent.pk]
                    )
                    result = (bool(found), None if found else NO_SLOT, found)
                else:
                    free, reason = _free_at(
                        availability, start, now=now, busy=busy[agent.pk], booked=booked[agent.pk]
                    )
                    result = (free, reason, [start] if free else [])
        evaluated[agent.pk] = result
        return result

    in_rotation = False
    decided = None
    for stage in stages:
        entry = {"step": stage.step, **stage.info, "agents": [], "decided": False}
        log["stages"].append(entry)
        candidates = []
        for agent, weight in stage.members:
            if weight == 0:
                free, reason = False, ZERO_WEIGHT
            else:
                free, reason, _found = evaluate(agent)
            if reason in (None, NO_SLOT, DAILY_CAP):
                in_rotation = True
            entry["agents"].append(
                {
                    **_agent_ref(agent),
                    "skipped": reason,
                    "why": REASONS[reason] if reason else "",
                }
            )
            if free:
                candidates.append(agent)
        if candidates:
            entry["decided"] = True
            decided = Decision(
                step=stage.step,
                candidates=candidates,
                log=log,
                queue=stage.queue,
                start=start,
                now=now,
                slots={agent.pk: evaluated[agent.pk][2] for agent in candidates},
                busy=busy,
            )
            break

    if decided is None:
        decided = Decision(
            step=FALLBACK,
            candidates=[],
            log=log,
            start=start,
            now=now,
            busy=busy,
            taken=start is not None and in_rotation,
        )
        if not stages:
            log["why"] = _("No account, rule or queue applies.")
        elif decided.taken:
            log["why"] = _("Nobody is free at that time.")
        else:
            log["why"] = _("No agent is available.")
    log["step"] = decided.step
    log["candidates"] = [agent.pk for agent in decided.candidates]
    return decided
