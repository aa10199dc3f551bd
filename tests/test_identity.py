"""Visitor identity: a captured e-mail ties the browser to the person who owns it
(``visitors.identify_by_email``), directly and through the visitor API."""

import pytest

from wagtail_dynchat.models import Conversation, Person, Visitor
from wagtail_dynchat.snapshots import live_snapshot
from wagtail_dynchat.visitors import identify_by_email

from .conftest import SIMPLE_FLOW, ChatClient, branch, capture, make_dialogue, message


@pytest.fixture
def dialogue(db):
    return make_dialogue(SIMPLE_FLOW, name="Identity")


def browser(person=None, **person_fields):
    """A visitor (browser) of ``person``, or of a new person with ``person_fields``."""
    person = person or Person.objects.create(**person_fields)
    return Visitor.objects.create(person=person)


def converse(visitor, dialogue, status=Conversation.STATUS_ACTIVE):
    return Conversation.objects.create(
        dialogue=dialogue,
        snapshot=live_snapshot(dialogue),
        visitor=visitor,
        person=visitor.person,
        status=status,
    )


def test_anonymous_visitor_capturing_a_new_email_keeps_their_person(db):
    """Nobody owns the e-mail yet: the visitor's own person takes it, in one spelling."""
    visitor = browser(first_name="Ada")
    person = identify_by_email(visitor, "  Ada@Example.COM ")
    assert person.pk == visitor.person_id
    assert Person.objects.get().email == "ada@example.com"
    assert Person.objects.count() == 1


def test_anonymous_visitor_capturing_a_known_email_is_merged(dialogue):
    """The anonymous person is folded into the known one: visitors and conversations move,
    blank fields are filled from the anonymous person without overwriting known values, and
    the anonymous row disappears."""
    known = Person.objects.create(
        email="ada@example.com", company="Known Co", attributes={"plan": "pro"}
    )
    known_visitor = browser(known)
    known_conversation = converse(known_visitor, dialogue, Conversation.STATUS_COMPLETED)

    anonymous = Person.objects.create(
        first_name="Ada",
        company="Anon Co",
        phone="+44 1234 567890",
        attributes={"plan": "free", "team_size": "11-200"},
    )
    visitor, other_tab = browser(anonymous), browser(anonymous)
    active = converse(visitor, dialogue)
    done = converse(other_tab, dialogue, Conversation.STATUS_COMPLETED)

    person = identify_by_email(visitor, "ada@example.com")

    assert person.pk == known.pk
    assert visitor.person == known
    assert not Person.objects.filter(pk=anonymous.pk).exists()
    assert Person.objects.count() == 1
    known.refresh_from_db()
    assert (known.email, known.first_name, known.company, known.phone) == (
        "ada@example.com",
        "Ada",
        "Known Co",
        "+44 1234 567890",
    )
    assert known.attributes == {"plan": "pro", "team_size": "11-200"}
    assert set(known.visitors.all()) == {known_visitor, visitor, other_tab}
    assert set(known.conversations.all()) == {known_conversation, active, done}


def test_known_visitor_capturing_another_email_moves_the_browser_only(dialogue):
    """A browser already known as Ada that enters Bob's e-mail (a shared computer) now belongs
    to Bob; Ada keeps her data, her other browsers and her finished conversations."""
    ada = Person.objects.create(email="ada@example.com", first_name="Ada", company="Acme")
    shared, adas_laptop = browser(ada), browser(ada)
    finished = converse(shared, dialogue, Conversation.STATUS_COMPLETED)
    ongoing = converse(shared, make_dialogue(SIMPLE_FLOW, name="Other"))
    laptop_conversation = converse(adas_laptop, dialogue)

    bob = identify_by_email(shared, "Bob@Example.com")

    assert bob.pk != ada.pk
    assert (bob.email, bob.first_name, bob.company) == ("bob@example.com", "", "")
    shared.refresh_from_db()
    assert shared.person == bob
    ada.refresh_from_db()
    assert (ada.email, ada.first_name, ada.company) == ("ada@example.com", "Ada", "Acme")
    assert list(ada.visitors.all()) == [adas_laptop]
    assert set(ada.conversations.all()) == {finished, laptop_conversation}
    assert list(bob.conversations.all()) == [ongoing]
    assert Person.objects.count() == 2


def test_known_visitor_capturing_an_existing_persons_email_moves_without_merging(dialogue):
    """Moving to an existing person copies nothing either way and deletes nobody."""
    ada = Person.objects.create(email="ada@example.com", first_name="Ada")
    bob = Person.objects.create(email="bob@example.com", company="Bob Inc")
    shared = browser(ada)
    person = identify_by_email(shared, "BOB@example.com")
    assert person == bob
    ada.refresh_from_db()
    bob.refresh_from_db()
    assert (ada.first_name, ada.company) == ("Ada", "")
    assert (bob.first_name, bob.company) == ("", "Bob Inc")
    assert Visitor.objects.get(pk=shared.pk).person == bob


def test_same_email_in_another_case_changes_nothing(db):
    """Re-entering one's own address in capitals is the same person: no move, no new row."""
    ada = Person.objects.create(email="ada@example.com")
    visitor = browser(ada)
    assert identify_by_email(visitor, "ADA@EXAMPLE.COM ") == ada
    assert Person.objects.count() == 1
    assert Visitor.objects.get().person == ada


def test_email_stored_in_mixed_case_still_identifies_its_owner(db):
    """A person whose address was stored with capitals (imported, typed in the admin) is found
    by the lowercase spelling a visitor's capture produces, instead of a clash."""
    owner = Person.objects.create(email="Ada@Example.com", first_name="Ada")
    visitor = browser(company="Acme")
    assert identify_by_email(visitor, "ada@example.com") == owner
    owner.refresh_from_db()
    assert owner.company == "Acme"
    assert Person.objects.count() == 1

    mixed = browser(owner)
    assert identify_by_email(mixed, "ADA@example.COM") == owner
    assert Person.objects.count() == 1


# -- through the visitor API -------------------------------------------------------------------

RETURNING_FLOW = [
    branch(
        "start",
        "Start",
        capture("text", "<p>Which company?</p>", "company", required=False),
        capture("email", "<p>Your e-mail?</p>", "email"),
        capture("text", "<p>Your first name?</p>", "first_name"),
        message('<p>Welcome, {{ person.first_name|"friend" }}.</p>'),
    )
]


def test_second_browser_of_a_known_person_is_merged_through_the_api(pages):
    """Ada finishes on her laptop; on her phone she types her address in capitals. The phone's
    anonymous person is merged into hers, and the dialogue recognises her at once: it does not
    ask for the first name she gave before and greets her by it."""
    dialogue = make_dialogue(RETURNING_FLOW, targets=[(pages["pricing"], "page")])
    laptop, phone = ChatClient(), ChatClient()
    conversation = laptop.start(dialogue, pages["pricing"]).json()["conversation"]
    conversation = laptop.answer(conversation, None).json()["conversation"]
    conversation = laptop.answer(conversation, "ada@example.com").json()["conversation"]
    laptop.answer(conversation, "Ada")
    ada = Person.objects.get(email="ada@example.com")

    conversation = phone.start(dialogue, pages["pricing"]).json()["conversation"]
    conversation = phone.answer(conversation, "Acme").json()["conversation"]
    response = phone.answer(conversation, "ADA@Example.com").json()

    assert [item["kind"] for item in response["items"]] == ["answer", "message", "end"]
    assert response["items"][1]["html"] == "<p>Welcome, Ada.</p>"
    assert Person.objects.count() == 1
    ada.refresh_from_db()
    assert (ada.first_name, ada.company) == ("Ada", "Acme")
    assert ada.visitors.count() == 2
    assert ada.conversations.count() == 2


def test_two_anonymous_browsers_giving_a_new_email_share_one_person(pages):
    """The first browser to give an address owns it; the second is merged into that person."""
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    for chat in (ChatClient(), ChatClient()):
        conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
        conversation = chat.answer(conversation, 0).json()["conversation"]
        assert chat.answer(conversation, "new@example.com").status_code == 200
    person = Person.objects.get()
    assert person.email == "new@example.com"
    assert person.visitors.count() == 2
    assert set(Conversation.objects.values_list("person", flat=True)) == {person.pk}
