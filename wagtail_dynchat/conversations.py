"""Conversation services: resolve, start, answer, record and close.

This is where the pure engine meets the database: the engine decides what happens, these
functions persist it (state, transcript, person fields, events) inside one transaction, with the
conversation row locked so that two tabs or a double click cannot record an answer twice.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import engine, targeting
from .conf import dynchat_settings
from .models import Conversation, ConversationEvent, Dialogue, Person
from .person_fields import COLUMN_FIELDS
from .snapshots import live_snapshot
from .visitors import identify_by_email, is_token

# Events the widget reports, and the kind of transcript item they must refer to.
VISITOR_EVENTS = {ConversationEvent.DOCUMENT_OPENED: "document"}


class ConversationError(Exception):
    """A request the services refuse; the API turns it into a 4xx answer."""

    status = 400
    code = "invalid"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class NotFound(ConversationError):
    status = 404
    code = "not_found"


class Conflict(ConversationError):
    status = 409
    code = "conflict"


def dialogue_summary(dialogue_id, snapshot):
    """What the widget shows before the conversation starts: id, title and the poke teaser."""
    return {
        "id": dialogue_id,
        "title": snapshot.title or _("Chat with us"),
        "teaser": engine.teaser(snapshot.flow),
    }


def serialise(conversation):
    """The conversation object of the visitor API (see docs/api.md)."""
    return {
        "id": conversation.public_id,
        "dialogue": dialogue_summary(conversation.dialogue_id, conversation.snapshot),
        "status": conversation.status,
        "step": conversation.state.get("step", 0),
        "items": conversation.transcript,
        "awaiting": conversation.awaiting,
    }


def resolve(visitor, page_id):
    """The bootstrap answer for a visitor on a page: ``{"dialogue": …, "conversation": …}``.

    An engaged conversation continues wherever the visitor goes and is never displaced. Otherwise
    the highest-priority live dialogue targeting the page that the visitor has not completed is
    offered, with the visitor's unfinished conversation of it when one exists on its live version.
    """
    if visitor is not None:
        engaged = (
            visitor.conversations.filter(
                status=Conversation.STATUS_ACTIVE, engaged_at__isnull=False
            )
            .select_related("snapshot", "person")
            .order_by("-updated_at")
            .first()
        )
        if engaged is not None:
            payload = serialise(engaged)
            return {"dialogue": payload["dialogue"], "conversation": payload}

    candidates = targeting.candidates_for_page_id(page_id) if page_id else []
    if not candidates:
        return {"dialogue": None, "conversation": None}
    completed = set()
    if visitor is not None:
        completed = set(
            visitor.conversations.filter(status=Conversation.STATUS_COMPLETED).values_list(
                "dialogue_id", flat=True
            )
        )
    live = {d.pk: d for d in Dialogue.objects.filter(pk__in=candidates, live=True)}
    dialogue = next((live[pk] for pk in candidates if pk in live and pk not in completed), None)
    if dialogue is None:
        return {"dialogue": None, "conversation": None}

    snapshot = live_snapshot(dialogue)
    conversation = None
    if visitor is not None:
        conversation = (
            visitor.conversations.filter(
                dialogue=dialogue, status=Conversation.STATUS_ACTIVE, snapshot=snapshot
            )
            .select_related("snapshot", "person")
            .first()
        )
    return {
        "dialogue": dialogue_summary(dialogue.pk, snapshot),
        "conversation": serialise(conversation) if conversation else None,
    }


def start(visitor, session, *, dialogue_id, page_id, url="", site=None):
    """Start (or return) the visitor's conversation with a dialogue triggered on a page.

    Returns ``(conversation, created)``. Records ``triggered`` once per visitor per session.
    A visitor who has not engaged yet is moved onto the dialogue's current live version.
    """
    dialogue = Dialogue.objects.filter(pk=dialogue_id, live=True).first()
    if dialogue is None or dialogue_id not in targeting.candidates_for_page_id(page_id):
        raise NotFound(_("This chat is not available on this page."))
    snapshot = live_snapshot(dialogue)
    facts = visitor.person.as_facts()

    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("snapshot", "person")
            .filter(visitor=visitor, dialogue=dialogue, status=Conversation.STATUS_ACTIVE)
            .first()
        )
        created = False
        if conversation is None:
            if visitor.conversations.filter(
                dialogue=dialogue, status=Conversation.STATUS_COMPLETED
            ).exists():
                raise Conflict(_("You have already completed this chat."))
            conversation = Conversation(
                dialogue=dialogue,
                visitor=visitor,
                person=visitor.person,
                site=site,
                page_id=page_id,
                url=url[:2048],
            )
            created = True
        elif conversation.engaged_at is not None or conversation.snapshot_id == snapshot.pk:
            _record(conversation, session, [engine.Event(ConversationEvent.TRIGGERED, None)])
            return conversation, False

        # New, or not engaged on an older version: (re)start on the live version.
        result = engine.start(snapshot.flow, facts)
        conversation.snapshot = snapshot
        conversation.transcript = []
        apply_result(conversation, result)
        try:
            with transaction.atomic():
                conversation.save()
        except IntegrityError:
            # Another tab created it between our read and write; theirs wins.
            conversation = Conversation.objects.select_related("snapshot", "person").get(
                visitor=visitor, dialogue=dialogue, status=Conversation.STATUS_ACTIVE
            )
            _record(conversation, session, [engine.Event(ConversationEvent.TRIGGERED, None)])
            return conversation, False
        _record(
            conversation,
            session,
            [engine.Event(ConversationEvent.TRIGGERED, None), *result.events],
        )
    return conversation, created


def answer(visitor, session, *, public_id, step, card, value):
    """Answer the awaited card; returns ``(conversation, new_items)``."""
    with transaction.atomic():
        conversation = _locked(visitor, public_id)
        result = run_answer(conversation, step=step, card=card, value=value)
        if result.person_updates:
            person = _update_person(visitor, result.person_updates)
            if person.pk != conversation.person_id:
                # The e-mail belongs to someone we know: the rest of this turn (questions
                # skipped when known, tokens) must see what we know about them.
                facts = person.as_facts()
                result = run_answer(conversation, step=step, card=card, value=value, facts=facts)
            conversation.person = person
        apply_result(conversation, result)
        conversation.save()
        _record(conversation, session, result.events)
    return conversation, result.items


def run_answer(conversation, *, step, card, value, facts=None):
    """Run the engine on an answer, turning its refusals into API errors. Persists nothing."""
    if conversation.status != Conversation.STATUS_ACTIVE:
        raise Conflict(_("This conversation has already ended."))
    if conversation.state.get("step", 0) != step:
        raise Conflict(_("This answer was already received."))
    if facts is None:
        facts = conversation.person.as_facts()
    try:
        return engine.answer(
            conversation.snapshot.flow,
            conversation.state,
            card,
            value,
            facts,
            max_text_length=dynchat_settings.MAX_ANSWER_LENGTH,
        )
    except engine.NotAwaited:
        raise Conflict(_("This question is not waiting for an answer.")) from None
    except engine.InvalidAnswer as error:
        raise ConversationError(error.message) from None
    except (engine.InvalidState, engine.FlowError):
        raise Conflict(_("This conversation can no longer continue.")) from None


def record_event(visitor, session, *, public_id, kind, card):
    """Record a visitor action the server cannot see, such as opening a document."""
    with transaction.atomic():
        conversation = _locked(visitor, public_id)
        shown_as = VISITOR_EVENTS[kind]
        shown = {item.get("card") for item in conversation.transcript if item["kind"] == shown_as}
        if card not in shown:
            raise NotFound(_("This card was not shown in this conversation."))
        _record(conversation, session, [engine.Event(kind, card)])


def close(visitor, session, *, public_id):
    """The visitor closed the chat window; the conversation stays resumable."""
    with transaction.atomic():
        conversation = _locked(visitor, public_id)
        _record(conversation, session, [engine.Event(ConversationEvent.CLOSED, None)])


def _locked(visitor, public_id):
    # Ids we never issue are not looked up (PostgreSQL refuses strings holding NUL, for one).
    conversation = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("snapshot", "person")
        .filter(public_id=public_id, visitor=visitor)
        .first()
        if visitor is not None and is_token(public_id)
        else None
    )
    if conversation is None:
        # Unknown, foreign and forged ids look the same, so ids can't be probed.
        raise NotFound(_("This conversation does not exist."))
    return conversation


def _update_person(visitor, updates):
    updates = dict(updates)
    person = visitor.person
    if updates.get("email"):
        person = identify_by_email(visitor, updates.pop("email"))
    for name, value in updates.items():
        person.set_field(name, _fit(name, value))
    person.save()
    return person


def _fit(name, value):
    """A value cut to its person column's length: answers may be longer (MAX_ANSWER_LENGTH)."""
    if name in COLUMN_FIELDS and isinstance(value, str):
        return value[: Person._meta.get_field(name).max_length]
    return value


def apply_result(conversation, result):
    """Copy an engine result onto a conversation (state, transcript, status, timestamps)."""
    now = timezone.now()
    conversation.state = result.state
    conversation.awaiting = result.awaiting
    limit = dynchat_settings.MAX_TRANSCRIPT_ITEMS
    conversation.transcript = (conversation.transcript + result.items)[-limit:]
    conversation.status = result.status
    conversation.score = result.state.get("score")
    kinds = {event.kind for event in result.events}
    if ConversationEvent.ENGAGED in kinds and conversation.engaged_at is None:
        conversation.engaged_at = now
    if result.status == Conversation.STATUS_COMPLETED and conversation.completed_at is None:
        conversation.completed_at = now


def _record(conversation, session, events):
    """Append events; the once-per-session kinds are silently skipped when already counted."""
    rows = [
        ConversationEvent(
            conversation=conversation,
            dialogue_id=conversation.dialogue_id,
            kind=event.kind,
            card=event.card or "",
            data=event.data,
            session=session,
            page_id=conversation.page_id,
        )
        for event in events
    ]
    # ignore_conflicts lets the partial unique constraint enforce the counting rules even when
    # two requests race; other kinds never conflict.
    ConversationEvent.objects.bulk_create(rows, ignore_conflicts=True)
