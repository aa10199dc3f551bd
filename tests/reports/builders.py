"""Hand-built conversations, events, meetings and admin users for report tests, at chosen
times."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from wagtail.models import Site

from wagtail_dynchat.engine import flow as flow_reader
from wagtail_dynchat.models import (
    Agent,
    Conversation,
    ConversationEvent,
    Meeting,
    Person,
    Visitor,
)
from wagtail_dynchat.reports.rollup import day_bounds, local_today
from wagtail_dynchat.snapshots import live_snapshot


def days_ago(days, hour=12, minute=0):
    """An aware datetime ``days`` local days before today, at ``hour:minute``."""
    day = local_today() - datetime.timedelta(days=days)
    return day_bounds(day)[0] + datetime.timedelta(hours=hour, minutes=minute)


def card_ids(dialogue):
    """The ids of a dialogue's live cards by type, in flow order: ``{"question": [...]}``."""
    ids = {}
    for branch in flow_reader.branches(live_snapshot(dialogue).flow):
        for card in flow_reader.cards(branch):
            ids.setdefault(flow_reader.card_type(card), []).append(flow_reader.card_id(card))
    return ids


class Story:
    """Builds visitors, conversations of one dialogue and their events."""

    def __init__(self, dialogue, page=None):
        self.dialogue = dialogue
        self.snapshot = live_snapshot(dialogue)
        self.page = page
        self.site = Site.objects.get(is_default_site=True)

    def visitor(self, email=None, *, seen=None):
        person = Person.objects.create(email=email)
        visitor = Visitor.objects.create(person=person)
        if seen is not None:
            Person.objects.filter(pk=person.pk).update(created_at=seen)
            Visitor.objects.filter(pk=visitor.pk).update(created_at=seen, last_seen_at=seen)
        return visitor

    def conversation(
        self,
        visitor,
        *,
        at,
        status=Conversation.STATUS_ACTIVE,
        awaiting=None,
        engaged=False,
        dialogue=None,
        page=None,
    ):
        dialogue = dialogue or self.dialogue
        page = page or self.page
        conversation = Conversation.objects.create(
            dialogue=dialogue,
            snapshot=live_snapshot(dialogue),
            visitor=visitor,
            person=visitor.person,
            site=self.site,
            page_id=page.pk if page else None,
            url="https://example.com/pricing/?utm_source=mail",
            status=status,
            awaiting={"card": awaiting, "kind": "question"} if awaiting else None,
            transcript=[{"kind": "answer", "card": "x", "text": "secret answer"}],
            state={"values": {"email": visitor.person.email}},
            context={"ip.country": "FR"},
        )
        Conversation.objects.filter(pk=conversation.pk).update(
            started_at=at,
            updated_at=at,
            engaged_at=at if engaged else None,
            completed_at=at if status == Conversation.STATUS_COMPLETED else None,
        )
        conversation.refresh_from_db()
        return conversation

    def event(self, conversation, kind, *, at, card="", data=None, session="s1"):
        event = ConversationEvent.objects.create(
            conversation=conversation,
            dialogue_id=conversation.dialogue_id,
            kind=kind,
            card=card,
            data=data or {},
            session=session,
            page_id=conversation.page_id,
        )
        ConversationEvent.objects.filter(pk=event.pk).update(created_at=at)
        return event


def make_user(username, *codenames):
    """A client logged in as an admin user (not a superuser) with the given ``wagtail_dynchat``
    permissions."""
    group = Group.objects.create(name=f"{username} group")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    for codename in codenames:
        group.permissions.add(
            Permission.objects.get(content_type__app_label="wagtail_dynchat", codename=codename)
        )
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "password")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def make_agent(name="ada"):
    """A sales agent (a user with an Agent record)."""
    user = get_user_model().objects.create_user(
        username=name, email=f"{name}@sales.example", first_name=name.title()
    )
    return Agent.objects.create(user=user)


def book(conversation, agent, *, at, status=Meeting.SCHEDULED):
    """A meeting booked in ``conversation`` at ``at``, taking place two days later."""
    meeting = Meeting.objects.create(
        agent=agent,
        person=conversation.person,
        conversation=conversation,
        dialogue=conversation.dialogue,
        email=conversation.person.email or "visitor@client.example",
        starts_at=at + datetime.timedelta(days=2),
        ends_at=at + datetime.timedelta(days=2, minutes=30),
        status=status,
    )
    Meeting.objects.filter(pk=meeting.pk).update(created_at=at)
    return meeting
