"""Conversations in the admin: a read-only listing with filters and search, and each transcript.

Conversations are made the way visitors make them, through the public API.
"""

import json

import pytest
from django.urls import reverse
from wagtail.test.utils import WagtailTestUtils

from tests.conftest import ChatClient, make_dialogue
from tests.test_admin_dialogues import make_editor, sidebar_menu, submenu
from wagtail_dynchat.models import Conversation, ConversationEvent
from wagtail_dynchat.snippets.blueprints import branch, capture, goal

pytestmark = pytest.mark.django_db

NAMESPACE = "wagtail_dynchat_conversations"
SCRIPT = "<script>alert('hi')</script>"

LEAD_FLOW = [
    branch(
        "start",
        "",
        capture("text", "<p>What's your name?</p>", "first_name", policy="always"),
        capture("email", "<p>And your e-mail?</p>", "email", policy="always"),
        goal("Lead", 2),
    )
]


def url(name, *args):
    return reverse(f"{NAMESPACE}:{name}", args=args)


@pytest.fixture
def conversations(pages, simple_dialogue):
    """Ada completes the lead dialogue (her name is a script tag); Bob only starts the other."""
    lead = make_dialogue(LEAD_FLOW, name="Lead capture", targets=[(pages["contact"], "page")])

    ada = ChatClient()
    conversation = ada.start(lead, pages["contact"]).json()["conversation"]
    conversation = ada.answer(conversation, SCRIPT).json()["conversation"]
    conversation = ada.answer(conversation, "ada@example.com").json()["conversation"]
    assert conversation["status"] == "completed"

    bob = ChatClient()
    assert bob.start(simple_dialogue, pages["pricing"]).status_code == 201

    return {
        "ada": Conversation.objects.get(dialogue=lead),
        "bob": Conversation.objects.get(dialogue=simple_dialogue),
    }


def test_the_listing_shows_conversations_newest_first(admin_client, conversations):
    response = admin_client.get(url("index"))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    rows = [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in soup.select("tbody tr")
    ]
    assert len(rows) == 2
    bob, ada = rows
    assert "Simple" in bob and "Active" in bob
    assert "Lead capture" in ada and "Completed" in ada and "2" in ada
    assert any("ada@example.com" in cell for cell in ada)
    # Each row leads to the conversation's transcript.
    links = {a["href"] for a in soup.select("tbody a[href]")}
    assert {url("inspect", c.pk) for c in conversations.values()} <= links
    # The visitor's name is shown as text, never as markup.
    assert any(cell.startswith(SCRIPT) for cell in ada)
    assert SCRIPT not in response.content.decode()


def test_filters_by_status_and_dialogue(admin_client, conversations):
    ada, bob = conversations["ada"], conversations["bob"]

    def ids(**params):
        response = admin_client.get(url("index"), params)
        assert response.status_code == 200
        return {obj.pk for obj in response.context["object_list"]}

    assert ids() == {ada.pk, bob.pk}
    assert ids(status="completed") == {ada.pk}
    assert ids(status="active") == {bob.pk}
    assert ids(dialogue=bob.dialogue_id) == {bob.pk}
    assert ids(dialogue=ada.dialogue_id, status="active") == set()


def test_a_dialogue_filter_counts_its_translations_together(admin_client, conversations):
    from wagtail.models import Locale

    ada, bob = conversations["ada"], conversations["bob"]
    german = Locale.objects.create(language_code="de")
    translation = bob.dialogue.copy_for_translation(german)
    translation.save()
    translation.save_revision().publish()
    translation.refresh_from_db()
    carl = Conversation.objects.create(
        dialogue=translation,
        snapshot=bob.snapshot,
        visitor=bob.visitor,
        person=bob.person,
    )

    response = admin_client.get(url("index"), {"dialogue": bob.dialogue_id})
    assert {obj.pk for obj in response.context["object_list"]} == {bob.pk, carl.pk}
    # Only source dialogues are offered: the German copy is not a choice of its own.
    choices = response.context["filters"].form.fields["dialogue"].queryset
    assert set(choices) == {ada.dialogue, bob.dialogue}
    soup = WagtailTestUtils.get_soup(response.content)
    assert "German" in soup.select_one("tbody").get_text()


def test_search_by_email(admin_client, conversations):
    response = admin_client.get(url("index"), {"q": "ada@example"})
    assert response.status_code == 200
    assert [obj.pk for obj in response.context["object_list"]] == [conversations["ada"].pk]


def test_inspect_shows_the_transcript_and_events(admin_client, conversations):
    ada = conversations["ada"]
    response = admin_client.get(url("inspect", ada.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert SCRIPT not in content
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in content

    soup = WagtailTestUtils.get_soup(response.content)
    transcript, events = soup.select("table.listing")
    lines = [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in transcript.select("tbody tr")
    ]
    assert lines[0] == ["Bot", "What's your name?"]
    assert lines[1] == ["Visitor", SCRIPT]
    assert lines[2] == ["Bot", "And your e-mail?"]
    assert lines[3] == ["Visitor", "ada@example.com"]

    kinds = [row.select("td")[1].get_text(strip=True) for row in events.select("tbody tr")]
    assert kinds[0] == "Triggered"
    assert {"Engaged", "Captured", "Goal reached", "Completed"} <= set(kinds)
    assert kinds.count("Captured") == 2
    assert len(kinds) == ada.events.count()


def test_no_add_or_edit(admin_client, conversations):
    ada = conversations["ada"]
    response = admin_client.get(url("index"))
    content = response.content.decode()
    assert url("add") not in content
    assert url("edit", ada.pk) not in content

    for response in (admin_client.get(url("add")), admin_client.get(url("edit", ada.pk))):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_home")
    response = admin_client.post(url("edit", ada.pk), {"status": "active"})
    ada.refresh_from_db()
    assert ada.status == Conversation.STATUS_COMPLETED

    inspect = admin_client.get(url("inspect", ada.pk)).content.decode()
    assert url("edit", ada.pk) not in inspect
    assert url("delete", ada.pk) in inspect


def test_delete_removes_the_conversation_and_its_events(admin_client, conversations):
    ada = conversations["ada"]
    assert admin_client.get(url("delete", ada.pk)).status_code == 200
    response = admin_client.post(url("delete", ada.pk))
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=ada.pk).exists()
    assert not ConversationEvent.objects.filter(conversation_id=ada.pk).exists()
    assert Conversation.objects.count() == 1


def test_editors_without_the_view_permission_see_nothing(conversations):
    client = make_editor("outsider")
    home = client.get(reverse("wagtailadmin_home"))
    assert "Conversations" not in json.dumps(sidebar_menu(home))
    for response in (
        client.get(url("index")),
        client.get(url("inspect", conversations["ada"].pk)),
        client.post(url("delete", conversations["ada"].pk)),
    ):
        assert response.status_code == 302
        assert response.url == reverse("wagtailadmin_home")
    assert Conversation.objects.count() == 2


def test_editors_with_the_view_permission_can_read_but_not_delete(conversations):
    client = make_editor("reader", "view", model="conversation")
    home = client.get(reverse("wagtailadmin_home"))
    assert submenu(sidebar_menu(home), "Dynamic Chat") == [("Conversations", url("index"))]
    ada = conversations["ada"]
    assert client.get(url("index")).status_code == 200
    inspect = client.get(url("inspect", ada.pk))
    assert inspect.status_code == 200
    assert url("delete", ada.pk) not in inspect.content.decode()
    response = client.post(url("delete", ada.pk))
    assert response.status_code == 302
    assert Conversation.objects.filter(pk=ada.pk).exists()


# ---- search by what was said, and a person's conversations ---------------------------------------

ORDER_FLOW = [
    branch(
        "start",
        "",
        capture("text", "<p>What would you like to drink?</p>", "job_title", policy="always"),
    )
]


@pytest.fixture
def cafe(pages, conversations):
    """Cleo orders a coffee: her answer is in the transcript only (not in her name or e-mail)."""
    order = make_dialogue(ORDER_FLOW, name="Order", targets=[(pages["blog"], "page")])
    cleo = ChatClient()
    conversation = cleo.start(order, pages["blog"]).json()["conversation"]
    response = cleo.answer(conversation, "Un café crème, s'il vous plaît")
    assert response.json()["conversation"]["status"] == "completed"
    return Conversation.objects.get(dialogue=order)


def found(client, query, **params):
    response = client.get(url("index"), {"q": query, **params})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["object_list"]}


def test_search_by_what_the_visitor_said(admin_client, conversations, cafe):
    assert found(admin_client, "crème") == {cafe.pk}
    assert found(admin_client, "café") == {cafe.pk}
    # Any case, accented letters included, and whatever the stored JSON escapes.
    assert found(admin_client, "CAFÉ CRÈME") == {cafe.pk}
    assert found(admin_client, "s'il vous") == {cafe.pk}
    # Ada typed a script tag as her name: it is found, and listed as text.
    response = admin_client.get(url("index"), {"q": "<script>"})
    assert {obj.pk for obj in response.context["object_list"]} == {conversations["ada"].pk}
    assert SCRIPT not in response.content.decode()


def test_search_by_what_the_bot_said(admin_client, conversations, cafe):
    assert found(admin_client, "to drink") == {cafe.pk}
    assert found(admin_client, "want to hear more") == {conversations["bob"].pk}
    assert found(admin_client, "e-mail?") == {conversations["ada"].pk}


def test_search_ignores_the_transcripts_json(admin_client, conversations, cafe):
    card = cafe.transcript[0]["card"]
    for term in (
        "text",
        "html",
        "kind",
        "answer",
        "capture",
        '"card"',
        card[:12],
        "%%",
        "__",
        "<p>",
    ):
        assert found(admin_client, term) == set(), term
    # One letter searches people only: "a" would be in nearly every transcript.
    assert found(admin_client, "é") == set()


def test_search_by_email_or_name_still_works(admin_client, conversations, cafe):
    assert found(admin_client, "ada@example.com") == {conversations["ada"].pk}
    assert found(admin_client, "ADA@EXAMPLE") == {conversations["ada"].pk}


def test_a_persons_conversations(admin_client, conversations, cafe):
    ada = conversations["ada"]
    response = admin_client.get(url("index"), {"person": ada.person_id})
    assert response.status_code == 200
    assert [obj.pk for obj in response.context["object_list"]] == [ada.pk]
    # The filter shows as a pill naming the person (escaped), which removes it.
    soup = WagtailTestUtils.get_soup(response.content)
    assert "ada@example.com" in soup.select_one("[data-w-active-filter-id]").get_text()
    assert SCRIPT not in response.content.decode()
    # With a search and a filter, both apply.
    assert found(admin_client, "café", person=ada.person_id) == set()
    assert found(admin_client, "café", person=cafe.person_id) == {cafe.pk}


def test_an_unknown_person_is_a_filter_error(admin_client, conversations):
    for value in ("999999", "ada"):
        response = admin_client.get(url("index"), {"person": value})
        assert response.status_code == 200
        assert response.context["filters"].errors["person"]


def test_the_transcript_links_to_the_person(admin_client, conversations):
    ada = conversations["ada"]
    soup = WagtailTestUtils.get_soup(admin_client.get(url("inspect", ada.pk)).content)
    person_url = reverse("wagtail_dynchat_people:inspect", args=[ada.person_id])
    link = soup.select_one(f'a[href="{person_url}"]')
    assert link is not None and "ada@example.com" in link.get_text()
    assert SCRIPT in link.get_text()
    assert admin_client.get(person_url).status_code == 200
    # Without the permission to see people, the person is named but not linked.
    client = make_editor("reader", "view", model="conversation")
    content = client.get(url("inspect", ada.pk)).content.decode()
    assert person_url not in content
    assert "ada@example.com" in content
