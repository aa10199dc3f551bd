"""Privacy requests: export everything known about an e-mail address, and erase it (events
anonymised, report counts kept), through the services and the management commands."""

import io
import json

import pytest
from django.apps import apps
from django.core import serializers
from django.core.management import CommandError, call_command

from wagtail_dynchat.models import (
    Conversation,
    ConversationEvent,
    DailyStats,
    Meeting,
    OutboxItem,
    Person,
    Visitor,
)
from wagtail_dynchat.reports import privacy
from wagtail_dynchat.reports.metrics import Report, ReportFilters
from wagtail_dynchat.reports.rollup import local_today, rollup_day

from ..conftest import ChatClient
from .builders import book, make_agent

pytestmark = pytest.mark.django_db

EMAIL = "ada@client.example"


def converse(chat, dialogue, page, email):
    conversation = chat.start(dialogue, page).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    response = chat.answer(conversation, email)
    assert response.status_code == 200
    return response.json()["conversation"]


@pytest.fixture
def ada(simple_dialogue, pages):
    """Ada chatted from two browsers, booked a meeting and has Marketo writes queued."""
    laptop, phone = ChatClient(), ChatClient()
    converse(laptop, simple_dialogue, pages["pricing"], "Ada@Client.example")
    # The phone started anonymously and became Ada when she typed her address there too.
    converse(phone, simple_dialogue, pages["pricing"], EMAIL)
    person = Person.objects.get(email=EMAIL)
    person.first_name, person.attributes = "Ada", {"favourite": "tea"}
    person.save()
    conversation = Conversation.objects.filter(person=person).first()
    book(conversation, make_agent(), at=conversation.started_at)
    OutboxItem.objects.create(
        kind="lead",
        dedupe_key="lead:ada",
        person=person,
        payload={"email": EMAIL, "firstName": "Ada"},
    )
    # Queued before she was a person here (a form on another page, say).
    OutboxItem.objects.create(kind="lead", dedupe_key="lead:other", payload={"email": EMAIL})
    return person


@pytest.fixture
def bob(simple_dialogue, pages):
    converse(ChatClient(), simple_dialogue, pages["pricing"], "bob@client.example")
    return Person.objects.get(email="bob@client.example")


def everything_stored():
    """Every row of every model of the app, serialised."""
    config = apps.get_app_config("wagtail_dynchat")
    return "".join(
        serializers.serialize("json", model.objects.all()) for model in config.get_models()
    ).lower()


def test_every_model_holding_personal_data_is_handled():
    personal = {Person, Visitor, Conversation}
    found = set()
    for model in apps.get_app_config("wagtail_dynchat").get_models():
        related = {
            field.related_model
            for field in model._meta.get_fields()
            if field.is_relation and field.concrete and field.related_model is not None
        }
        if model in personal or related & personal:
            found.add(model._meta.label)
    # A new model pointing at a person, a visitor or a conversation must say how a privacy
    # request handles it (reports.privacy.PERSONAL_MODELS), in export and erase.
    assert found == set(privacy.PERSONAL_MODELS)


def test_export_gathers_everything_known(ada, bob):
    data = privacy.export(" ADA@client.example ")
    assert data["found"] is True
    assert data["person"]["email"] == EMAIL
    assert data["person"]["attributes"] == {"favourite": "tea"}
    assert {visitor["key"] for visitor in data["visitors"]} == set(
        Visitor.objects.filter(person=ada).values_list("key", flat=True)
    )
    assert len(data["visitors"]) == 2
    assert len(data["conversations"]) == 2
    for conversation in data["conversations"]:
        assert conversation["transcript"]
        kinds = [event["kind"] for event in conversation["events"]]
        assert kinds[:2] == ["triggered", "engaged"]
        assert "captured" in kinds
    assert [meeting["email"] for meeting in data["meetings"]] == [EMAIL]
    assert len(data["marketo_outbox"]) == 2
    text = json.dumps(data, cls=privacy.JSON_ENCODER)
    assert "bob@client.example" not in text


def test_export_of_an_unknown_address(db):
    data = privacy.export("nobody@client.example")
    assert data["found"] is False
    assert data["person"] is None
    assert data["conversations"] == data["meetings"] == data["marketo_outbox"] == []


def test_erase_leaves_nothing_identifying_and_keeps_the_counts(ada, bob):
    today = local_today()
    rollup_day(today)
    before = Report(ReportFilters.for_preset("today")).totals()
    stored = list(DailyStats.objects.values())
    events = ConversationEvent.objects.count()
    assert EMAIL in everything_stored()

    counts = privacy.erase(EMAIL)

    assert counts == {
        "people": 1,
        "visitors": 2,
        "conversations": 2,
        "events": ConversationEvent.objects.exclude(conversation__person=bob).count(),
        "meetings": 1,
        "outbox": 2,
    }
    assert EMAIL not in everything_stored()
    assert (
        "ada"
        not in json.dumps(
            list(
                Conversation.objects.exclude(person=bob).values(
                    "transcript", "search_text", "state", "context"
                )
            )
        ).lower()
    )
    # Counts are kept: rollups untouched, events still there, and the day rolls up the same.
    assert list(DailyStats.objects.values()) == stored
    assert ConversationEvent.objects.count() == events
    live = Report(ReportFilters.for_preset("today")).totals()
    for name in ("triggered", "engaged", "completed", "people_acquired", "goals_reached"):
        assert live[name] == before[name]
    # Bob is untouched.
    assert privacy.export("bob@client.example")["conversations"][0]["transcript"]
    assert Meeting.objects.get().email == ""


def test_erasing_an_unknown_address_changes_nothing(ada):
    stored = everything_stored()
    assert set(privacy.erase("nobody@client.example").values()) == {0}
    assert everything_stored() == stored


def test_export_command_writes_json(ada, tmp_path):
    out = io.StringIO()
    call_command("dynchat_privacy_export", EMAIL, stdout=out)
    assert json.loads(out.getvalue())["person"]["first_name"] == "Ada"
    target = tmp_path / "ada.json"
    call_command("dynchat_privacy_export", EMAIL, "--output", str(target), stderr=io.StringIO())
    assert json.loads(target.read_text())["email"] == EMAIL
    with pytest.raises(CommandError, match="not an e-mail address"):
        call_command("dynchat_privacy_export", "ada")
    with pytest.raises(CommandError, match="Cannot write"):
        call_command("dynchat_privacy_export", EMAIL, "--output", str(tmp_path / "no" / "x"))


def test_erase_command_asks_first(ada, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="Nothing was erased"):
        call_command("dynchat_privacy_erase", EMAIL)
    assert Person.objects.filter(email=EMAIL).exists()
    out = io.StringIO()
    call_command("dynchat_privacy_erase", EMAIL, "--yes", stdout=out)
    assert "people: 1" in out.getvalue()
    assert not Person.objects.filter(email=EMAIL).exists()
    out = io.StringIO()
    call_command("dynchat_privacy_erase", EMAIL, "--yes", stdout=out)
    assert "Nothing is known" in out.getvalue()
