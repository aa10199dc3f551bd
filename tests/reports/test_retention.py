"""Retention: what is purged and what is kept at each boundary, in batches, via the task and the
management command."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from wagtail_dynchat.models import (
    Conversation,
    ConversationEvent,
    DailyStats,
    Meeting,
    OutboxItem,
    Person,
    RetentionMark,
    RollupDay,
    Visitor,
)
from wagtail_dynchat.reports import tasks
from wagtail_dynchat.reports.retention import purge_expired
from wagtail_dynchat.reports.rollup import local_today

from .builders import Story, book, make_agent

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def story(simple_dialogue, pages):
    return Story(simple_dialogue, pages["pricing"])


@pytest.fixture
def now():
    return timezone.now()


def test_events_older_than_the_retention_are_purged_records_kept_longer(story, now):
    visitor = story.visitor("kept@client.example")
    conversation = story.conversation(visitor, at=now - 800 * DAY, engaged=True)
    # Written oldest first, as events are: purges walk id ranges bounded by creation times.
    story.event(conversation, "meeting", at=now - 731 * DAY, data={"name": "record_gone"})
    story.event(conversation, "goal", at=now - 730 * DAY - MINUTE, data={"name": "record_gone"})
    story.event(conversation, "goal", at=now - 730 * DAY + MINUTE, data={"name": "record_kept"})
    ages = {
        "old": now - 400 * DAY,
        "expired": now - 90 * DAY - MINUTE,
        "boundary_kept": now - 90 * DAY + MINUTE,
        "fresh": now - 89 * DAY,
    }
    for name, at in ages.items():
        story.event(conversation, "answered", at=at, data={"name": name})
        story.event(conversation, "goal", at=at, data={"name": name})
        story.event(conversation, "meeting", at=at, data={"name": name})

    counts = purge_expired(now=now, batch_size=2)

    left = {(event.kind, event.data["name"]) for event in ConversationEvent.objects.all()}
    assert left == {
        ("answered", "fresh"),
        ("answered", "boundary_kept"),
        *((kind, name) for kind in ("goal", "meeting") for name in ages),
        ("goal", "record_kept"),
    }
    assert counts["events"] == 4  # two records, two answers
    # The known person and their conversation stay: only event-level data went.
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_the_next_purge_starts_where_the_last_stopped(story, now):
    conversation = story.conversation(story.visitor(), at=now, engaged=True)
    for days in (100, 95, 10):
        story.event(conversation, "triggered", at=now - days * DAY, session=f"s{days}")
    purge_expired(now=now, batch_size=1)
    mark = RetentionMark.objects.get(name="events")
    survivor = ConversationEvent.objects.get()
    assert mark.position <= survivor.pk
    # A day later, an event that became 90 days old meanwhile goes too.
    story.event(conversation, "answered", at=now - 89 * DAY - 12 * datetime.timedelta(hours=1))
    assert purge_expired(now=now + DAY)["events"] == 1
    assert ConversationEvent.objects.get() == survivor


def test_anonymous_people_who_never_engaged_are_purged_with_everything_theirs(story, now):
    old = now - 91 * DAY
    gone = story.visitor(seen=old)
    conversation = story.conversation(gone, at=old)
    story.event(conversation, "triggered", at=now - 10 * DAY)
    OutboxItem.objects.create(kind="lead", dedupe_key="x", person=gone.person)

    engaged = story.visitor(seen=old)
    story.conversation(engaged, at=old, engaged=True)
    known = story.visitor("known@client.example", seen=old)
    story.conversation(known, at=old)
    recent = story.visitor(seen=old)
    Visitor.objects.filter(pk=recent.pk).update(last_seen_at=now - 89 * DAY)
    young = story.visitor(seen=now - 89 * DAY)
    lead = story.visitor(seen=old)
    Person.objects.filter(pk=lead.person_id).update(marketo_id=42)

    counts = purge_expired(now=now, batch_size=20)

    assert counts["people"] == 1
    assert not Person.objects.filter(pk=gone.person_id).exists()
    assert not Visitor.objects.filter(pk=gone.pk).exists()
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not ConversationEvent.objects.exists()
    assert OutboxItem.objects.get().person is None
    kept = {engaged.person_id, known.person_id, recent.person_id, young.person_id, lead.person_id}
    assert set(Person.objects.values_list("pk", flat=True)) == kept


def test_rollups_and_meetings_past_their_retention_are_purged(story, now):
    today = local_today(now)
    for days in (729, 730, 731):
        day = today - days * DAY
        DailyStats.objects.create(day=day, triggered=days)
        RollupDay.objects.create(day=day, computed_at=now)
    agent = make_agent()
    conversation = story.conversation(story.visitor("m@client.example"), at=now - 800 * DAY)
    old = book(conversation, agent, at=now - 733 * DAY)
    recent = book(conversation, agent, at=now - 700 * DAY)

    counts = purge_expired(now=now, batch_size=1)

    assert sorted(DailyStats.objects.values_list("triggered", flat=True)) == [729, 730]
    assert RollupDay.objects.count() == 2
    assert counts["rollups"] == 2
    assert list(Meeting.objects.all()) == [recent]
    assert counts["meetings"] == 1
    assert old.pk not in Meeting.objects.values_list("pk", flat=True)


def test_transcripts_are_kept_as_records_then_go_with_their_events(story, now):
    agent = make_agent()
    visitor = story.visitor("long-ago@client.example")
    old = story.conversation(visitor, at=now - 731 * DAY, engaged=True)
    story.event(old, "goal", at=now - 731 * DAY, data={"name": "Lead"})
    meeting = book(old, agent, at=now - 700 * DAY)
    kept = story.conversation(story.visitor(), at=now - 729 * DAY, engaged=True)
    # Started long ago but still going: an event within the retention keeps it.
    going = story.conversation(story.visitor(), at=now - 800 * DAY, engaged=True)
    story.event(going, "answered", at=now - 10 * DAY)

    counts = purge_expired(now=now, batch_size=20)

    assert counts["conversations"] == 1
    assert set(Conversation.objects.all()) == {kept, going}
    assert not ConversationEvent.objects.filter(conversation_id=old.pk).exists()
    # The meeting is a record of its own; it only loses the link to the transcript.
    meeting.refresh_from_db()
    assert meeting.conversation_id is None
    # A known person stays: only anonymous people without engagement are purged.
    assert Person.objects.filter(email="long-ago@client.example").exists()


def test_sent_outbox_items_go_after_the_event_retention_waiting_and_dead_ones_stay(now):
    def item(key, status, sent_days_ago):
        created = OutboxItem.objects.create(
            kind="lead", dedupe_key=key, status=status, payload={"email": f"{key}@client.example"}
        )
        # updated_at is auto_now: set it past save().
        OutboxItem.objects.filter(pk=created.pk).update(updated_at=now - sent_days_ago * DAY)
        return created

    item("sent-long-ago", OutboxItem.STATUS_DONE, 91)
    item("sent-long-ago-too", OutboxItem.STATUS_DONE, 200)
    recent = item("sent-recently", OutboxItem.STATUS_DONE, 89)
    waiting = item("waiting", OutboxItem.STATUS_PENDING, 120)
    dead = item("dead", OutboxItem.STATUS_DEAD, 120)

    counts = purge_expired(now=now, batch_size=1)

    assert counts["outbox"] == 2
    assert set(OutboxItem.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk, dead.pk}


def test_retention_follows_the_settings(story, now, settings):
    settings.WAGTAIL_DYNCHAT = {"EVENT_RETENTION_DAYS": 30, "ROLLUP_RETENTION_DAYS": 60}
    conversation = story.conversation(story.visitor("a@client.example"), at=now)
    story.event(conversation, "triggered", at=now - 31 * DAY)
    story.event(conversation, "engaged", at=now - 29 * DAY)
    DailyStats.objects.create(day=local_today(now) - 61 * DAY)
    assert purge_expired(now=now) == {
        "events": 1,
        "people": 0,
        "rollups": 1,
        "meetings": 0,
        "outbox": 0,
        "conversations": 0,
    }


def test_the_task_and_the_command_purge(story, now):
    conversation = story.conversation(story.visitor("a@client.example"), at=now)
    story.event(conversation, "triggered", at=now - 100 * DAY, session="a")
    story.event(conversation, "triggered", at=now - 100 * DAY, session="b")
    out = io.StringIO()
    call_command("dynchat_purge", stdout=out)
    assert "events: 2 deleted" in out.getvalue()
    story.event(conversation, "triggered", at=now - 100 * DAY, session="c")
    assert tasks.purge_expired.delay().get()["events"] == 1
    assert tasks.purge_expired.acks_late
    # Nothing left to do: a second run deletes nothing.
    assert set(tasks.purge_expired.delay().get().values()) == {0}
