"""Runtime semantics of conversations (design §4), driven through the visitor API: counting
rules, which dialogue a visitor is offered, revisions, events and person fields."""

import copy

import pytest

from wagtail_dynchat.models import Conversation, ConversationEvent, Person, Visitor

from .conftest import (
    SIMPLE_FLOW,
    ChatClient,
    branch,
    capture,
    make_blueprint_dialogue,
    make_dialogue,
    message,
    question,
)
from .test_api_errors import assert_error

TRIGGERED = ConversationEvent.TRIGGERED
ENGAGED = ConversationEvent.ENGAGED
COMPLETED = ConversationEvent.COMPLETED


def document(title, url, html=""):
    return {
        "type": "document",
        "value": {"text": html, "title": title, "document": None, "url": url},
    }


DOCUMENT_FLOW = [
    branch(
        "start",
        "Start",
        message("<p>Here is our price list.</p>"),
        document("Price list", "https://example.com/prices.pdf"),
        question("<p>Was that useful?</p>", [("Yes", "yes", "thanks"), ("More", "more", "more")]),
    ),
    branch("thanks", "Thanks", message("<p>Glad to help.</p>")),
    branch("more", "More", document("Case study", "https://example.com/case.pdf")),
]


def kinds(conversation_id):
    return list(
        ConversationEvent.objects.filter(conversation__public_id=conversation_id).values_list(
            "kind", flat=True
        )
    )


def offered(chat, page):
    """What bootstrap offers this browser on ``page``: (dialogue id, conversation id)."""
    body = chat.bootstrap(page).json()
    return (
        body["dialogue"] and body["dialogue"]["id"],
        body["conversation"] and body["conversation"]["id"],
    )


def new_session(chat):
    """The visitor comes back after the visit cookie expired."""
    del chat.client.cookies["dynchat_sid"]


def republish(dialogue, edit, **fields):
    """Publish a new revision of ``dialogue`` whose raw flow ``edit`` changed in place."""
    flow = copy.deepcopy(list(dialogue.flow.raw_data))
    edit(flow)
    dialogue.flow = flow
    for name, value in fields.items():
        setattr(dialogue, name, value)
    dialogue.save_revision().publish()
    dialogue.refresh_from_db()
    return dialogue


# -- counting rules ----------------------------------------------------------------------------


def test_triggered_is_counted_once_per_visitor_per_session(chat, simple_dialogue, pages):
    """Showing the same dialogue again in one visit counts one trigger; a later visit counts
    another, on the same conversation."""
    first = chat.start(simple_dialogue, pages["pricing"])
    second = chat.start(simple_dialogue, pages["pricing"])
    assert (first.status_code, second.status_code) == (201, 200)
    conversation_id = first.json()["conversation"]["id"]
    assert second.json()["conversation"]["id"] == conversation_id
    assert kinds(conversation_id).count(TRIGGERED) == 1

    new_session(chat)
    third = chat.start(simple_dialogue, pages["pricing"])
    assert third.status_code == 200
    assert third.json()["conversation"]["id"] == conversation_id
    assert chat.start(simple_dialogue, pages["pricing"]).status_code == 200
    triggers = ConversationEvent.objects.filter(kind=TRIGGERED)
    assert triggers.count() == 2
    assert len(set(triggers.values_list("session", flat=True))) == 2
    assert Visitor.objects.get().visits == 2


def test_two_visitors_are_counted_separately(simple_dialogue, pages):
    """Each visitor's trigger counts, even in the same instant."""
    for _ in range(3):
        ChatClient().start(simple_dialogue, pages["pricing"])
    assert ConversationEvent.objects.filter(kind=TRIGGERED).count() == 3
    assert Conversation.objects.count() == 3


def test_engaged_and_completed_are_counted_once(chat, simple_dialogue, pages):
    """The first answer engages, the end completes; neither repeats however the visitor
    continues, and a completed dialogue cannot be started again."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    conversation = chat.answer(conversation, "nope").json()["conversation"]  # retry
    conversation = chat.answer(conversation, "ada@example.com").json()["conversation"]
    assert conversation["status"] == "completed"

    new_session(chat)
    assert_error(chat.start(simple_dialogue, pages["pricing"]), 409, "conflict")
    events = kinds(conversation["id"])
    assert events.count(TRIGGERED) == 1
    assert events.count(ENGAGED) == 1
    assert events.count(COMPLETED) == 1
    assert events.count(ConversationEvent.ANSWERED) == 2
    assert events.count(ConversationEvent.REJECTED) == 1
    stored = Conversation.objects.get()
    assert stored.engaged_at is not None and stored.completed_at is not None
    assert stored.engaged_at <= stored.completed_at


def test_completed_dialogue_is_not_offered_again(chat, simple_dialogue, pages):
    """After finishing a dialogue the visitor is offered the next candidate, or nothing."""
    fallback = make_dialogue(
        SIMPLE_FLOW, name="Fallback", priority=10, targets=[(pages["pricing"], "page")]
    )
    assert offered(chat, pages["pricing"]) == (simple_dialogue.pk, None)
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    chat.answer(conversation, 1)  # "No" ends the dialogue
    assert offered(chat, pages["pricing"]) == (fallback.pk, None)

    conversation = chat.start(fallback, pages["pricing"]).json()["conversation"]
    chat.answer(conversation, 1)
    assert offered(chat, pages["pricing"]) == (None, None)
    new_session(chat)
    assert offered(chat, pages["pricing"]) == (None, None)


# -- which dialogue is offered -----------------------------------------------------------------


def test_priority_decides_among_dialogues_on_a_page(pages):
    """The highest priority wins; equal priorities go to the older dialogue; a section-wide
    dialogue competes with a page's own."""
    low = make_dialogue(SIMPLE_FLOW, name="Low", priority=10, targets=[(pages["blog"], "page")])
    high = make_dialogue(SIMPLE_FLOW, name="High", priority=90, targets=[(pages["blog"], "page")])
    tie = make_dialogue(SIMPLE_FLOW, name="Tie", priority=90, targets=[(pages["blog"], "page")])
    section = make_dialogue(
        SIMPLE_FLOW, name="Section", priority=95, targets=[(pages["home"], "descendants")]
    )
    chat = ChatClient()
    assert offered(chat, pages["blog"]) == (section.pk, None)
    section.unpublish()
    assert offered(chat, pages["blog"]) == (high.pk, None)
    high.unpublish()
    assert offered(chat, pages["blog"]) == (tie.pk, None)
    tie.unpublish()
    assert offered(chat, pages["blog"]) == (low.pk, None)


def test_engaged_conversation_follows_the_visitor_and_is_not_displaced(chat, pages):
    """Once a visitor answered, their conversation is what every page shows, even where a
    higher-priority dialogue targets the page."""
    mine = make_dialogue(
        SIMPLE_FLOW, name="Mine", priority=10, targets=[(pages["pricing"], "page")]
    )
    make_dialogue(SIMPLE_FLOW, name="Contact", priority=99, targets=[(pages["contact"], "page")])
    conversation = chat.start(mine, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]

    make_dialogue(SIMPLE_FLOW, name="Urgent", priority=100, targets=[(pages["pricing"], "page")])
    for page in (pages["pricing"], pages["contact"], pages["home"]):
        body = chat.bootstrap(page).json()
        assert body["dialogue"]["id"] == mine.pk
        assert body["conversation"] == conversation


def test_triggered_but_not_engaged_conversation_yields_to_priority(chat, pages):
    """A dialogue the visitor only saw does not follow them: a page offers its own dialogue."""
    mine = make_dialogue(
        SIMPLE_FLOW, name="Mine", priority=10, targets=[(pages["pricing"], "page")]
    )
    chat.start(mine, pages["pricing"])
    assert offered(chat, pages["contact"]) == (None, None)
    urgent = make_dialogue(
        SIMPLE_FLOW, name="Urgent", priority=100, targets=[(pages["pricing"], "page")]
    )
    assert offered(chat, pages["pricing"]) == (urgent.pk, None)


def test_unfinished_conversation_is_returned_with_its_dialogue(chat, simple_dialogue, pages):
    """A visitor who saw a dialogue but did not answer finds it again on a reload."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    assert offered(chat, pages["pricing"]) == (simple_dialogue.pk, conversation["id"])


# -- unpublishing and republishing -------------------------------------------------------------


def test_unpublishing_lets_engaged_visitors_finish(pages):
    """A visitor mid-conversation keeps it when the editor unpublishes; others move on to the
    next candidate, or nothing."""
    withdrawn = make_dialogue(SIMPLE_FLOW, name="Withdrawn", targets=[(pages["pricing"], "page")])
    engaged, onlooker, newcomer = ChatClient(), ChatClient(), ChatClient()
    conversation = engaged.start(withdrawn, pages["pricing"]).json()["conversation"]
    conversation = engaged.answer(conversation, 0).json()["conversation"]
    onlooker.start(withdrawn, pages["pricing"])

    withdrawn.unpublish()

    assert offered(engaged, pages["pricing"]) == (withdrawn.pk, conversation["id"])
    done = engaged.answer(conversation, "ada@example.com")
    assert done.status_code == 200
    assert done.json()["conversation"]["status"] == "completed"

    assert offered(onlooker, pages["pricing"]) == (None, None)
    assert offered(newcomer, pages["pricing"]) == (None, None)
    assert_error(onlooker.start(withdrawn, pages["pricing"]), 404, "not_found")

    other = make_dialogue(
        SIMPLE_FLOW, name="Other", priority=1, targets=[(pages["pricing"], "page")]
    )
    assert offered(onlooker, pages["pricing"]) == (other.pk, None)
    assert offered(newcomer, pages["pricing"]) == (other.pk, None)


def test_republishing_keeps_engaged_visitors_on_their_version(pages):
    """After a republish that rewrites a branch, an engaged visitor's answers still follow the
    version they started on; a visitor who only saw the dialogue is moved to the new version,
    and a newcomer gets it directly."""
    dialogue = make_dialogue(SIMPLE_FLOW, name="Evolving", targets=[(pages["pricing"], "page")])
    engaged, onlooker, newcomer = ChatClient(), ChatClient(), ChatClient()
    conversation = engaged.start(dialogue, pages["pricing"]).json()["conversation"]
    conversation = engaged.answer(conversation, 0).json()["conversation"]
    assert conversation["awaiting"]["kind"] == "capture"
    seen = onlooker.start(dialogue, pages["pricing"]).json()["conversation"]
    old_snapshot = Conversation.objects.get(public_id=seen["id"]).snapshot_id

    def rewrite(flow):
        # The "more" branch no longer asks for an e-mail; the greeting changes too.
        flow[0]["value"]["cards"][0]["value"]["text"] = "<p>Welcome back!</p>"
        flow[1]["value"]["cards"] = [message("<p>New ending.</p>")]

    republish(dialogue, rewrite, title="Version two")

    # The engaged visitor still answers the e-mail card the new version dropped.
    body = engaged.bootstrap(pages["pricing"]).json()
    assert body["conversation"]["id"] == conversation["id"]
    assert body["dialogue"]["title"] == "Chat with us"
    done = engaged.answer(conversation, "ada@example.com").json()
    assert done["items"][-2]["html"] == "<p>Thanks!</p>"
    assert done["conversation"]["status"] == "completed"
    assert Person.objects.filter(email="ada@example.com").exists()

    # The onlooker is offered the new version and restarted on it when it is shown again.
    body = onlooker.bootstrap(pages["pricing"]).json()
    assert (body["dialogue"], body["conversation"]) == (
        {
            "id": dialogue.pk,
            "slug": "",
            "title": "Version two",
            "teaser": None,
            "triggers": [{"type": "immediately"}],
            "lang": "en",
        },
        None,
    )
    restarted = onlooker.start(dialogue, pages["pricing"])
    assert restarted.status_code == 200
    moved = restarted.json()["conversation"]
    assert moved["id"] == seen["id"]
    assert moved["dialogue"]["title"] == "Version two"
    assert [item["kind"] for item in moved["items"]] == ["message", "question"]
    assert moved["items"][0]["html"] == "<p>Welcome back!</p>"
    assert Conversation.objects.get(public_id=seen["id"]).snapshot_id != old_snapshot
    ending = onlooker.answer(moved, 0).json()
    assert [item["kind"] for item in ending["items"]] == ["answer", "message", "end"]
    assert ending["items"][1]["html"] == "<p>New ending.</p>"
    assert kinds(seen["id"]).count(TRIGGERED) == 1  # the restart is the same visit

    fresh = newcomer.start(dialogue, pages["pricing"]).json()["conversation"]
    assert fresh["items"][0]["html"] == "<p>Welcome back!</p>"


# -- visitor events ----------------------------------------------------------------------------


@pytest.fixture
def document_dialogue(pages):
    return make_dialogue(DOCUMENT_FLOW, name="Documents", targets=[(pages["pricing"], "page")])


def test_document_opened_is_recorded_only_for_documents_shown(chat, document_dialogue, pages):
    """Opening a document the visitor was shown is recorded every time; documents they were
    not shown, and cards that are not documents, are refused."""
    conversation = chat.start(document_dialogue, pages["pricing"]).json()["conversation"]
    shown = conversation["items"][1]
    assert shown["kind"] == "document"
    assert shown["url"] == "https://example.com/prices.pdf"
    assert shown["title"] == "Price list"
    hidden = document_dialogue.flow.raw_data[2]["value"]["cards"][0]["id"]

    assert chat.event(conversation, "document_opened", shown["card"]).status_code == 204
    assert chat.event(conversation, "document_opened", shown["card"]).status_code == 204
    assert_error(chat.event(conversation, "document_opened", hidden), 404, "not_found")
    message_card = conversation["items"][0]["card"]
    assert_error(chat.event(conversation, "document_opened", message_card), 404, "not_found")

    opened = ConversationEvent.objects.filter(kind=ConversationEvent.DOCUMENT_OPENED)
    assert list(opened.values_list("card", flat=True)) == [shown["card"]] * 2
    assert opened.first().session == Visitor.objects.get().session
    # Showing a document is recorded by the server, once per display.
    assert kinds(conversation["id"]).count(ConversationEvent.DOCUMENT) == 1

    # Once the second document is shown, it can be opened too.
    conversation = chat.answer(conversation, 1).json()["conversation"]
    assert conversation["status"] == "completed"
    assert chat.event(conversation, "document_opened", hidden).status_code == 204
    assert opened.count() == 3


def test_close_is_recorded_and_the_conversation_stays_resumable(chat, simple_dialogue, pages):
    """Closing the window records ``closed`` each time but ends nothing: the visitor can
    reopen and carry on."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    assert chat.close(conversation).status_code == 204
    assert chat.close(conversation).status_code == 204
    assert kinds(conversation["id"]).count(ConversationEvent.CLOSED) == 2

    body = chat.bootstrap(pages["pricing"]).json()
    assert body["conversation"] == conversation
    assert chat.answer(conversation, "ada@example.com").json()["conversation"]["status"] == (
        "completed"
    )


# -- captures and person fields ----------------------------------------------------------------


@pytest.fixture
def demo(pages):
    return make_blueprint_dialogue("book-a-demo", targets=[(pages["pricing"], "page")])


def _to_first_name(chat, demo, pages, email="ada@example.com"):
    conversation = chat.start(demo, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    return chat.answer(conversation, email).json()["conversation"]


def test_captured_fields_are_stored_and_personalise_later_messages(chat, demo, pages):
    """The e-mail, first name and company a visitor gives land on their person, and the
    closing message greets them by name."""
    conversation = _to_first_name(chat, demo, pages, email="Ada@Example.COM")
    assert conversation["items"][-1]["label"] == "And your first name?"
    conversation = chat.answer(conversation, "  Ada ").json()["conversation"]
    response = chat.answer(conversation, "Acme Ltd").json()
    assert response["items"][-2]["html"] == (
        "<p>Thanks Ada! Someone from our team will be in touch within one business day to find "
        "a time.</p>"
    )
    assert response["conversation"]["status"] == "completed"

    person = Person.objects.get()
    assert (person.email, person.first_name, person.company) == (
        "ada@example.com",
        "Ada",
        "Acme Ltd",
    )
    stored = Conversation.objects.get()
    assert stored.person == person
    assert stored.score == 3


def test_optional_capture_can_be_skipped_and_required_one_cannot(chat, demo, pages):
    """``null`` skips the optional company question (nothing stored); the same on the required
    first-name question asks again."""
    conversation = _to_first_name(chat, demo, pages)
    for blank in (None, "", "   "):
        retry = chat.answer(conversation, blank).json()
        assert retry["items"] == [
            {
                "kind": "retry",
                "card": conversation["awaiting"]["card"],
                "text": "We need an answer to this one to continue.",
            }
        ]
        assert retry["conversation"]["step"] == conversation["step"]
    conversation = chat.answer(conversation, "Ada").json()["conversation"]
    assert conversation["awaiting"]["kind"] == "capture"

    skipped = chat.answer(conversation, None).json()
    assert skipped["items"][0] == {
        "kind": "answer",
        "card": conversation["awaiting"]["card"],
        "text": "Skipped",
    }
    assert skipped["conversation"]["status"] == "completed"
    assert Person.objects.get().company == ""
    captured = ConversationEvent.objects.filter(kind=ConversationEvent.CAPTURED)
    assert sorted(captured.values_list("data__field", flat=True)) == ["email", "first_name"]


def test_known_fields_are_not_asked_again(chat, demo, pages):
    """A returning visitor whose e-mail is known skips the e-mail question of another
    dialogue, and a question's choice is stored on the person."""
    conversation = _to_first_name(chat, demo, pages)
    chat.answer(chat.answer(conversation, "Ada").json()["conversation"], None)

    newsletter = make_blueprint_dialogue("newsletter-sign-up", targets=[(pages["blog"], "page")])
    conversation = chat.start(newsletter, pages["blog"]).json()["conversation"]
    response = chat.answer(conversation, 0).json()
    assert [item["kind"] for item in response["items"]] == ["answer", "question"]
    assert response["items"][1]["html"] == "<p>What best describes your role?</p>"
    chat.answer(response["conversation"], 2)
    assert Person.objects.get().job_title == "Engineering"


def test_invalid_capture_is_a_retry_not_an_error(chat, simple_dialogue, pages):
    """A malformed e-mail gets a friendly retry message; nothing is stored."""
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    for typo in ("ada@", "ada example.com", "x" * 600):
        response = chat.answer(conversation, typo)
        assert response.status_code == 200
        assert response.json()["items"][0]["kind"] == "retry"
        assert response.json()["conversation"]["awaiting"] == conversation["awaiting"]
    assert Person.objects.get().email is None


def test_answers_in_text_are_capped_at_the_configured_length(chat, pages):
    """A free-text answer over MAX_ANSWER_LENGTH is asked again; one within it is kept whole
    in the transcript and cut to fit the person field it fills (never a database error)."""
    dialogue = make_dialogue(
        [
            branch(
                "start",
                "Start",
                capture("text", "<p>Your role?</p>", "job_title"),
                capture("text", "<p>Your name?</p>", "first_name"),
                capture("text", "<p>Your plan?</p>", "plan"),
            )
        ],
        targets=[(pages["pricing"], "page")],
    )
    conversation = chat.start(dialogue, pages["pricing"]).json()["conversation"]
    too_long = chat.answer(conversation, "x" * 501).json()
    assert too_long["items"][0]["kind"] == "retry"
    assert too_long["conversation"]["step"] == 0

    response = chat.answer(conversation, "r" * 500).json()
    assert response["items"][0]["text"] == "r" * 500
    conversation = chat.answer(response["conversation"], "n" * 500).json()["conversation"]
    conversation = chat.answer(conversation, "p" * 500).json()["conversation"]
    assert conversation["status"] == "completed"
    person = Person.objects.get()
    assert person.job_title == "r" * 255
    assert person.first_name == "n" * 150
    assert person.attributes == {"plan": "p" * 500}
