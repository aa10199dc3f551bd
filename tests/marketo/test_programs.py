"""Program membership (issue 6): a dialogue adds people who engage, reach a goal or complete it
to its Marketo program with the statuses set in its Settings tab, through the outbox, against
the loopback fake's Sync Program Member Status."""

import pytest
from django.utils import timezone

from tests.conftest import branch, capture, make_dialogue, message, question
from tests.fakes import marketo as marketo_fakes
from wagtail_dynchat.marketo import programs, tasks
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import OutboxItem, Person

marketo_fake = marketo_fakes.marketo_fake

STATUSES = ["Not in Program", "Engaged", "Reached Goal", "Completed"]
FLOW = [
    branch(
        "start",
        "Start",
        question("<p>Interested?</p>", [("Yes", "yes", ""), ("No", "no", "")]),
        capture("email", "<p>Your e-mail?</p>", "email"),
        {"type": "goal", "value": {"name": "Lead", "score": "1"}},
        message("<p>Thanks!</p>"),
    ),
]


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    monkeypatch.setattr(
        tasks, "make_client", lambda: MarketoClient(max_attempts=2, sleep=lambda s: None)
    )


@pytest.fixture
def program(marketo_fake):
    marketo_fake.add_program(1001, statuses=STATUSES)
    return marketo_fake


@pytest.fixture
def dialogue(pages):
    dialogue = make_dialogue(FLOW, name="Webinar", targets=[(pages["pricing"], "page")])
    dialogue.marketo_program_id = 1001
    dialogue.marketo_status_engaged = "Engaged"
    dialogue.marketo_status_goal = "Reached Goal"
    dialogue.marketo_status_completed = "Completed"
    dialogue.save()
    return dialogue


def known(fake, email):
    person = Person.objects.create(email=email)
    person.marketo_id = fake.add_lead(email=email)["id"]
    person.save()
    return person


def test_milestones_move_the_person_through_the_program(
    chat, dialogue, pages, program, django_capture_on_commit_callbacks
):
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    with django_capture_on_commit_callbacks(execute=True):
        conversation = chat.answer(conversation, 0).json()["conversation"]
    # Engaged while anonymous: the membership waits for the person to be known.
    item = OutboxItem.objects.get(kind="program_member")
    assert item.payload == {"programId": 1001, "statusName": "Engaged"}
    assert (item.status, item.attempts) == ("pending", 0)
    assert not program.calls("programs.members.status")

    with django_capture_on_commit_callbacks(execute=True):
        chat.answer(conversation, "ada@example.com")
    OutboxItem.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    tasks.drain_outbox()
    rows = OutboxItem.objects.filter(kind="program_member").order_by("pk")
    assert [r.payload["statusName"] for r in rows] == ["Engaged", "Reached Goal", "Completed"]
    assert {r.status for r in rows} == {"done"}
    lead_id = next(
        lead["id"] for lead in program.leads.values() if lead["email"] == "ada@example.com"
    )
    assert program.program_members[1001] == {lead_id: "Completed"}
    calls = program.calls("programs.members.status")
    assert {call.json["statusName"] for call in calls} == {"Engaged", "Reached Goal", "Completed"}


def test_no_program_no_rows(chat, pages, program):
    plain = make_dialogue(FLOW, name="Plain", targets=[(pages["pricing"], "page")])
    conversation = chat.start(plain, pages["pricing"]).json()["conversation"]
    chat.answer(conversation, 0)
    assert not OutboxItem.objects.filter(kind="program_member").exists()


def test_already_in_or_past_the_status_counts_as_done(program, db):
    ada = known(program, "ada@example.com")
    program.program_members[1001][ada.marketo_id] = "Completed"
    item = programs.queue_member(ada, 1001, "Engaged")
    tasks.drain_outbox()
    item.refresh_from_db()
    assert item.status == "done"
    assert program.program_members[1001][ada.marketo_id] == "Completed"


def test_one_call_per_program_and_status_with_at_most_300_leads(program, db):
    program.add_program(2002, statuses=["Member", "Attended"])
    people = [known(program, f"p{n}@example.com") for n in range(305)]
    for person in people:
        programs.queue_member(person, 1001, "Engaged")
    programs.queue_member(people[0], 2002, "Attended")
    items = tasks.claim(OutboxItem.KIND_PROGRAM_MEMBER, limit=400)
    programs.send_program_members(items, MarketoClient())
    calls = program.calls("programs.members.status")
    sizes = sorted((call.path, len(call.json["input"])) for call in calls)
    assert sizes == [
        ("/rest/v1/programs/1001/members/status.json", 5),
        ("/rest/v1/programs/1001/members/status.json", 300),
        ("/rest/v1/programs/2002/members/status.json", 1),
    ]
    assert set(OutboxItem.objects.values_list("status", flat=True)) == {"done"}
    assert len(program.program_members[1001]) == 305


def test_an_unknown_program_kills_only_its_rows(program, db):
    ada = known(program, "ada@example.com")
    lost = programs.queue_member(ada, 4040, "Engaged")
    unknown_status = programs.queue_member(ada, 1001, "Partying")
    good = programs.queue_member(ada, 1001, "Engaged")
    gone = Person.objects.create(email="gone@example.com", marketo_id=777)
    missing_lead = programs.queue_member(gone, 1001, "Engaged")
    tasks.drain_outbox()
    for item, text in (
        (lost, "1013"),
        (unknown_status, "Invalid status name"),
        (missing_lead, "skipped: 1004"),
    ):
        item.refresh_from_db()
        assert item.status == "dead" and text in item.last_error
    good.refresh_from_db()
    assert good.status == "done"


def test_nothing_is_queued_without_marketo(db, settings):
    settings.WAGTAIL_DYNCHAT = {}
    person = Person.objects.create(email="a@example.com")
    assert programs.queue_member(person, 1001, "Engaged") is None
