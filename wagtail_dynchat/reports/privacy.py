"""Privacy requests about an e-mail address: export everything known, or erase it.

*Export* gathers the person, their visitors (browsers), conversations with transcripts and
events, meetings and queued Marketo writes into one JSON-ready dict.

*Erase* removes what identifies the person and keeps what reports count: the person and their
visitors are deleted; their conversations and events stay, moved to a fresh anonymous person and
visitor per browser, with transcripts, answers and captured values wiped (events keep their kind,
card, time, and what a report shows: choice values, goal names); meetings keep their time and
agent but lose the e-mail and answers; queued Marketo writes are deleted. Rollups are untouched.

:data:`PERSONAL_MODELS` says how each model that refers to a person, a visitor or a
conversation is handled; a test fails when a model with such a relation is missing from it.
"""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from ..models import Conversation, ConversationEvent, Meeting, OutboxItem, Person, Visitor

#: Every model holding personal data through a person, visitor or conversation, and what erase
#: does with its rows.
PERSONAL_MODELS = {
    "wagtail_dynchat.Person": "deleted",
    "wagtail_dynchat.Visitor": "deleted",
    "wagtail_dynchat.Conversation": "anonymised",
    "wagtail_dynchat.ConversationEvent": "anonymised",
    "wagtail_dynchat.Meeting": "anonymised",
    "wagtail_dynchat.OutboxItem": "deleted",
}

# What an erased event keeps, by kind: nothing typed or captured by the visitor.
_EVENT_KEEPS = {
    ConversationEvent.CAPTURED: ("field", "new"),
    ConversationEvent.GOAL: ("name", "score"),
    ConversationEvent.DOCUMENT: ("title", "url"),
    ConversationEvent.CONDITION: ("matched",),
    ConversationEvent.REJECTED: ("reason",),
}

JSON_ENCODER = DjangoJSONEncoder


def normalise(email):
    """The e-mail as people are stored under it (trimmed, lower case)."""
    return (email or "").strip().lower()


def _person(email):
    return Person.objects.alias(email_lower=Lower("email")).filter(email_lower=email).first()


def _conversations(person):
    if person is None:
        return Conversation.objects.none()
    # A visitor belongs to one person, so the join yields each conversation once.
    return Conversation.objects.filter(Q(person=person) | Q(visitor__person=person))


def _meetings(person, email):
    condition = Q(email__iexact=email)
    if person is not None:
        condition |= Q(person=person)
    return Meeting.objects.filter(condition)


def _outbox(person, email):
    condition = Q(payload__email=email)
    if person is not None:
        condition |= Q(person=person)
    return OutboxItem.objects.filter(condition)


def export(email):
    """Everything known about ``email`` as a JSON-ready dict (``found`` False when nothing)."""
    email = normalise(email)
    person = _person(email)
    conversations = list(
        _conversations(person).select_related("dialogue").order_by("started_at", "pk")
    )
    events = ConversationEvent.objects.filter(conversation__in=conversations).order_by(
        "created_at", "pk"
    )
    by_conversation = {}
    for event in events:
        by_conversation.setdefault(event.conversation_id, []).append(
            {
                "kind": event.kind,
                "card": event.card,
                "data": event.data,
                "session": event.session,
                "page_id": event.page_id,
                "at": event.created_at,
            }
        )
    meetings = list(_meetings(person, email).select_related("agent").order_by("starts_at"))
    outbox = list(_outbox(person, email).order_by("pk"))
    return {
        "email": email,
        "exported_at": timezone.now(),
        "found": bool(person or meetings or outbox),
        "person": _person_data(person) if person else None,
        "visitors": [
            {
                "key": visitor.key,
                "visits": visitor.visits,
                "munchkin_cookie": visitor.munchkin_cookie,
                "first_seen": visitor.created_at,
                "last_seen": visitor.last_seen_at,
            }
            for visitor in (person.visitors.order_by("pk") if person else [])
        ],
        "conversations": [
            {
                "id": conversation.public_id,
                "dialogue": str(conversation.dialogue) if conversation.dialogue else None,
                "status": conversation.status,
                "shown_as": conversation.mode,
                "started_on": conversation.url,
                "page_id": conversation.page_id,
                "context": conversation.context,
                "values": (conversation.state or {}).get("values", {}),
                "score": conversation.score,
                "started": conversation.started_at,
                "engaged": conversation.engaged_at,
                "completed": conversation.completed_at,
                "transcript": conversation.transcript,
                "events": by_conversation.get(conversation.pk, []),
            }
            for conversation in conversations
        ],
        "meetings": [
            {
                "id": meeting.public_id,
                "agent": str(meeting.agent),
                "email": meeting.email,
                "starts_at": meeting.starts_at,
                "ends_at": meeting.ends_at,
                "status": meeting.status,
                "page_url": meeting.page_url,
                "answers": meeting.answers,
                "booked": meeting.created_at,
            }
            for meeting in meetings
        ],
        "marketo_outbox": [
            {
                "kind": item.kind,
                "status": item.status,
                "payload": item.payload,
                "created": item.created_at,
                "marketo_id": item.marketo_id,
            }
            for item in outbox
        ],
    }


def _person_data(person):
    return {
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "phone": person.phone,
        "company": person.company,
        "job_title": person.job_title,
        "attributes": person.attributes,
        "company_record": person.company_record.name if person.company_record else None,
        "marketo_id": person.marketo_id,
        "created": person.created_at,
        "updated": person.updated_at,
    }


def _anonymised(kind, data):
    data = data if isinstance(data, dict) else {}
    if kind == ConversationEvent.ANSWERED:
        # A question's choice is one of the editor's options; free text is the visitor's own.
        keeps = ("value", "label") if "label" in data else ()
    else:
        keeps = _EVENT_KEEPS.get(kind, ())
    return {name: data[name] for name in keeps if name in data}


def erase(email):
    """Erase ``email`` (see the module docstring); returns counts of what was done."""
    email = normalise(email)
    counts = dict.fromkeys(
        ("people", "visitors", "conversations", "events", "meetings", "outbox"), 0
    )
    with transaction.atomic():
        person = _person(email)
        if person is not None:
            person = Person.objects.select_for_update().get(pk=person.pk)
        conversations = list(_conversations(person).select_for_update(of=("self",)))
        stand_ins = {}
        if conversations:
            anonymous = Person.objects.create()
        for conversation in conversations:
            # One anonymous browser per original one keeps "one active conversation per
            # visitor and dialogue" true.
            visitor = stand_ins.get(conversation.visitor_id)
            if visitor is None:
                visitor = stand_ins[conversation.visitor_id] = Visitor.objects.create(
                    person=anonymous
                )
            conversation.person = anonymous
            conversation.visitor = visitor
            conversation.transcript = []
            conversation.state = {}
            conversation.context = {}
            conversation.url = ""
            conversation.save(
                update_fields=["person", "visitor", "transcript", "state", "context", "url"]
            )
            counts["conversations"] += 1
        events = ConversationEvent.objects.filter(conversation__in=conversations)
        for event in events.only("pk", "kind", "data").iterator():
            ConversationEvent.objects.filter(pk=event.pk).update(
                data=_anonymised(event.kind, event.data)
            )
            counts["events"] += 1
        counts["meetings"] = _meetings(person, email).update(
            email="", person=None, answers=[], invitation="", routing_log={}
        )
        counts["outbox"] = _outbox(person, email).delete()[0]
        if person is not None:
            counts["visitors"] = person.visitors.count()
            person.delete()
            counts["people"] = 1
    return counts
