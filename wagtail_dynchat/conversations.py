"""Conversation services: resolve, start, answer, record and close.

This is where the pure engine meets the database: the engine decides what happens, these
functions persist it (state, transcript, person fields, events) inside one transaction, with the
conversation row locked so that two tabs or a double click cannot record an answer twice.
"""

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from . import engine, targeting
from .conf import dynchat_settings
from .marketo import activities as marketo_activities
from .marketo import mapping as marketo_mapping
from .marketo import outbox as marketo_outbox
from .meetings.chat import InvalidChoice, meeting_card
from .meetings.chat import offer as offer_times
from .meetings.chat import outcome as meeting_outcome
from .models import Conversation, ConversationEvent, Dialogue, Person
from .page_views import all_facts
from .person_fields import COLUMN_FIELDS
from .privacy import policy
from .snapshots import live_snapshot, runtime, runtime_entry
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


IMMEDIATELY = [{"type": "immediately"}]


def dialogue_summary(dialogue_id, snapshot, triggers=None):
    """What the widget shows before the conversation starts: id, slug, title, poke teaser and
    the triggers that show it (see docs/api.md)."""
    return _summary_from_runtime(runtime_entry(dialogue_id, snapshot), triggers)


def _summary_from_runtime(entry, triggers=None):
    return {
        "id": entry["id"],
        "slug": entry["slug"],
        "title": entry["title"] or _("Chat with us"),
        "teaser": entry["teaser"],
        "triggers": IMMEDIATELY if triggers is None else triggers,
        "lang": entry.get("lang"),
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
        "started": conversation.started_at.isoformat() if conversation.started_at else None,
    }


NOTHING = {"dialogue": None, "conversation": None}


def resolve(visitor, view, *, slug=None):
    """The bootstrap answer for a visitor on a page: ``{"dialogue": …, "conversation": …}``.

    An engaged chatbot conversation continues wherever the visitor goes and is never displaced.
    Otherwise the highest-priority live dialogue for the page (or, with ``slug``, the dialogue
    opened by it) whose audience matches and that the visitor has not completed (unless it
    repeats) is offered, with the visitor's unfinished conversation of it when one exists.
    """
    if not targeting.site_enabled(view.site_id):
        return NOTHING
    mine = list(visitor.conversations.order_by("-updated_at")) if visitor is not None else []
    active = [c for c in mine if c.status == Conversation.STATUS_ACTIVE]
    if slug is None:
        engaged = next(
            (c for c in active if c.is_engaged and c.mode != Conversation.MODE_INLINE), None
        )
        if engaged is not None:
            payload = serialise(engaged)
            return {"dialogue": payload["dialogue"], "conversation": payload}
        ids = targeting.candidates(
            view.page, view.url, site_id=view.site_id, locale_id=view.locale_id
        )
    else:
        ids = targeting.by_slug(slug, view.locale_id, view.site_id)
    if not ids:
        return NOTHING

    entries = runtime(ids)
    completed = {c.dialogue_id for c in mine if c.status == Conversation.STATUS_COMPLETED}
    # Inline conversations belong to their embed: the chatbot must not show them a second time.
    unfinished = {
        c.dialogue_id: c
        for c in reversed(active)
        if slug is not None or c.mode != Conversation.MODE_INLINE
    }
    facts = all_facts(visitor.person if visitor else None, view.facts)
    for pk in ids:
        entry = entries.get(pk)
        if entry is None:
            continue
        conversation = unfinished.get(pk)
        if conversation is None and pk in completed and not entry["repeat"]:
            if slug is None:
                continue
            # Opened explicitly (an embed, a link): show how it ended rather than nothing.
            finished = next(c for c in mine if c.dialogue_id == pk)
            payload = serialise(finished)
            return {"dialogue": payload["dialogue"], "conversation": payload}
        # An engaged conversation goes on whatever the audience says now; others must match.
        engaged = conversation is not None and conversation.is_engaged
        if not engaged and not engine.evaluate(entry["audience"], facts):
            continue
        current = conversation is not None and (
            engaged or conversation.snapshot_id == entry["snapshot_id"]
        )
        # Opened dialogues, and dialogues already shown to this visitor (a trigger met in an
        # earlier visit), show at once.
        triggers = IMMEDIATELY if slug or conversation is not None else entry["triggers"]
        return {
            "dialogue": _summary_from_runtime(entry, triggers),
            "conversation": serialise(conversation) if current else None,
        }
    return NOTHING


def start(visitor, session, *, dialogue_id, view, mode=Conversation.MODE_CHATBOT):
    """Start (or return) the visitor's conversation with a dialogue shown on a page.

    ``mode`` is how it is shown: a triggered chatbot, or opened explicitly as a pop-up (link,
    JavaScript API) or inline embed, to which page targeting does not apply (site and locale
    do). Returns ``(conversation, created)``. Records ``triggered`` once per visitor per session.
    A visitor who has not engaged yet is moved onto the dialogue's current live version.
    """
    unavailable = NotFound(_("This chat is not available on this page."))
    if not targeting.site_enabled(view.site_id):
        raise unavailable
    dialogue = Dialogue.objects.filter(pk=dialogue_id, live=True).first()
    if dialogue is None:
        raise unavailable
    if mode != Conversation.MODE_CHATBOT:
        allowed = dialogue.slug and targeting.by_slug(
            dialogue.slug, view.locale_id, view.site_id
        ) == [dialogue.pk]
    else:
        allowed = dialogue.pk in targeting.candidates(
            view.page, view.url, site_id=view.site_id, locale_id=view.locale_id
        )
    if not allowed:
        raise unavailable
    snapshot = live_snapshot(dialogue)
    facts = all_facts(visitor.person, view.facts)

    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("snapshot", "person")
            .filter(visitor=visitor, dialogue=dialogue, status=Conversation.STATUS_ACTIVE)
            .first()
        )
        created = False
        if conversation is None:
            if not engine.evaluate((snapshot.behaviour or {}).get("audience"), facts):
                raise unavailable
            if (
                not (snapshot.behaviour or {}).get("repeat")
                and visitor.conversations.filter(
                    dialogue=dialogue, status=Conversation.STATUS_COMPLETED
                ).exists()
            ):
                raise Conflict(_("You have already completed this chat."))
            conversation = Conversation(
                dialogue=dialogue,
                visitor=visitor,
                person=visitor.person,
                site_id=view.site_id,
                page_id=view.page_id,
                url=view.url[:2048],
                mode=mode,
                context=view.facts,
            )
            created = True
        elif conversation.engaged_at is not None or conversation.snapshot_id == snapshot.pk:
            _record(conversation, session, [engine.Event(ConversationEvent.TRIGGERED, None)])
            return conversation, False

        # New, or not engaged on an older version: (re)start on the live version.
        result = engine.start(snapshot.flow, token_values(visitor.person), facts=facts)
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


def answer(visitor, session, *, public_id, step, card, value, mode=None):
    """Answer the awaited card; returns ``(conversation, new_items)``.

    ``mode`` is how the chat answering is shown. Until the visitor engages, the conversation
    takes it on: a conversation first shown in an embed but answered as the chatbot follows the
    visitor, and one shown as the chatbot but answered in an embed stays in that page.
    """
    with transaction.atomic():
        conversation = _locked(visitor, public_id)
        if mode and conversation.engaged_at is None:
            conversation.mode = mode
        value = _meeting_outcome(conversation, step, card, value)
        result = run_answer(conversation, step=step, card=card, value=value)
        if result.person_updates:
            new_email = _is_new_email(result.person_updates.get("email"))
            person = _update_person(visitor, result.person_updates)
            marketo_outbox.enqueue_lead(person, result.person_updates)
            if person.pk != conversation.person_id:
                # The e-mail belongs to someone we know: the rest of this turn (questions
                # skipped when known, tokens, conditions) must see what we know about them.
                result = run_answer(conversation, step=step, card=card, value=value, person=person)
            conversation.person = person
            _mark_new_email(result.events, new_email)
        apply_result(conversation, result)
        conversation.save()
        _record(conversation, session, result.events)
    return conversation, result.items


_CONVERSATION_PERSON = object()


def run_answer(conversation, *, step, card, value, person=_CONVERSATION_PERSON):
    """Run the engine on an answer, turning its refusals into API errors. Persists nothing.

    ``person`` is whom the answer is about: by default the conversation's person; None (previews)
    for nobody known.
    """
    _answerable(conversation, step)
    if person is _CONVERSATION_PERSON:
        person = conversation.person
    rules = policy(conversation.site_id)
    # Retry messages speak the language of the page the conversation started on.
    language = conversation.context.get("page.language") or translation.get_language()
    try:
        with translation.override(language):
            return engine.answer(
                conversation.snapshot.flow,
                conversation.state,
                card,
                value,
                token_values(person),
                facts=all_facts(person, conversation.context),
                blocked_email_domains=rules.blocked_email_domains,
                blocked_email_message=rules.blocked_email_message,
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


def _answerable(conversation, step):
    if conversation.status != Conversation.STATUS_ACTIVE:
        raise Conflict(_("This conversation has already ended."))
    if conversation.state.get("step", 0) != step:
        raise Conflict(_("This answer was already received."))


def _meeting_outcome(conversation, step, card, value):
    """For an awaited meeting card, book the visitor's choice and return what the engine records
    (see meetings.chat); any other answer passes through unchanged."""
    meeting = meeting_card(conversation, card) if isinstance(card, str) else None
    if meeting is None or (conversation.awaiting or {}).get("card") != card:
        return value
    _answerable(conversation, step)
    language = conversation.context.get("page.language") or translation.get_language()
    person = conversation.person
    try:
        with translation.override(language):
            return meeting_outcome(
                conversation, meeting, value, facts=all_facts(person, conversation.context)
            )
    except InvalidChoice as error:
        raise ConversationError(str(error)) from None


def meeting_offer(visitor, *, public_id, time_zone):
    """The times the awaited meeting card offers (``{"tz", "days": [...]}``)."""
    conversation = _find(visitor, public_id, lock=False)
    card_id = (conversation.awaiting or {}).get("card")
    meeting = meeting_card(conversation, card_id) if card_id else None
    if conversation.status != Conversation.STATUS_ACTIVE or meeting is None:
        raise Conflict(_("This conversation is not waiting for a meeting time."))
    try:
        return offer_times(
            conversation,
            meeting,
            time_zone,
            facts=all_facts(conversation.person, conversation.context),
        )
    except InvalidChoice as error:
        raise ConversationError(str(error)) from None


def token_values(person):
    """The person's values as the engine reads them: its fields, and ``company.<name>`` for
    the company name and mapped company fields (``{{ company.<name> }}`` tokens)."""
    if person is None:
        return {}
    values = dict(person.as_facts())
    if person.company:
        values["company.name"] = person.company
    values.update(marketo_mapping.company_facts(person))
    return values


def _locked(visitor, public_id):
    return _find(visitor, public_id, lock=True)


def _find(visitor, public_id, *, lock):
    """The visitor's conversation ``public_id`` (row-locked with ``lock``), or NotFound."""
    conversations = Conversation.objects.select_related("snapshot", "person")
    if lock:
        conversations = conversations.select_for_update(of=("self",))
    # Ids we never issue are not looked up (PostgreSQL refuses strings holding NUL, for one).
    conversation = (
        conversations.filter(public_id=public_id, visitor=visitor).first()
        if visitor is not None and is_token(public_id)
        else None
    )
    if conversation is None:
        # Unknown, foreign and forged ids look the same, so ids can't be probed.
        raise NotFound(_("This conversation does not exist."))
    return conversation


def _is_new_email(email):
    """Whether nobody has ``email`` yet: capturing it acquires a person (the "People acquired"
    metric counts new e-mails only)."""
    if not email:
        return False
    email = str(email).strip().lower()
    owners = Person.objects.alias(email_lower=Lower("email")).filter(email_lower=email)
    return not owners.exists()


def _mark_new_email(events, new_email):
    """Flag the e-mail capture events of a turn with whether the e-mail was new (``"new"``)."""
    for event in events:
        if event.kind == ConversationEvent.CAPTURED and event.data.get("field") == "email":
            event.data["new"] = new_email


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
    once = {e.kind for e in events if e.kind in ConversationEvent.ONCE_PER_SESSION}
    if once:
        # A repeating dialogue restarted in the same visit is a new conversation, which the
        # database constraint (per conversation) lets through: count per visitor and dialogue.
        counted = set(
            ConversationEvent.objects.filter(
                conversation__visitor_id=conversation.visitor_id,
                dialogue_id=conversation.dialogue_id,
                session=session,
                kind__in=once,
            )
            .exclude(conversation=conversation)
            .values_list("kind", flat=True)
        )
        events = [e for e in events if e.kind not in counted]
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
    # Custom activities and program statuses are queued with the events that earn them.
    marketo_activities.queue_for_events(conversation, events)
