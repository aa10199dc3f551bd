"""The visitor API's protocol as the widget relies on it: shapes, cookies and what each call
creates (see docs/api.md)."""

from django.test import Client

from wagtail_dynchat.models import Conversation, ConversationEvent, Person, Visitor

from .conftest import ChatClient, make_blueprint_dialogue, make_dialogue
from .test_api_errors import API

YEAR = 365 * 24 * 60 * 60
HALF_AN_HOUR = 30 * 60


def test_bootstrap_offers_the_dialogue_without_creating_anything(simple_dialogue, pages):
    """A first look at a page tells the widget what to offer, but leaves no rows and no cookies
    behind: crawlers and one-page visits cost nothing."""
    response = Client().get(API + "bootstrap", {"page": pages["pricing"].pk, "url": "/pricing/"})
    assert response.status_code == 200
    body = response.json()
    assert body["setup"]["lang"] == "en"
    assert {**body, "setup": None} == {
        "dialogue": {
            "id": simple_dialogue.pk,
            "slug": "",
            "title": "Chat with us",
            "teaser": None,
            "triggers": [{"type": "immediately"}],
            "lang": "en",
        },
        "conversation": None,
        "setup": None,
        "consent": None,
    }
    assert not response.cookies
    assert Visitor.objects.count() == 0
    assert Person.objects.count() == 0


def test_bootstrap_without_a_candidate_offers_nothing(simple_dialogue, pages):
    """Pages without a targeted dialogue, unknown pages and calls without a page get nulls."""
    nothing = {"dialogue": None, "conversation": None, "setup": None, "consent": None}
    browser = Client()
    for query in ({"page": pages["contact"].pk}, {"page": 999_999}, {}):
        response = browser.get(API + "bootstrap", query)
        assert response.status_code == 200
        assert response.json() == nothing
    assert Visitor.objects.count() == 0


def test_bootstrap_shows_the_poke_teaser_and_title(pages):
    """The dialogue summary carries the chat title and the poked first question as a teaser."""
    dialogue = make_blueprint_dialogue("book-a-demo", targets=[(pages["pricing"], "page")])
    summary = ChatClient().bootstrap(pages["pricing"]).json()["dialogue"]
    assert summary == {
        "id": dialogue.pk,
        "slug": "",
        "title": "Book a demo",
        "teaser": "Hi there! Would you like to see it in action?",
        "triggers": [{"type": "immediately"}],
        "lang": "en",
    }


def test_start_creates_one_visitor_and_sets_the_identity_cookies(chat, simple_dialogue, pages):
    """The first start identifies the browser with two first-party cookies: HttpOnly,
    SameSite=Lax, path /, a year for the visitor and half an hour for the visit."""
    response = chat.start(simple_dialogue, pages["pricing"])
    assert response.status_code == 201
    assert Visitor.objects.count() == 1
    assert Person.objects.count() == 1
    visitor = Visitor.objects.get()
    assert visitor.visits == 1

    cookies = response.cookies
    assert set(cookies) == {"dynchat_vid", "dynchat_sid"}
    assert cookies["dynchat_vid"].value == visitor.key
    assert cookies["dynchat_sid"].value == visitor.session
    for name, max_age in (("dynchat_vid", YEAR), ("dynchat_sid", HALF_AN_HOUR)):
        cookie = cookies[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert cookie["max-age"] == max_age


def test_every_call_slides_the_visit_cookie(chat, simple_dialogue, pages):
    """Each call (bootstrap included) renews both cookies with the same values, so an active
    visit does not expire; no new visit is counted."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    visitor = Visitor.objects.get()
    for response in (
        chat.bootstrap(pages["pricing"]),
        chat.answer(conversation, 0),
        chat.start(simple_dialogue, pages["pricing"]),
    ):
        assert response.status_code in (200, 204)
        assert response.cookies["dynchat_vid"].value == visitor.key
        assert response.cookies["dynchat_sid"].value == visitor.session
        assert response.cookies["dynchat_sid"]["max-age"] == HALF_AN_HOUR
    visitor.refresh_from_db()
    assert visitor.visits == 1


def test_bootstrap_after_the_visit_expired_starts_no_visit(chat, simple_dialogue, pages):
    """Bootstrap only reads: with the visit cookie gone it sets nothing and counts no visit."""
    chat.start(simple_dialogue, pages["pricing"])
    del chat.client.cookies["dynchat_sid"]
    response = chat.bootstrap(pages["pricing"])
    assert response.status_code == 200
    assert not response.cookies
    assert Visitor.objects.get().visits == 1


def test_conversation_object_has_the_documented_shape(chat, simple_dialogue, pages):
    """Start returns the conversation object of docs/api.md: an unguessable id, the dialogue
    summary, status, step, the transcript and the awaited card."""
    response = chat.start(simple_dialogue, pages["pricing"])
    assert set(response.json()) == {"conversation"}
    conversation = response.json()["conversation"]
    assert set(conversation) == {
        "id",
        "dialogue",
        "status",
        "step",
        "items",
        "awaiting",
        "started",
    }
    assert conversation["started"] == Conversation.objects.get().started_at.isoformat()
    assert len(conversation["id"]) == 22
    assert conversation["dialogue"] == {
        "id": simple_dialogue.pk,
        "slug": "",
        "title": "Chat with us",
        "teaser": None,
        "triggers": [{"type": "immediately"}],
        "lang": "en",
    }
    assert conversation["status"] == "active"
    assert conversation["step"] == 0
    message, question = conversation["items"]
    assert set(message) == {"kind", "card", "html"}
    assert question["kind"] == "question"
    assert question["choices"] == [{"index": 0, "label": "Yes"}, {"index": 1, "label": "No"}]
    assert conversation["awaiting"] == {"card": question["card"], "kind": "question"}


def test_answer_returns_only_the_new_items(chat, simple_dialogue, pages):
    """An answer's ``items`` are what the widget appends; the conversation holds them all."""
    started = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    response = chat.answer(started, 0)
    assert response.status_code == 200
    assert set(response.json()) == {"conversation", "items"}
    new = response.json()["items"]
    assert [item["kind"] for item in new] == ["answer", "capture"]
    assert new[0] == {"kind": "answer", "card": started["awaiting"]["card"], "text": "Yes"}
    capture = new[1]
    assert capture["input"] == "email"
    assert capture["label"] == "Your e-mail?"
    assert capture["required"] is True
    conversation = response.json()["conversation"]
    assert conversation["items"] == started["items"] + new
    assert conversation["step"] == 1
    assert conversation["awaiting"] == {"card": capture["card"], "kind": "capture"}


def test_starting_again_returns_the_same_conversation_untouched(chat, simple_dialogue, pages):
    """Triggering a dialogue the visitor already has open (a reload, another tab) answers 200
    with the same conversation and transcript rather than a fresh one."""
    started = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    answered = chat.answer(started, 0).json()["conversation"]
    again = chat.start(simple_dialogue, pages["pricing"])
    assert again.status_code == 200
    assert again.json()["conversation"] == answered
    assert Conversation.objects.count() == 1


def test_visitor_text_is_returned_as_text_and_tokens_are_escaped(chat, pages):
    """What a visitor types comes back verbatim in ``text`` (the widget inserts it as text),
    and when a message repeats it, it is HTML-escaped."""
    dialogue = make_blueprint_dialogue("book-a-demo", targets=[(pages["pricing"], "page")])
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    conversation = chat.answer(conversation, "ada@example.com").json()["conversation"]
    name = '<img src=x onerror="alert(1)">'
    response = chat.answer(conversation, name).json()
    assert response["items"][0] == {
        "kind": "answer",
        "card": conversation["awaiting"]["card"],
        "text": name,
    }
    response = chat.answer(response["conversation"], None).json()
    closing = response["items"][-2]
    assert closing["kind"] == "message"
    assert "<img" not in closing["html"]
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in closing["html"]


def test_api_needs_no_csrf_token(simple_dialogue, pages):
    """The widget posts without Django's CSRF token (it has none on cached pages); the Origin
    check and JSON-only bodies protect the API instead."""
    chat = ChatClient(Client(enforce_csrf_checks=True))
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    assert chat.answer(conversation, 0).status_code == 200
    assert chat.close(conversation).status_code == 204


def test_close_and_events_answer_no_content(chat, simple_dialogue, pages):
    """Close answers 204 with an empty body and refreshes the cookies."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    response = chat.close(conversation)
    assert response.status_code == 204
    assert response.content == b""
    assert "dynchat_sid" in response.cookies
    assert Conversation.objects.get().events.filter(kind=ConversationEvent.CLOSED).count() == 1


def test_default_limits_are_generous_for_a_real_conversation(chat, pages):
    """A visitor working through a long dialogue normally never meets the rate limits."""
    dialogue = make_dialogue(
        [
            {
                "type": "branch",
                "value": {
                    "key": "start",
                    "name": "Start",
                    "cards": [
                        {
                            "type": "capture",
                            "value": {
                                "input": "text",
                                "prompt": f"<p>Question {number}?</p>",
                                "field": "",
                                "placeholder": "",
                                "options": [],
                                "required": True,
                                "policy": "overwrite",
                                "retry": "",
                                "min": None,
                                "max": None,
                            },
                        }
                        for number in range(25)
                    ],
                },
            }
        ],
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    for number in range(25):
        response = chat.answer(conversation, f"answer {number}")
        assert response.status_code == 200, response.content
        conversation = response.json()["conversation"]
    assert conversation["status"] == "completed"
    assert conversation["step"] == 25
