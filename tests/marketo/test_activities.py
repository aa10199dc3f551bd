"""Custom activities (issue 6): the setup command creates and approves the four types in the
loopback Marketo fake; conversations, documents and meetings queue activities in their own
transaction; the drain sends them with the person's lead id, waits for unknown people and
dead-letters what Marketo refuses."""

import datetime
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.conftest import branch, capture, make_dialogue, message
from tests.fakes import fixtures as calendar_fakes
from tests.fakes import marketo as marketo_fakes
from tests.fakes.marketo_activities import MAX_ATTRIBUTES_BYTES
from tests.meetings.test_booking import connect
from tests.meetings.test_meeting_card import EVERY_DAY, google, meeting_card, slots
from tests.meetings.test_routing import make_agent, make_queue
from wagtail_dynchat.marketo import activities, tasks
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import (
    Conversation,
    MarketoActivityType,
    MarketoField,
    OutboxItem,
    Person,
)
from wagtail_dynchat.snippets.blueprints import document

marketo_fake = marketo_fakes.marketo_fake
google_fake = calendar_fakes.google_fake
block_network = calendar_fakes.block_network
__all__ = ["block_network", "google", "google_fake"]  # fixtures used by the meeting test

ENGAGED_API = activities.TYPES["engaged"].api_name
GOAL_API = activities.TYPES["goal"].api_name


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    monkeypatch.setattr(
        tasks, "make_client", lambda: MarketoClient(max_attempts=2, sleep=lambda s: None)
    )


def setup_command(*args):
    out = StringIO()
    call_command("dynchat_marketo_setup", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ready(marketo_fake, db):
    """The fake with our activity types created and approved."""
    setup_command()
    return marketo_fake


def attributes(activity):
    return {a["apiName"]: a["value"] for a in activity["attributes"]}


# -- setup ------------------------------------------------------------------------------------


def test_setup_creates_adds_attributes_approves_and_is_idempotent(marketo_fake, db):
    with pytest.raises(CommandError, match="missing or not approved"):
        setup_command("--check")
    assert not marketo_fake.activity_types and not MarketoActivityType.objects.exists()

    output = setup_command()
    for definition in activities.TYPES.values():
        assert f"{definition.name} ({definition.api_name}): created; attributes:" in output
        stored = marketo_fake.activity_types[definition.api_name]
        assert stored["draft"] is None and stored["approved"]["name"] == definition.name
        assert [a["apiName"] for a in stored["approved"]["attributes"]] == [
            a.api_name for a in definition.attributes
        ]
        row = MarketoActivityType.objects.get(key=definition.key)
        assert (row.api_name, row.status, row.type_id) == (
            definition.api_name,
            "approved",
            stored["id"],
        )
    # Marketo's own list of types now offers them to smart campaigns.
    listed = MarketoClient().get("/rest/v1/activities/types.json")["result"]
    assert {"Engaged with a Dialogue", "Reached Dialogue Goal"} <= {t["name"] for t in listed}

    writes = len(marketo_fake.calls(method="POST"))
    again = setup_command()
    assert again.count("found, nothing to do") == 4
    assert len(marketo_fake.calls(method="POST")) == writes
    assert "All activity types are approved." in setup_command("--check")


def test_setup_finishes_a_type_left_as_a_draft(marketo_fake, db):
    client = MarketoClient()
    client.post("/rest/v1/activities/external/type.json", activities.TYPES["goal"].create_body())
    output = setup_command()
    assert f"({GOAL_API}): attributes: dynchatGoalName" in output
    assert marketo_fake.activity_types[GOAL_API]["approved"] is not None
    assert len(marketo_fake.activity_types) == 4


def test_setup_explains_the_limit_of_ten_types(marketo_fake, db):
    client = MarketoClient()
    for n in range(8):
        client.post(
            "/rest/v1/activities/external/type.json",
            {
                "apiName": f"other{n}",
                "name": f"Other {n}",
                "triggerName": f"Does other {n}",
                "filterName": f"Did other {n}",
                "primaryAttribute": {"apiName": "thing", "name": "Thing"},
            },
        )
    with pytest.raises(CommandError, match="at most 10") as raised:
        setup_command()
    assert "1027" in str(raised.value) and "Marketo Custom Activities" in str(raised.value)
    assert MarketoActivityType.objects.count() == 2


def test_setup_explains_the_limit_of_twenty_attributes(marketo_fake, db):
    client = MarketoClient()
    base = f"/rest/v1/activities/external/type/{ENGAGED_API}"
    client.post("/rest/v1/activities/external/type.json", activities.TYPES["engaged"].create_body())
    client.post(
        f"{base}/attributes/create.json",
        {
            "attributes": [
                {"apiName": f"extra{n}", "name": f"Extra {n}", "dataType": "string"}
                for n in range(18)
            ]
        },
    )
    with pytest.raises(CommandError, match="at most 20") as raised:
        setup_command()
    assert "1028" in str(raised.value)


def test_setup_without_marketo(db):
    with pytest.raises(CommandError, match="not configured"):
        setup_command()


# -- conversations --------------------------------------------------------------------------


SIMPLE = [
    branch(
        "start",
        "Start",
        message("<p>Hello!</p>"),
        capture("email", "<p>Your e-mail?</p>", "email"),
        {"type": "goal", "value": {"name": "Lead", "score": "2"}},
        message("<p>Thanks!</p>"),
    ),
]


@pytest.fixture
def simple(pages):
    return make_dialogue(SIMPLE, name="Simple", targets=[(pages["pricing"], "page")])


def test_a_completed_conversation_sends_goal_and_engaged_activities(
    chat, simple, pages, ready, django_capture_on_commit_callbacks
):
    conversation = chat.start(simple, pages["pricing"], url="http://testserver/pricing/")
    conversation = conversation.json()["conversation"]
    with django_capture_on_commit_callbacks() as callbacks:
        chat.answer(conversation, "Ada@Example.com")
    # Queued in the answer's transaction, with the lead upsert; sent once it commits.
    kinds = sorted(OutboxItem.objects.values_list("kind", flat=True))
    assert kinds == ["activity", "activity", "lead"]
    assert not ready.activities
    for callback in callbacks:
        callback()
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"done"}

    lead_id = next(
        lead["id"] for lead in ready.leads.values() if lead["email"] == "ada@example.com"
    )
    [goal] = ready.activities_of(GOAL_API)
    assert goal["leadId"] == lead_id and goal["primaryAttributeValue"] == "Simple"
    assert attributes(goal)["dynchatGoalName"] == "Lead"
    assert attributes(goal)["dynchatConversationScore"] == 2
    [engaged] = ready.activities_of(ENGAGED_API)
    values = attributes(engaged)
    assert values["dynchatStatus"] == "Completed"
    assert values["dynchatPageUrl"] == "http://testserver/pricing/"
    assert values["dynchatConversationScore"] == 2
    transcript = values["dynchatTranscript"]
    assert transcript.splitlines()[:3] == [
        "Bot: Hello!",
        "Bot: Your e-mail?",
        "Visitor: Ada@Example.com",
    ]


def test_nothing_is_queued_before_the_types_are_set_up(chat, simple, pages, marketo_fake):
    conversation = chat.start(simple, pages["pricing"]).json()["conversation"]
    chat.answer(conversation, "ada@example.com")
    assert list(OutboxItem.objects.values_list("kind", flat=True)) == ["lead"]


def test_a_long_transcript_is_cut_to_fit_marketo(chat, simple, pages, ready):
    chat.start(simple, pages["pricing"])
    conversation = Conversation.objects.select_related("person").get()
    person = conversation.person
    person.email = "long@example.com"
    person.marketo_id = ready.add_lead(email="long@example.com")["id"]
    person.save()
    conversation.engaged_at = timezone.now()
    conversation.transcript = [{"kind": "answer", "text": 'ü"' * 300} for _ in range(200)]
    item = activities.queue_engaged(conversation, activities.STATUS_DROPPED)
    size = len(json.dumps(item.payload["attributes"], ensure_ascii=False).encode())
    assert MAX_ATTRIBUTES_BYTES - 1024 < size <= MAX_ATTRIBUTES_BYTES
    assert attributes(item.payload)["dynchatTranscript"].endswith("…")
    tasks.drain_outbox()
    item.refresh_from_db()
    assert item.status == "done"
    assert attributes(ready.activities[-1])["dynchatStatus"] == "Dropped"


def test_idle_engaged_conversations_are_sent_as_dropped_once(chat, simple, pages, ready):
    conversation = chat.start(simple, pages["pricing"]).json()["conversation"]
    Conversation.objects.update(engaged_at=timezone.now())  # engaged, never finished
    assert activities.queue_dropped() == 0  # not idle yet
    idle = timezone.now() - datetime.timedelta(hours=1)
    Conversation.objects.update(updated_at=idle)
    assert activities.queue_dropped() == 1
    assert activities.queue_dropped() == 0
    item = OutboxItem.objects.get(kind="activity")
    assert attributes(item.payload)["dynchatStatus"] == "Dropped"
    assert item.dedupe_key.endswith(":dropped")
    # The visitor is anonymous: the activity waits for them to become known.
    tasks.drain_outbox()
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("pending", 0)
    assert "e-mail" in item.last_error
    assert conversation["id"]


def test_a_document_opened_in_the_chat_is_an_interaction(
    chat, pages, ready, django_capture_on_commit_callbacks
):
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "",
                capture("email", "<p>Your e-mail?</p>", "email"),
                document("<p>Our guide</p>", "Pricing guide", "https://example.com/guide"),
                capture("text", "<p>Anything else?</p>", "company"),
            )
        ],
        name="Docs",
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        answered = chat.answer(conversation, "doc@example.com").json()
    card = next(item["card"] for item in answered["items"] if item["kind"] == "document")
    with django_capture_on_commit_callbacks(execute=True):
        assert chat.event(answered["conversation"], "document_opened", card).status_code == 204
    [activity] = ready.activities_of(activities.TYPES["document"].api_name)
    assert activity["primaryAttributeValue"] == "Docs"
    values = attributes(activity)
    assert values["dynchatDocument"] == "Pricing guide"
    assert values["dynchatDocumentUrl"] == "https://example.com/guide"
    assert (values["dynchatOpened"], values["dynchatDownloaded"]) == (True, False)


# -- sending --------------------------------------------------------------------------------


def _activity(person, key="goal", **payload):
    return OutboxItem.objects.create(
        kind="activity",
        dedupe_key=f"activity:test:{person.pk}:{OutboxItem.objects.count()}",
        person=person,
        payload={
            "type": key,
            "activityDate": "2026-11-25T10:00:00Z",
            "primaryAttributeValue": "Simple",
            "attributes": [{"apiName": "dynchatGoalName", "value": "Lead"}],
            **payload,
        },
    )


def test_a_known_person_without_a_lead_waits_for_the_upsert(ready):
    person = Person.objects.create(email="wait@example.com")
    item = _activity(person)
    tasks.drain_outbox()
    # A lead upsert was queued for them, and sent by the same drain; the activity waited.
    lead_item = OutboxItem.objects.get(kind="lead")
    assert lead_item.status == "done"
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("pending", 0)
    assert item.next_attempt_at > timezone.now()
    OutboxItem.objects.filter(pk=item.pk).update(next_attempt_at=timezone.now())
    tasks.drain_outbox()
    item.refresh_from_db()
    assert item.status == "done" and item.attempts == 1
    assert ready.activities[-1]["leadId"] == int(lead_item.marketo_id)


def test_an_anonymous_person_waits_then_gives_up(ready):
    person = Person.objects.create()
    item = _activity(person)
    tasks.drain_outbox()
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("pending", 0)
    OutboxItem.objects.filter(pk=item.pk).update(
        next_attempt_at=timezone.now(),
        created_at=timezone.now() - datetime.timedelta(days=8),
    )
    tasks.drain_outbox()
    item.refresh_from_db()
    assert item.status == "dead"
    assert item.last_error.startswith("Gave up after 7.0 days")
    assert not ready.calls("activities.external.add")


def test_marketo_refusals_go_dead_with_reasons(ready):
    gone = Person.objects.create(email="gone@example.com", marketo_id=9999)
    huge = Person.objects.create(email="huge@example.com")
    huge.marketo_id = ready.add_lead(email="huge@example.com")["id"]
    huge.save()
    fine = Person.objects.create(email="fine@example.com")
    fine.marketo_id = ready.add_lead(email="fine@example.com")["id"]
    fine.save()
    unknown_field = _activity(fine, attributes=[{"apiName": "nope", "value": 1}])
    missing_lead = _activity(gone)
    too_big = _activity(
        huge, attributes=[{"apiName": "dynchatGoalName", "value": "x" * MAX_ATTRIBUTES_BYTES}]
    )
    sent = _activity(fine)
    tasks.drain_outbox()
    assert len(ready.calls("activities.external.add")) == 1
    for item, code in ((unknown_field, "1006"), (missing_lead, "1004"), (too_big, "1049")):
        item.refresh_from_db()
        assert item.status == "dead" and f"skipped: {code}" in item.last_error
    sent.refresh_from_db()
    assert sent.status == "done"


def test_a_rate_storm_puts_activities_back(ready):
    person = Person.objects.create(email="a@example.com")
    person.marketo_id = ready.add_lead(email="a@example.com")["id"]
    person.save()
    item = _activity(person)
    ready.fail_code("activities.external.add", 606, times=2)
    tasks.drain_outbox()
    item.refresh_from_db()
    assert (item.status, item.attempts) == ("failed", 1)


# -- meetings -------------------------------------------------------------------------------


def test_a_meeting_booked_in_the_chat_is_an_activity_and_the_agent_reaches_the_lead(
    chat, pages, ready, google, django_capture_on_commit_callbacks
):
    from wagtail_dynchat.marketo import mapping
    from wagtail_dynchat.meetings import booking
    from wagtail_dynchat.models import Meeting

    # The card keeps the agent's name in a person field mapped to a Marketo lead field.
    MarketoField.objects.create(
        object="lead", rest_name="postalCode", name="sales_owner", label="Owner", data_type="string"
    )
    mapping.invalidate()
    ann = connect(
        make_agent("ann", availability=EVERY_DAY, min_notice_hours=0, horizon_days=2), google
    )
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "",
                message("<p>Let's find a time.</p>"),
                meeting_card(make_queue("Sales", [ann]), agent_field="sales_owner"),
            )
        ],
        name="Book",
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    start = slots(chat, conversation).json()["days"][0]["times"][0]
    with django_capture_on_commit_callbacks(execute=True):
        answered = chat.answer(
            conversation, {"start": start, "tz": "Europe/Berlin", "email": "bob@client.example"}
        )
    assert answered.status_code == 200, answered.content
    lead = next(lead for lead in ready.leads.values() if lead["email"] == "bob@client.example")
    assert lead["postalCode"] == ann.name

    meeting_api = activities.TYPES["meeting"].api_name
    [booked] = ready.activities_of(meeting_api)
    assert booked["leadId"] == lead["id"] and booked["primaryAttributeValue"] == "Book"
    values = attributes(booked)
    assert (values["dynchatAgentName"], values["dynchatAgentEmail"]) == (ann.name, ann.user.email)
    assert values["dynchatMeetingStatus"] == "Scheduled"
    assert values["dynchatScheduledFor"] == start.replace("+00:00", "Z")

    # A status changed by an admin is another activity.
    with django_capture_on_commit_callbacks(execute=True):
        booking.set_status(Meeting.objects.get(), Meeting.NO_SHOW)
    statuses = [attributes(a)["dynchatMeetingStatus"] for a in ready.activities_of(meeting_api)]
    assert statuses == ["Scheduled", "No-show"]
