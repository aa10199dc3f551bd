"""Offering and booking meetings, and the calendar tasks, against the loopback Google fake.

Celery runs eagerly (tests.settings); the booking's task is enqueued on commit, so the tests
run the commit callbacks. Retries run eagerly too once ``task_eager_propagates`` is off
(integrations.md §5.8).
"""

import datetime

import pytest
from celery import current_app
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import mail

from tests.fakes import fixtures as fakes
from tests.fakes.fixtures import connect_google, connect_microsoft
from wagtail_dynchat.meetings import booking, routing, tasks
from wagtail_dynchat.meetings import tokens as token_store
from wagtail_dynchat.models import Agent, CalendarConnection, Meeting, QueueMember

from .test_routing import NOW, TEN, hold, make_agent, make_queue

# The fakes' fixtures (tests/fakes/fixtures.py), used here.
block_network = fakes.block_network
google_fake = fakes.google_fake
microsoft_fake = fakes.microsoft_fake

UTC = datetime.UTC
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def google(google_fake, settings, block_network):
    """The Google fake, and a key to keep tokens with."""
    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "CALENDAR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    return google_fake


def connect(agent, fake, connect_tokens=connect_google):
    """Connect the agent's calendar through the fake's OAuth round trip."""
    bundle = connect_tokens(fake, agent.user.email)
    CalendarConnection.objects.update_or_create(
        agent=agent,
        defaults={
            "provider": "google" if connect_tokens is connect_google else "microsoft",
            "account": bundle.account,
            "encrypted_tokens": token_store.encrypt(bundle),
            "status": CalendarConnection.CONNECTED,
        },
    )
    agent.refresh_from_db()
    return agent


@pytest.fixture
def team(db, google):
    """Ann and Bob (UTC, weekdays 09:00-12:00 and 13:00-17:00) in a round-robin queue."""
    agents = [connect(make_agent(name, horizon_days=1), google) for name in ("ann", "bob")]
    return make_queue("Sales", agents), agents


@pytest.fixture
def retries_run(monkeypatch):
    """Eager tasks re-run on self.retry() instead of raising celery.exceptions.Retry."""
    monkeypatch.setitem(current_app.conf, "task_eager_propagates", False)


def book(queue, start=TEN, email="visitor@client.example", **kwargs):
    kwargs.setdefault("person", None)
    kwargs.setdefault("facts", {})
    return booking.book(start=start, email=email, queue_id=queue.pk, now=NOW, **kwargs)


def at(hour, minute=0, day=4):
    return datetime.datetime(2030, 3, day, hour, minute, tzinfo=UTC)


# -- offer ----------------------------------------------------------------------------------------


def test_offer_groups_free_times_by_day_in_the_visitors_zone(team, google):
    queue, (ann, bob) = team
    google.add_busy(ann.user.email, at(10), at(11))
    google.add_busy(bob.user.email, at(10), at(11))
    google.add_busy(bob.user.email, at(13), at(17))

    offered = booking.offer(
        queue_id=queue.pk,
        email="",
        person=None,
        facts={},
        visitor_tz="Asia/Tokyo",
        now=NOW,
    )

    # 09:00 UTC is 18:00 in Tokyo; 15:00 UTC is midnight, the next day there.
    assert offered["tz"] == "Asia/Tokyo"
    assert offered["agents"] == 2
    assert offered["days"] == [
        {
            "date": "2030-03-04",
            "times": [
                "2030-03-04T09:00:00Z",
                "2030-03-04T09:30:00Z",
                "2030-03-04T11:00:00Z",
                "2030-03-04T11:30:00Z",
                "2030-03-04T13:00:00Z",
                "2030-03-04T13:30:00Z",
                "2030-03-04T14:00:00Z",
                "2030-03-04T14:30:00Z",
            ],
        },
        {
            "date": "2030-03-05",
            "times": [
                "2030-03-04T15:00:00Z",
                "2030-03-04T15:30:00Z",
                "2030-03-04T16:00:00Z",
                "2030-03-04T16:30:00Z",
            ],
        },
    ]
    # Both calendars in one freeBusy request; the second offer reads the cache.
    calls = google.calls("freebusy.query")
    assert len(calls) == 1
    assert sorted(item["id"] for item in calls[0].body["items"]) == [
        "ann@sales.example",
        "bob@sales.example",
    ]
    booking.offer(
        queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="Asia/Tokyo", now=NOW
    )
    assert len(google.calls("freebusy.query")) == 1


def test_a_calendar_google_cannot_read_is_never_free(team, google):
    queue, (ann, bob) = team
    google.add_calendar(bob.user.email, private=True)  # ann's tokens cannot read it
    CalendarConnection.objects.filter(agent=bob).update(status=CalendarConnection.NEEDS_REAUTH)

    offered = booking.offer(
        queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="UTC", now=NOW
    )
    assert offered["agents"] == 1

    CalendarConnection.objects.filter(agent=bob).update(status=CalendarConnection.CONNECTED)
    google.add_calendar(ann.user.email, private=True)
    offered = booking.offer(
        queue_id=queue.pk,
        email="",
        person=None,
        facts={},
        visitor_tz="UTC",
        now=NOW + HOUR,  # another window: not cached
    )
    # Whoever's tokens asked, the other's private calendar reads as unknown: not offered.
    assert offered["agents"] == 1


# -- book -----------------------------------------------------------------------------------------


def test_book_reserves_and_the_task_creates_the_event_once(
    team, google, django_capture_on_commit_callbacks
):
    queue, (ann, bob) = team
    answers = [["What brings you here?", "Pricing"], ["Team size", "50"]]

    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue, answers=answers, page_url="https://example.org/pricing")

    meeting.refresh_from_db()
    assert meeting.agent == ann  # round robin starts at the top
    assert meeting.status == Meeting.SCHEDULED
    assert meeting.routing_log["step"] == "queue"
    assert meeting.routing_log["chosen"]["id"] == ann.pk
    events = google.events(ann.user.email)
    assert len(events) == 1
    assert events[0]["id"] == meeting.provider_event_id
    assert events[0]["start"]["dateTime"] == "2030-03-04T10:00:00Z"
    assert [a["email"] for a in events[0]["attendees"]] == ["visitor@client.example"]
    # The agent hears about it, with the visitor's answers and the time in their zone.
    (message,) = mail.outbox
    assert message.to == ["ann@sales.example"]
    assert "visitor@client.example" in message.subject
    assert "Team size: 50" in message.body
    assert "UTC" in message.body
    queue.refresh_from_db()
    assert queue.last_agent == ann
    assert QueueMember.objects.get(agent=ann).booked == 1

    # Running the task again creates nothing: the meeting is scheduled already …
    tasks.create_calendar_event.delay(meeting.pk)
    # … and even as if the first run had died before recording the event, Google's 409 on our
    # own event id keeps it to one.
    Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.PENDING, provider_event_id="")
    tasks.create_calendar_event.delay(meeting.pk)
    meeting.refresh_from_db()
    assert meeting.status == Meeting.SCHEDULED
    assert meeting.provider_event_id == events[0]["id"]
    assert len(google.events(ann.user.email)) == 1
    assert len(google.calls("events.insert")) == 2

    # The next booking goes to Bob.
    with django_capture_on_commit_callbacks(execute=True):
        second = book(queue, start=TEN + HOUR)
    assert second.agent == bob


def test_throttled_insert_is_retried_after_retry_after(
    team, google, retries_run, monkeypatch, django_capture_on_commit_callbacks
):
    queue, (ann, _bob) = team
    google.fail("events.insert", 429, retry_after=7)
    countdowns = []
    retry = tasks.create_calendar_event.retry

    def spy(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.create_calendar_event, "retry", spy)

    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue)

    meeting.refresh_from_db()
    assert meeting.status == Meeting.SCHEDULED
    assert countdowns == [7]
    assert [call.status for call in google.calls("events.insert")] == [429, 200]
    assert len(google.events(ann.user.email)) == 1


def test_server_errors_retry_with_backoff_then_fail_and_tell_people(
    team, google, retries_run, monkeypatch, django_capture_on_commit_callbacks
):
    queue, (_ann, _bob) = team
    admin = get_user_model().objects.create_superuser("boss", "boss@sales.example", "x")
    sales = get_user_model().objects.create_user("sam", "sam@sales.example")
    sales.groups.add(Group.objects.get_or_create(name="Sales admin")[0])
    google.fail("events.insert", 503, times=10)
    countdowns = []
    retry = tasks.create_calendar_event.retry

    def spy(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.create_calendar_event, "retry", spy)

    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue)

    meeting.refresh_from_db()
    assert meeting.status == Meeting.FAILED
    assert "503" in meeting.problem
    assert len(google.calls("events.insert")) == 1 + tasks.MAX_RETRIES
    # Exponential backoff with jitter: each wait within [half, whole] of 10 s · 2^n.
    assert len(countdowns) == tasks.MAX_RETRIES
    for n, countdown in enumerate(countdowns):
        assert 5 * 2**n <= countdown <= 10 * 2**n
    message, visitor = mail.outbox
    assert message.to == ["ann@sales.example"]
    assert sorted(message.cc) == [admin.email, sales.email]
    assert "visitor@client.example" in message.subject
    assert "visitor@client.example" in message.body
    assert "March 4, 2030" in message.body
    # The visitor, told "booked" in the chat, hears honestly that no invitation will come.
    assert visitor.to == ["visitor@client.example"]
    assert "could not be put in the calendar" in visitor.body and "Ann" in visitor.body


def test_a_revoked_connection_fails_the_booking_and_leaves_rotation(
    team, google, django_capture_on_commit_callbacks
):
    queue, (ann, _bob) = team
    get_user_model().objects.create_superuser("boss", "boss@sales.example", "x")
    booking.offer(queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="UTC", now=NOW)
    google.revoke_user(ann.user.email)  # after the offer read (and cached) free/busy

    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue)

    meeting.refresh_from_db()
    assert meeting.agent == ann
    assert meeting.status == Meeting.FAILED
    assert meeting.problem
    connection = CalendarConnection.objects.get(agent=ann)
    assert connection.status == CalendarConnection.NEEDS_REAUTH
    assert google.events(ann.user.email) == []
    subjects = [message.subject for message in mail.outbox]
    failed = next(message for message in mail.outbox if "visitor@client.example" in message.subject)
    assert failed.to == ["ann@sales.example"]
    assert failed.cc == ["boss@sales.example"]
    # The booking failed (to Ann and the admins, and to the visitor); the calendar needs signing in
    # again.
    assert len(subjects) == 3
    # Ann is out of rotation: the next booking at that time goes to Bob, even when free/busy is
    # asked again (with Ann's dead tokens first).
    from django.core.cache import cache

    cache.clear()
    assert book(queue, start=TEN).agent.user.username == "bob"


def test_slot_taken_when_the_only_agent_is_booked_then(db, google):
    ann = connect(make_agent("ann", horizon_days=1), google)
    queue = make_queue("Solo", [ann])

    book(queue)
    with pytest.raises(booking.SlotTaken):
        book(queue, email="late@client.example")
    assert Meeting.objects.count() == 1


def test_no_agent_available_when_nobody_is_in_rotation(db, google):
    queue = make_queue("Nobody", [make_agent("ann", connected=False)])

    with pytest.raises(booking.NoAgentAvailable) as raised:
        book(queue)
    assert raised.value.decision.step == "fallback"


def test_a_slot_held_in_the_database_is_rechecked_under_the_lock(team, google):
    queue, (ann, bob) = team
    offered = booking.offer(
        queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="UTC", now=NOW
    )
    assert "2030-03-04T10:00:00Z" in offered["days"][0]["times"]
    hold(ann, TEN)  # booked meanwhile by someone (free/busy in the cache does not know)

    meeting = book(queue)

    assert meeting.agent == bob
    assert meeting.routing_log["chosen"]["id"] == bob.pk


# -- changes --------------------------------------------------------------------------------------


@pytest.fixture
def booked(team, google, django_capture_on_commit_callbacks):
    queue, _agents = team
    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue)
    meeting.refresh_from_db()
    mail.outbox.clear()
    return meeting


def test_cancel_cancels_the_event(booked, google, django_capture_on_commit_callbacks):
    email = booked.agent.user.email
    with django_capture_on_commit_callbacks(execute=True):
        booking.cancel(booked, by=booked.agent.user)

    booked.refresh_from_db()
    assert booked.status == Meeting.CANCELLED
    assert booked.routing_log["history"][-1]["action"] == "cancelled"
    assert booked.routing_log["history"][-1]["by"] == "ann"
    assert google.events(email) == []
    assert google.event(email, booked.provider_event_id)["status"] == "cancelled"
    # The agent is free then again.
    assert routing.agent_freedom(booked.agent, TEN, now=NOW) == (True, None)


def test_reschedule_moves_the_same_event(booked, google, django_capture_on_commit_callbacks):
    event_id = booked.provider_event_id
    with django_capture_on_commit_callbacks(execute=True):
        booking.reschedule(booked, at(14), now=NOW)

    booked.refresh_from_db()
    assert booked.status == Meeting.RESCHEDULED
    assert booked.starts_at == at(14)
    assert booked.ends_at == at(14, 30)
    assert booked.provider_event_id == event_id
    event = google.event(booked.agent.user.email, event_id)
    assert event["start"]["dateTime"] == "2030-03-04T14:00:00Z"

    # Moving by a quarter hour overlaps its own old time: still allowed.
    booking.reschedule(booked, at(14, 15), now=NOW)

    hold(booked.agent, at(15))
    with pytest.raises(booking.SlotTaken):
        booking.reschedule(booked, at(15), now=NOW)


def test_reassign_moves_the_event_to_the_new_agents_calendar(
    booked, google, django_capture_on_commit_callbacks
):
    ann = booked.agent
    bob = Agent.objects.get(user__username="bob")
    old_event = booked.provider_event_id

    with django_capture_on_commit_callbacks(execute=True):
        booking.reassign(booked, bob, now=NOW)

    booked.refresh_from_db()
    assert booked.agent == bob
    assert booked.status == Meeting.SCHEDULED
    assert google.event(ann.user.email, old_event)["status"] == "cancelled"
    (event,) = google.events(bob.user.email)
    assert event["id"] == booked.provider_event_id
    last = booked.routing_log["history"][-1]
    assert (last["action"], last["from"], last["to"]) == ("reassigned", ann.pk, bob.pk)


def test_reassign_refuses_a_busy_agent(booked, google):
    bob = Agent.objects.get(user__username="bob")
    hold(bob, TEN)
    with pytest.raises(booking.SlotTaken):
        booking.reassign(booked, bob, now=NOW)


def test_set_status(booked):
    booking.set_status(booked, Meeting.NO_SHOW)
    booked.refresh_from_db()
    assert booked.status == Meeting.NO_SHOW
    with pytest.raises(ValueError):
        booking.set_status(booked, Meeting.CANCELLED)


def test_free_busy_is_one_request_per_provider_for_many_agents(db, google, microsoft_fake):
    googlers = [connect(make_agent(f"g{n}", horizon_days=1), google) for n in range(3)]
    microsofties = [
        connect(make_agent(f"m{n}", horizon_days=1), microsoft_fake, connect_microsoft)
        for n in range(2)
    ]
    queue = make_queue("Mixed", googlers + microsofties)

    offered = booking.offer(
        queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="UTC", now=NOW
    )
    booking.offer(queue_id=queue.pk, email="", person=None, facts={}, visitor_tz="UTC", now=NOW)

    assert offered["agents"] == 5
    assert len(google.calls("freebusy.query")) == 1
    assert len(microsoft_fake.calls("getSchedule")) == 1


def test_microsoft_booking_is_idempotent_by_transaction_id(
    db, google, microsoft_fake, django_capture_on_commit_callbacks
):
    mo = connect(make_agent("mo", horizon_days=1), microsoft_fake, connect_microsoft)
    queue = make_queue("Outlook", [mo])

    with django_capture_on_commit_callbacks(execute=True):
        meeting = book(queue)

    meeting.refresh_from_db()
    assert meeting.status == Meeting.SCHEDULED
    (event,) = microsoft_fake.events(mo.connection.account)
    assert event["id"] == meeting.provider_event_id
    assert event["transactionId"] == meeting.event_key

    # A retry after a lost answer: Graph hands back the event it created.
    Meeting.objects.filter(pk=meeting.pk).update(status=Meeting.PENDING, provider_event_id="")
    tasks.create_calendar_event.delay(meeting.pk)
    meeting.refresh_from_db()
    assert meeting.provider_event_id == event["id"]
    assert len(microsoft_fake.events(mo.connection.account)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        booking.reschedule(meeting, at(15), now=NOW)
    (event,) = microsoft_fake.events(mo.connection.account)
    assert event["start"]["dateTime"].startswith("2030-03-04T15:00:00")


def test_reschedule_ignores_the_meetings_own_event_in_free_busy(booked, google):
    from django.core.cache import cache

    email = booked.agent.user.email
    google.add_busy(email, at(10, 30), at(11))  # Google merges it with the meeting's own event
    cache.clear()  # free/busy is asked again: 10:00-11:00 busy

    booking.reschedule(booked, at(9, 45), now=NOW)  # overlaps only its own old time
    assert booked.starts_at == at(9, 45)

    cache.clear()
    with pytest.raises(booking.SlotTaken):
        booking.reschedule(booked, at(10, 20), now=NOW)  # runs into the other busy block


def test_pending_meetings_are_sent_to_the_calendar_again(team, google):
    """A booking whose task never ran (the broker was down at commit) is picked up by the beat
    task, and only once it has waited long enough."""
    from django.utils import timezone

    queue, (ann, _bob) = team
    meeting = book(queue)  # the commit callbacks are not run: the task was "lost"
    assert tasks.resend_pending_meetings() == 0
    Meeting.objects.filter(pk=meeting.pk).update(
        updated_at=timezone.now() - tasks.STUCK_AFTER - datetime.timedelta(seconds=1)
    )
    assert tasks.resend_pending_meetings() == 1
    meeting.refresh_from_db()
    assert meeting.status == Meeting.SCHEDULED
    assert len(google.events(ann.user.email)) == 1
    assert tasks.resend_pending_meetings() == 0
