"""Program membership: a dialogue adds the people who engage, complete or reach a goal to its
Marketo program with the status the editor chose (the dialogue's Settings tab).

Each milestone queues an outbox row (kind ``program_member``, payload ``programId`` and
``statusName``) in the transaction of the event; one waiting row per program, person and status.
:func:`send_program_members` groups a batch by (program, status) and calls Sync Program Member
Status (``POST /rest/v1/programs/{programId}/members/status.json``) with ≤ 300 lead ids each:

- ``created``/``updated``: done; ``skipped`` with 1037 (already in or past this status: Marketo
  never moves a member back) is done too;
- any other skipped record: dead with Marketo's reasons;
- a refused call (an unknown program, 1013; a status not in the program's channel) kills the
  rows of that group only.

Lead ids come from :func:`.activities.lead_ids`: rows of people without one wait for it.
"""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from ..models import ConversationEvent, OutboxItem
from . import outbox, tasks
from .activities import Wait, hold, lead_ids, mark_done, record_reasons, send_failed
from .client import _record_results
from .errors import MarketoError

#: Marketo's limit of lead ids per Sync Program Member Status call.
MAX_PER_CALL = 300
#: "Lead skipped because it is already in or past this status": the member is where we want.
ALREADY_THERE = "1037"
SENT_STATUSES = {"created", "updated"}

# Conversation event → the Dialogue field naming the program status it earns.
MILESTONES = {
    ConversationEvent.ENGAGED: "marketo_status_engaged",
    ConversationEvent.COMPLETED: "marketo_status_completed",
    ConversationEvent.GOAL: "marketo_status_goal",
}


def queue_member(person, program_id, status_name):
    """Queue adding ``person`` to program ``program_id`` with ``status_name`` (in the caller's
    transaction). Returns the outbox item, or None when there is nothing to do."""
    if not outbox.is_configured() or person is None or not program_id or not status_name:
        return None
    key = f"program:{int(program_id)}:{person.pk}:{status_name}"[:191]
    payload = {"programId": int(program_id), "statusName": status_name}
    item = outbox.enqueue(OutboxItem.KIND_PROGRAM_MEMBER, key, payload, person=person)
    # A drain of every kind: it sends the lead upsert queued in the same transaction first,
    # so the lead id is known when this row's turn comes.
    outbox.schedule_drain()
    return item


def queue_for_events(conversation, events):
    """Queue the program statuses the dialogue gives for ``events`` (engaged, completed, goal)."""
    kinds = {event.kind for event in events} & set(MILESTONES)
    if not kinds or not conversation.dialogue_id:
        return
    dialogue = conversation.dialogue
    if dialogue is None or not dialogue.marketo_program_id:
        return
    # In the order of the program's progression, so the member moves forward in one pass.
    for kind in (ConversationEvent.ENGAGED, ConversationEvent.GOAL, ConversationEvent.COMPLETED):
        if kind in kinds:
            status = getattr(dialogue, MILESTONES[kind])
            queue_member(conversation.person, dialogue.marketo_program_id, status)


def send_program_members(items, client):
    """Send one batch of program member items, one call per (program, status) and 300 leads."""
    now = timezone.now()
    ids = lead_ids(items, now)
    waiting = [(item, ids[item.pk]) for item in items if isinstance(ids[item.pk], Wait)]
    if waiting:
        hold(waiting, now)
    groups = defaultdict(list)
    for item in items:
        if not isinstance(ids[item.pk], Wait):
            payload = item.payload or {}
            groups[(payload.get("programId"), payload.get("statusName"))].append(item)
    for (program_id, status_name), group in groups.items():
        for start in range(0, len(group), MAX_PER_CALL):
            batch = group[start : start + MAX_PER_CALL]
            try:
                body = client.post(
                    f"/rest/v1/programs/{int(program_id)}/members/status.json",
                    {"statusName": status_name, "input": [{"leadId": ids[i.pk]} for i in batch]},
                )
                results = _record_results(body.get("result") or [], 0, len(batch))
            except MarketoError as error:
                send_failed(batch, error)
                continue
            except (TypeError, ValueError):
                for item in batch:
                    tasks._finish(
                        item, OutboxItem.STATUS_DEAD, error=f"Invalid program id {program_id!r}"
                    )
                continue
            done = []
            for result in results:
                item = batch[result.index]
                if result.status in SENT_STATUSES or (
                    result.skipped and {r.code for r in result.reasons} == {ALREADY_THERE}
                ):
                    done.append(item)
                else:
                    tasks._finish(item, OutboxItem.STATUS_DEAD, error=record_reasons(result))
            mark_done(done)
