"""A visitor books a meeting through the chat: the meeting card, its times and the booking, via
the public API, with the agent's calendar on the loopback Google fake."""

import datetime

import pytest

from tests.conftest import ChatClient, branch, make_dialogue, message
from tests.fakes import fixtures as fakes
from wagtail_dynchat.models import Meeting, Person

from .test_booking import connect
from .test_routing import make_agent, make_queue

block_network = fakes.block_network
google_fake = fakes.google_fake

EVERY_DAY = {str(day): [["00:00", "23:30"]] for day in range(7)}


def meeting_card(queue, **fields):
    return {
        "type": "meeting",
        "value": {
            "prompt": "<p>When suits you?</p>",
            "queue": str(queue.pk),
            "invitation": "",
            "online_meeting": True,
            "agent_field": fields.get("agent_field", ""),
            "agent_value": fields.get("agent_value", "name"),
            "fallback": fields.get("fallback", ""),
        },
    }


@pytest.fixture
def booking_dialogue(pages, google, settings):
    """Ann takes meetings any time of day (no notice), in a queue the dialogue's card uses."""
    ann = connect(
        make_agent("ann", availability=EVERY_DAY, min_notice_hours=0, horizon_days=2), google
    )
    queue = make_queue("Sales", [ann])
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "",
                message("<p>Let's find a time.</p>"),
                meeting_card(queue, agent_field="job_title"),
                message("<p>See you then!</p>"),
            )
        ],
        name="Book",
        targets=[(pages["pricing"], "page")],
    )
    return dialogue, ann, google


@pytest.fixture
def google(google_fake, settings, block_network):
    from cryptography.fernet import Fernet

    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "CALENDAR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    return google_fake


def slots(chat, conversation, tz="Europe/Berlin"):
    return chat.client.get(f"/dynchat/api/conversations/{conversation['id']}/slots", {"tz": tz})


def test_a_visitor_books_a_meeting_in_the_chat(
    chat, booking_dialogue, pages, django_capture_on_commit_callbacks
):
    dialogue, ann, fake = booking_dialogue
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    item = conversation["items"][-1]
    assert item == {
        "kind": "meeting",
        "card": conversation["awaiting"]["card"],
        "html": "<p>When suits you?</p>",
        "email": True,
    }
    offered = slots(chat, conversation)
    assert offered.status_code == 200, offered.content
    body = offered.json()
    assert body["tz"] == "Europe/Berlin" and body["days"]
    start = body["days"][0]["times"][0]

    with django_capture_on_commit_callbacks(execute=True):
        answered = chat.answer(
            conversation, {"start": start, "tz": "Europe/Berlin", "email": "Bob@Client.example"}
        )
    assert answered.status_code == 200, answered.content
    items = answered.json()["items"]
    assert [item["kind"] for item in items] == ["answer", "message", "message", "end"]
    assert "(Europe/Berlin)" in items[0]["text"]
    assert ann.name in items[1]["html"]

    meeting = Meeting.objects.get()
    assert meeting.agent == ann and meeting.email == "bob@client.example"
    assert meeting.starts_at == datetime.datetime.fromisoformat(start)
    assert meeting.status == Meeting.SCHEDULED
    assert meeting.conversation.public_id == conversation["id"]
    [event] = fake.events(ann.user.email)
    assert "bob@client.example" in str(event)
    person = Person.objects.get(email="bob@client.example")
    assert person.job_title == ann.name


def test_a_time_taken_meanwhile_asks_again(
    booking_dialogue, pages, django_capture_on_commit_callbacks
):
    dialogue, _ann, _fake = booking_dialogue
    first, second = ChatClient(), ChatClient()
    one = first.start(dialogue, pages["pricing"]).json()["conversation"]
    two = second.start(dialogue, pages["pricing"]).json()["conversation"]
    start = slots(second, two).json()["days"][0]["times"][0]
    choice = {"start": start, "tz": "UTC", "email": "first@client.example"}
    with django_capture_on_commit_callbacks(execute=True):
        assert first.answer(one, choice).status_code == 200
    retry = second.answer(two, {**choice, "email": "second@client.example"}).json()
    assert [item["kind"] for item in retry["items"]] == ["retry"]
    assert retry["conversation"]["awaiting"]["kind"] == "meeting"
    assert Meeting.objects.count() == 1


def test_bad_choices_and_calls_get_readable_errors(chat, booking_dialogue, pages):
    dialogue, _ann, _fake = booking_dialogue
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    assert slots(chat, conversation, tz="Mars/Olympus").json()["error"] == "invalid"
    for value, word in (
        ({"start": "tomorrow", "tz": "UTC", "email": "a@b.example"}, "ISO 8601"),
        ({"start": "2030-01-01T10:00:00+00:00", "tz": "UTC", "email": "nope"}, "e-mail"),
        ({"start": "2030-01-01T10:00:00+00:00", "tz": "Nowhere/City"}, "time zone"),
        ("10:00", "meeting"),
    ):
        answered = chat.answer(conversation, value)
        assert answered.status_code == 400, (value, answered.content)
        assert word in answered.json()["message"]
    assert Meeting.objects.count() == 0


def test_no_free_time_shows_the_fallback(chat, pages, google, block_network):
    ann = connect(make_agent("ann", availability={}, min_notice_hours=0), google)
    queue = make_queue("Empty", [ann])
    dialogue = make_dialogue(
        [branch("start", "", meeting_card(queue, fallback="We will write to you."))],
        name="Book",
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    assert slots(chat, conversation).json()["days"] == []
    done = chat.answer(conversation, {"start": "", "tz": "UTC", "email": "a@client.example"})
    assert done.json()["items"][0]["html"] == "<p>We will write to you.</p>"
    assert done.json()["conversation"]["status"] == "completed"


def test_slots_need_an_awaited_meeting_card(chat, simple_dialogue, pages):
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    assert slots(chat, conversation).status_code == 409
