"""Marketo custom activities named after the product's activities, and their sending.

Four custom activity types (:data:`TYPES`), created and approved in Marketo by
``manage.py dynchat_marketo_setup`` (:func:`ensure_activity_types`), so that marketing users can
trigger smart campaigns on them:

- *Engaged with a Dialogue* (status Completed or Dropped, transcript, page URL, conversation
  score). Completed is queued when an engaged conversation completes; Dropped by the beat task
  :func:`queue_dropped` for conversations engaged but idle for ``SESSION_IDLE_SECONDS`` without
  completing (once per conversation: its outbox key is fixed). A dropped conversation the
  visitor finishes later also gets a Completed one.
- *Reached Dialogue Goal* (goal name, score) when a goal card is reached.
- *Scheduled Meeting in Dialogue* (agent, scheduled for, meeting status) when a meeting is
  booked and again when its status changes (rescheduled, cancelled, completed, no-show).
- *Interacted with Document in Dialogue* (document, opened, downloaded) when the visitor opens a
  document card's link; "downloaded" is true for a Wagtail document (a file) and false for a
  web page.

Each is queued as an outbox row (kind ``activity``) in the transaction of the event that caused
it; :func:`send_activities` (registered with the drain in :mod:`.tasks`) posts them, ≤ 300 per
call. An activity needs the person's Marketo lead id: an item whose person has an e-mail but no
lead id yet waits (without counting an attempt) while the lead upsert is queued; an anonymous
person's item waits for the person to become known. Either gives up after
``ACTIVITY_MAX_AGE_SECONDS`` with a clear reason (status ``dead``).
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from dataclasses import dataclass

from celery import shared_task
from django.db import transaction
from django.db.models import F
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import dynchat_settings
from ..engine import transcript
from ..models import Conversation, ConversationEvent, MarketoActivityType, OutboxItem, Person
from . import outbox, tasks
from .client import _record_results
from .errors import MarketoError, QuotaExceeded

logger = logging.getLogger(__name__)

#: Marketo's limit of one Add Custom Activities call.
MAX_PER_CALL = 300
#: Marketo refuses activities whose attributes take more than this many bytes (1049).
MAX_ATTRIBUTES_BYTES = 65_536
#: Room kept under that limit for the JSON Marketo measures differently from us.
ATTRIBUTES_MARGIN = 512
#: Marketo's string fields hold 255 characters.
MAX_STRING = 255
#: Seconds between checks while an item waits for its lead upsert, or for its person to be known.
WAIT_FOR_LEAD_SECONDS = 20
WAIT_FOR_PERSON_SECONDS = 5 * 60
#: Default of the ``ACTIVITY_MAX_AGE_SECONDS`` setting.
DEFAULT_MAX_AGE = 7 * 24 * 3600

ENGAGED, GOAL, MEETING, DOCUMENT = "engaged", "goal", "meeting", "document"
STATUS_COMPLETED, STATUS_DROPPED = "Completed", "Dropped"
NOT_APPROVED = gettext_lazy(
    "The activity type is not approved in Marketo yet: run manage.py dynchat_marketo_setup."
)


class SetupError(Exception):
    """Marketo refused to create or approve an activity type; the message says what to do."""


@dataclass(frozen=True)
class Attribute:
    api_name: str
    name: str
    data_type: str
    description: str = ""

    def as_marketo(self):
        return {
            "apiName": self.api_name,
            "name": str(self.name),
            "description": str(self.description),
            "dataType": self.data_type,
        }


@dataclass(frozen=True)
class ActivityType:
    """One custom activity type: its names in Marketo and its attributes (primary first)."""

    key: str
    api_name: str
    name: str
    trigger_name: str
    filter_name: str
    description: str
    primary: Attribute
    attributes: tuple[Attribute, ...]

    def create_body(self):
        primary = self.primary.as_marketo()
        del primary["dataType"]  # the primary attribute is always a string
        return {
            "apiName": self.api_name,
            "name": str(self.name),
            "description": str(self.description),
            "triggerName": str(self.trigger_name),
            "filterName": str(self.filter_name),
            "primaryAttribute": primary,
        }


# API names carry our namespace, as Marketo asks of integrations, so they never collide with a
# customer's own types. Names are the product's; they are shown in Marketo, not translated.
_DIALOGUE = Attribute("dynchatDialogue", "Dialogue", "string", "Name of the dialogue")
_PAGE = Attribute("dynchatPageUrl", "Page URL", "string", "Page the conversation started on")
_DIALOGUE_ID = Attribute("dynchatDialogueId", "Dialogue ID", "integer", "Id of the dialogue")
TYPES = {
    ENGAGED: ActivityType(
        ENGAGED,
        "dynchatEngagedWithDialogue",
        "Engaged with a Dialogue",
        "Engages with a Dialogue",
        "Engaged with a Dialogue",
        "A person answered a chat dialogue and then completed it or dropped out.",
        _DIALOGUE,
        (
            Attribute("dynchatStatus", "Status", "string", "Completed or Dropped"),
            Attribute("dynchatTranscript", "Transcript", "text", "The conversation as text"),
            _PAGE,
            Attribute("dynchatConversationScore", "Conversation Score", "integer", "0 to 3"),
            _DIALOGUE_ID,
        ),
    ),
    GOAL: ActivityType(
        GOAL,
        "dynchatReachedDialogueGoal",
        "Reached Dialogue Goal",
        "Reaches a Dialogue Goal",
        "Reached a Dialogue Goal",
        "A person reached a goal card in a chat dialogue.",
        _DIALOGUE,
        (
            Attribute("dynchatGoalName", "Goal Name", "string", "Name of the goal card"),
            Attribute("dynchatConversationScore", "Conversation Score", "integer", "0 to 3"),
            _PAGE,
            _DIALOGUE_ID,
        ),
    ),
    MEETING: ActivityType(
        MEETING,
        "dynchatScheduledMeetingInDialogue",
        "Scheduled Meeting in Dialogue",
        "Schedules a Meeting in a Dialogue",
        "Scheduled a Meeting in a Dialogue",
        "A person booked a meeting in a chat dialogue, or the meeting's status changed.",
        _DIALOGUE,
        (
            Attribute("dynchatAgentName", "Agent", "string", "Who the meeting is with"),
            Attribute("dynchatAgentEmail", "Agent Email", "email", "The agent's e-mail"),
            Attribute("dynchatScheduledFor", "Scheduled For", "datetime", "Start of the meeting"),
            Attribute("dynchatMeetingStatus", "Meeting Status", "string", "Scheduled, …"),
            _PAGE,
            _DIALOGUE_ID,
        ),
    ),
    DOCUMENT: ActivityType(
        DOCUMENT,
        "dynchatInteractedWithDocument",
        "Interacted with Document in Dialogue",
        "Interacts with a Document in a Dialogue",
        "Interacted with a Document in a Dialogue",
        "A person opened or downloaded a document offered in a chat dialogue.",
        _DIALOGUE,
        (
            Attribute("dynchatDocument", "Document", "string", "Title of the document"),
            Attribute("dynchatDocumentUrl", "Document URL", "string", "Where it links to"),
            Attribute("dynchatOpened", "Opened", "boolean", "The visitor opened it"),
            Attribute("dynchatDownloaded", "Downloaded", "boolean", "It is a file"),
            _PAGE,
            _DIALOGUE_ID,
        ),
    ),
}

MEETING_STATUSES = {
    "pending": "Scheduled",
    "scheduled": "Scheduled",
    "rescheduled": "Rescheduled",
    "cancelled": "Cancelled",
    "completed": "Completed",
    "no_show": "No-show",
    "failed": "Failed",
}


# -- setup ----------------------------------------------------------------------------------


def _one(body):
    result = body.get("result") or []
    return result[0] if result else {}


def _setup_error(error, definition):
    if error.code == "1027":
        return SetupError(
            _(
                "Marketo has no room for the custom activity type “%(name)s”: an instance holds "
                "at most 10. Delete an unused custom activity type in Marketo (Admin > Marketo "
                "Custom Activities) and run dynchat_marketo_setup again. (%(error)s)"
            )
            % {"name": definition.name, "error": error}
        )
    if error.code == "1028":
        return SetupError(
            _(
                "Marketo refused the attributes of “%(name)s”: a custom activity type holds at "
                "most 20. Delete unused attributes of %(api)s in Marketo and run "
                "dynchat_marketo_setup again. (%(error)s)"
            )
            % {"name": definition.name, "api": definition.api_name, "error": error}
        )
    return SetupError(
        _("Marketo refused to set up “%(name)s”: %(error)s")
        % {"name": definition.name, "error": error}
    )


def ensure_activity_types(client, *, check=False):
    """Make the four activity types exist, complete and approved in Marketo; idempotent.

    Lists the instance's custom types, creates missing ones (as drafts), adds missing secondary
    attributes, approves drafts and stores a :class:`MarketoActivityType` row per type with
    Marketo's type id. With ``check`` nothing is written, in Marketo or here.

    Returns one ``(key, api_name, actions, status)`` per type, ``actions`` being a list of what
    was (or, with ``check``, would be) done: "created", "attributes: a, b", "approved".
    Raises :class:`SetupError` when Marketo refuses (1027 no room for a type, 1028 too many
    attributes, anything else).
    """
    listed = {
        item.get("apiName"): item
        for item in client.get("/rest/v1/activities/external/types.json").get("result") or []
    }
    report = []
    for definition in TYPES.values():
        base = f"/rest/v1/activities/external/type/{definition.api_name}"
        current = listed.get(definition.api_name)
        actions = []
        try:
            if current is None:
                actions.append("created")
                if check:
                    report.append((definition.key, definition.api_name, actions, "missing"))
                    continue
                current = _one(
                    client.post("/rest/v1/activities/external/type.json", definition.create_body())
                )
            status = current.get("status") or "draft"
            params = {"draft": "true"} if status != "approved" else None
            described = _one(client.get(f"{base}/describe.json", params))
            have = {a.get("apiName") for a in described.get("attributes") or []}
            missing = [a for a in definition.attributes if a.api_name not in have]
            if missing:
                actions.append("attributes: " + ", ".join(a.api_name for a in missing))
                if not check:
                    described = _one(
                        client.post(
                            f"{base}/attributes/create.json",
                            {"attributes": [a.as_marketo() for a in missing]},
                        )
                    )
                    status = described.get("status") or status
            if status != "approved" or (missing and check):
                actions.append("approved")
                if not check:
                    described = _one(client.post(f"{base}/approve.json"))
                    status = described.get("status") or "approved"
        except MarketoError as error:
            raise _setup_error(error, definition) from error
        type_id = described.get("id") or current.get("id")
        if not check:
            MarketoActivityType.objects.update_or_create(
                key=definition.key,
                defaults={
                    "api_name": definition.api_name,
                    "name": definition.name,
                    "type_id": type_id,
                    "status": status,
                },
            )
        report.append((definition.key, definition.api_name, actions, status))
    if not check:
        _forget_types()
    return report


# -- queueing -------------------------------------------------------------------------------

_TYPES_CACHE_KEY = "dynchat:marketo:activity-types"


def _forget_types():
    from django.core.cache import caches

    caches[dynchat_settings.CACHE_ALIAS].delete(_TYPES_CACHE_KEY)


def type_ids():
    """``{key: Marketo type id}`` of the activity types approved in Marketo, cached for a minute:
    asked on every event and every batch sent."""
    from django.core.cache import caches

    cache = caches[dynchat_settings.CACHE_ALIAS]
    ids = cache.get(_TYPES_CACHE_KEY)
    if ids is None:
        ids = dict(
            MarketoActivityType.objects.filter(type_id__isnull=False, status="approved")
            .order_by("key")
            .values_list("key", "type_id")
        )
        cache.set(_TYPES_CACHE_KEY, ids, 60)
    return ids


def set_up_types():
    """Keys of the activity types approved in Marketo."""
    return set(type_ids())


def _now_iso():
    return timezone.now().astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _string(value):
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_STRING else text[: MAX_STRING - 1] + "…"


def _attributes(definition, values):
    """Marketo's ``attributes`` list from ``{api_name: value}``, leaving out empty values and
    cutting strings to their field's length."""
    kinds = {a.api_name: a.data_type for a in definition.attributes}
    attributes = []
    for name, value in values.items():
        if value is None or value == "":
            continue
        if kinds[name] in ("string", "email"):
            value = _string(value)
        attributes.append({"apiName": name, "value": value})
    return attributes


def _json_size(value):
    return len(json.dumps(value, ensure_ascii=False).encode())


def _fit_text(attributes, name, text):
    """Add the text attribute ``name`` with as much of ``text`` as fits in Marketo's limit on
    the attributes' size (the end is cut, marked with an ellipsis)."""
    room = MAX_ATTRIBUTES_BYTES - ATTRIBUTES_MARGIN - _json_size(attributes) - _json_size(name)
    room -= 32  # the new object's keys and punctuation
    if _json_size(text) > room:
        # The longest prefix that fits, JSON escapes and multi-byte characters included.
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if _json_size(text[:middle] + "…") <= room:
                low = middle
            else:
                high = middle - 1
        text = text[:low] + "…"
    if text:
        attributes.append({"apiName": name, "value": text})
    return attributes


def transcript_text(conversation):
    """The conversation as plain text, one line per item (``Bot: …``, ``Visitor: …``)."""
    return "\n".join(transcript.as_lines(conversation.transcript))


def _dialogue_name(conversation):
    dialogue = conversation.dialogue if conversation.dialogue_id else None
    return (dialogue.name if dialogue else "") or _("(deleted dialogue)")


def _queue(key, dedupe_key, person, primary, values, *, text=None):
    """Queue one activity of type ``key`` for ``person`` (an outbox row, in the caller's
    transaction); ``text`` is an optional ``(api_name, long text)`` cut to fit."""
    definition = TYPES[key]
    attributes = _attributes(definition, values)
    if text is not None:
        attributes = _fit_text(attributes, *text)
    payload = {
        "type": key,
        "activityDate": _now_iso(),
        "primaryAttributeValue": _string(primary),
        "attributes": attributes,
    }
    item = outbox.enqueue(OutboxItem.KIND_ACTIVITY, dedupe_key, payload, person=person)
    # A drain of every kind: it sends the lead upsert queued in the same transaction first,
    # so the lead id is known when this row's turn comes.
    outbox.schedule_drain()
    return item


def _wanted(key, person):
    return outbox.is_configured() and person is not None and key in set_up_types()


def queue_engaged(conversation, status):
    """Queue "Engaged with a Dialogue" (``status`` Completed or Dropped) for an engaged
    conversation; at most one per conversation and status. Returns the item or None."""
    person = conversation.person
    if not _wanted(ENGAGED, person) or conversation.engaged_at is None:
        return None
    dedupe_key = f"activity:{ENGAGED}:{conversation.pk}:{status.lower()}"
    if OutboxItem.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    values = {
        "dynchatStatus": status,
        "dynchatPageUrl": conversation.url,
        "dynchatConversationScore": conversation.score,
        "dynchatDialogueId": conversation.dialogue_id,
    }
    return _queue(
        ENGAGED,
        dedupe_key,
        person,
        _dialogue_name(conversation),
        values,
        text=("dynchatTranscript", transcript_text(conversation)),
    )


def _is_file(url):
    """The link is a Wagtail document (served as a file), not a web page."""
    from urllib.parse import urlsplit

    try:
        match = resolve(urlsplit(url).path)
    except (Resolver404, ValueError):
        return False
    return match.url_name in ("wagtaildocs_serve", "wagtaildocs_authenticate_with_password")


def queue_for_events(conversation, events):
    """Queue the activities and program memberships of events just recorded for
    ``conversation`` (called by the conversation service, in the event's transaction)."""
    from . import programs

    if not outbox.is_configured() or not events:
        return
    programs.queue_for_events(conversation, events)
    person = conversation.person
    for event in events:
        data = event.data or {}
        if event.kind == ConversationEvent.COMPLETED:
            queue_engaged(conversation, STATUS_COMPLETED)
        elif event.kind == ConversationEvent.GOAL and _wanted(GOAL, person):
            step = (conversation.state or {}).get("step", 0)
            values = {
                "dynchatGoalName": data.get("name"),
                "dynchatConversationScore": data.get("score"),
                "dynchatPageUrl": conversation.url,
                "dynchatDialogueId": conversation.dialogue_id,
            }
            _queue(
                GOAL,
                f"activity:{GOAL}:{conversation.pk}:{event.card}:{step}",
                person,
                _dialogue_name(conversation),
                values,
            )
        elif event.kind == ConversationEvent.DOCUMENT_OPENED and _wanted(DOCUMENT, person):
            shown = next(
                (
                    item
                    for item in reversed(conversation.transcript or [])
                    if item.get("kind") == "document" and item.get("card") == event.card
                ),
                {},
            )
            url = shown.get("url", "")
            values = {
                "dynchatDocument": shown.get("title", ""),
                "dynchatDocumentUrl": url,
                "dynchatOpened": True,
                "dynchatDownloaded": _is_file(url),
                "dynchatPageUrl": conversation.url,
                "dynchatDialogueId": conversation.dialogue_id,
            }
            _queue(
                DOCUMENT,
                f"activity:{DOCUMENT}:{conversation.pk}:{event.card}:{uuid.uuid4().hex[:12]}",
                person,
                _dialogue_name(conversation),
                values,
            )


def queue_meeting(meeting):
    """Queue "Scheduled Meeting in Dialogue" for a meeting booked in a dialogue, or whose status
    just changed (called in the booking's or the change's transaction)."""
    person = meeting.person
    if meeting.conversation_id is None or not _wanted(MEETING, person):
        return None
    agent = meeting.agent
    dialogue = meeting.dialogue if meeting.dialogue_id else None
    values = {
        "dynchatAgentName": agent.name,
        "dynchatAgentEmail": agent.user.email if agent.user_id else "",
        "dynchatScheduledFor": meeting.starts_at.astimezone(datetime.UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "dynchatMeetingStatus": MEETING_STATUSES.get(meeting.status, meeting.status),
        "dynchatPageUrl": meeting.page_url,
        "dynchatDialogueId": meeting.dialogue_id,
    }
    return _queue(
        MEETING,
        f"activity:{MEETING}:{meeting.pk}:{meeting.status}:{uuid.uuid4().hex[:12]}",
        person,
        (dialogue.name if dialogue else "") or _("(deleted dialogue)"),
        values,
    )


def max_age():
    """Seconds an activity may wait for its person's lead id before it is given up."""
    value = dynchat_settings.MARKETO.get("ACTIVITY_MAX_AGE_SECONDS")
    return float(DEFAULT_MAX_AGE if value in (None, "") else value)


def queue_dropped(now=None, *, limit=1000):
    """Queue "Engaged with a Dialogue" with status Dropped for conversations engaged but idle
    past ``SESSION_IDLE_SECONDS`` without completing; idempotent (one per conversation).

    Looks back ``ACTIVITY_MAX_AGE_SECONDS`` at most. Returns how many were queued.
    """
    if not outbox.is_configured() or ENGAGED not in set_up_types():
        return 0
    now = now or timezone.now()
    idle_since = now - datetime.timedelta(seconds=dynchat_settings.SESSION_IDLE_SECONDS)
    oldest = now - datetime.timedelta(seconds=max_age())
    candidates = list(
        Conversation.objects.filter(
            status=Conversation.STATUS_ACTIVE,
            engaged_at__isnull=False,
            updated_at__lt=idle_since,
            updated_at__gte=oldest,
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)
    )
    queued = 0
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        keys = {pk: f"activity:{ENGAGED}:{pk}:dropped" for pk in chunk}
        sent = set(
            OutboxItem.objects.filter(dedupe_key__in=keys.values()).values_list(
                "dedupe_key", flat=True
            )
        )
        for pk in chunk:
            if keys[pk] in sent:
                continue
            with transaction.atomic():
                conversation = (
                    Conversation.objects.select_for_update(of=("self",))
                    .select_related("person", "dialogue")
                    .filter(pk=pk, status=Conversation.STATUS_ACTIVE, updated_at__lt=idle_since)
                    .first()
                )
                if conversation is not None and queue_engaged(conversation, STATUS_DROPPED):
                    queued += 1
            if queued >= limit:
                return queued
    return queued


@shared_task(acks_late=True)
def queue_dropped_conversations():
    """Celery beat: queue "Dropped" activities for idle engaged conversations."""
    return queue_dropped()


# -- sending --------------------------------------------------------------------------------


@dataclass
class Wait:
    """An item that cannot be sent yet: due again after ``seconds``, or dead past its age."""

    seconds: float
    reason: str


def lead_ids(items, now=None):
    """``{item.pk: lead id or Wait}`` for activity and program items (they need a lead id).

    The lead id is the person's ``marketo_id``, or the id Marketo gave the person's last sent
    lead upsert. A known person without either waits for that upsert (queued if there is none);
    an anonymous one waits to become known. Past ``ACTIVITY_MAX_AGE_SECONDS`` the Wait's
    reason is final (the caller marks the item dead).
    """
    now = now or timezone.now()
    # Plain values, not model instances: this runs for every batch of 300.
    people = {
        pk: (email, marketo_id)
        for pk, email, marketo_id in Person.objects.filter(
            pk__in={item.person_id for item in items if item.person_id}
        ).values_list("pk", "email", "marketo_id")
    }
    unsent = [pk for pk, (email, marketo_id) in people.items() if marketo_id is None and email]
    from_upserts, upserting = {}, set()
    if unsent:
        leads = OutboxItem.objects.filter(kind=OutboxItem.KIND_LEAD, person_id__in=unsent)
        for person_id, marketo_id in (
            leads.filter(status=OutboxItem.STATUS_DONE)
            .exclude(marketo_id="")
            .order_by("pk")
            .values_list("person_id", "marketo_id")
        ):
            from_upserts[person_id] = int(marketo_id)
        upserting = set(
            leads.filter(status__in=[*OutboxItem.WAITING, OutboxItem.STATUS_SENDING]).values_list(
                "person_id", flat=True
            )
        )
    answer = {}
    for item in items:
        email, marketo_id = people.get(item.person_id, (None, None))
        if item.person_id not in people:
            answer[item.pk] = Wait(0, _("The person was deleted; nothing to send."))
        elif marketo_id is not None:
            answer[item.pk] = marketo_id
        elif item.person_id in from_upserts:
            answer[item.pk] = from_upserts[item.person_id]
        elif email:
            if item.person_id not in upserting:
                # Nothing is on its way to Marketo for this person: send their lead first.
                outbox.enqueue_lead(Person.objects.get(pk=item.person_id), ["email"])
                upserting.add(item.person_id)
            answer[item.pk] = Wait(
                WAIT_FOR_LEAD_SECONDS, _("Waiting for the person's lead to be sent to Marketo.")
            )
        else:
            answer[item.pk] = Wait(
                WAIT_FOR_PERSON_SECONDS, _("Waiting for the person to give an e-mail address.")
            )
    return answer


def hold(items_and_waits, now=None):
    """Put waiting items back (due again later, no attempt counted), or give up on those older
    than the maximum age (dead, with the reason)."""
    now = now or timezone.now()
    oldest = now - datetime.timedelta(seconds=max_age())
    for item, wait in items_and_waits:
        if wait.seconds <= 0 or item.created_at < oldest:
            reason = wait.reason
            if wait.seconds > 0:
                reason = _("Gave up after %(days)s days: %(reason)s") % {
                    "days": round(max_age() / 86400, 1),
                    "reason": wait.reason,
                }
            OutboxItem.objects.filter(pk=item.pk).update(
                status=OutboxItem.STATUS_DEAD,
                last_error=reason,
                claim_token="",
                claimed_at=None,
                updated_at=now,
            )
            continue
        OutboxItem.objects.filter(pk=item.pk).update(
            status=OutboxItem.STATUS_PENDING,
            next_attempt_at=now + datetime.timedelta(seconds=wait.seconds),
            last_error=wait.reason,
            claim_token="",
            claimed_at=None,
            updated_at=now,
        )


def mark_done(items):
    """Mark sent items done in one query, whatever their number (the drain's hot path).

    Activities keep no Marketo id: they are write-once records nothing refers to later, and
    storing 300 different ids would cost a query longer than the whole batch's others.
    """
    if not items:
        return
    OutboxItem.objects.filter(pk__in=[item.pk for item in items]).update(
        status=OutboxItem.STATUS_DONE,
        last_error="",
        claim_token="",
        claimed_at=None,
        attempts=F("attempts") + 1,
        updated_at=timezone.now(),
    )


def send_failed(items, error):
    """Record a failed call for ``items`` as the lead sender does: quota → after the daily
    reset, transient → backoff (dead after the maximum attempts), permanent → dead."""
    if isinstance(error, QuotaExceeded):
        logger.warning("Marketo outbox: daily quota exceeded: %s", error)
        tasks._failed(items, str(error), quota=True)
    elif type(error) is MarketoError:
        for item in items:
            tasks._finish(item, OutboxItem.STATUS_DEAD, error=str(error))
    else:
        logger.warning("Marketo outbox: %d items not sent: %s", len(items), error)
        tasks._failed(items, str(error))


def record_reasons(result):
    reasons = "; ".join(f"{r.code}: {r.message}" for r in result.reasons)
    return f"{result.status or 'no status'}: {reasons}" if reasons else result.status


def send_activities(items, client):
    """Send one batch of activity items (≤ 300 per call) and record each record's result:
    ``added`` → done, ``skipped`` → dead with Marketo's reasons.
    Items that cannot be sent yet wait (see :func:`lead_ids`)."""
    now = timezone.now()
    types = type_ids()
    ids = lead_ids(items, now)
    ready, records, waiting = [], [], []
    for item in items:
        lead_id = ids[item.pk]
        type_id = types.get((item.payload or {}).get("type"))
        if isinstance(lead_id, Wait):
            waiting.append((item, lead_id))
        elif type_id is None:
            waiting.append((item, Wait(WAIT_FOR_PERSON_SECONDS, NOT_APPROVED)))
        else:
            payload = item.payload
            ready.append(item)
            records.append(
                {
                    "leadId": lead_id,
                    "activityDate": payload["activityDate"],
                    "activityTypeId": type_id,
                    "primaryAttributeValue": payload["primaryAttributeValue"],
                    "attributes": payload.get("attributes") or [],
                }
            )
    if waiting:
        hold(waiting, now)
    for start in range(0, len(records), MAX_PER_CALL):
        batch, chunk = ready[start : start + MAX_PER_CALL], records[start : start + MAX_PER_CALL]
        try:
            body = client.post("/rest/v1/activities/external.json", {"input": chunk})
            results = _record_results(body.get("result") or [], 0, len(chunk))
        except MarketoError as error:
            send_failed(batch, error)
            continue
        done = []
        for result in results:
            item = batch[result.index]
            if result.status == "added":
                done.append(item)
            else:
                tasks._finish(item, OutboxItem.STATUS_DEAD, error=record_reasons(result))
        mark_done(done)
