"""Every refusal of the visitor API is a 4xx JSON answer with a message, never a 500.

The hard rule of the issue: malformed JSON, wrong types, unknown ids, oversized bodies, replayed or
foreign conversation ids all get ``{"error": <code>, "message": <sentence>}``.
"""

import itertools
import json
import random
import warnings
from types import SimpleNamespace

import pytest
from django.core.cache import CacheKeyWarning
from django.test import Client, override_settings

from wagtail_dynchat.api import throttles
from wagtail_dynchat.models import Conversation, ConversationEvent, Person, Visitor

from .conftest import SIMPLE_FLOW, ChatClient, make_dialogue

API = "/dynchat/api/"
ERROR_CODES = {
    400: {"bad_request", "invalid"},
    403: {"forbidden_origin"},
    404: {"not_found"},
    405: {"method_not_allowed"},
    409: {"conflict"},
    413: {"too_large"},
    429: {"rate_limited"},
}


def assert_error(response, status, code):
    """The response is the API's error shape with ``status`` and ``code``; returns the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    # A sentence a person can read, not an empty string or a bare code.
    assert len(body["message"]) > 10 and body["message"].endswith("."), body["message"]
    return body


def assert_refusal(response):
    """Any answer to garbage: never a server error, and errors always in the JSON shape."""
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert body["error"] in ERROR_CODES[response.status_code]
        assert isinstance(body["message"], str) and body["message"]


def post(path, body, content_type="application/json", client=None, **extra):
    """POST a raw body (bytes or str) as a browser on the site itself would."""
    client = client or Client()
    return client.post(
        API + path,
        body,
        content_type=content_type,
        headers={"Origin": "http://testserver"},
        **extra,
    )


@pytest.fixture
def started(chat, simple_dialogue, pages):
    """A visitor (``chat``) with a fresh conversation awaiting the first question."""
    response = chat.start(simple_dialogue, pages["pricing"])
    assert response.status_code == 201
    return response.json()["conversation"]


@pytest.fixture
def frozen_clock(monkeypatch):
    """Pin the rate limiter's clock 15 seconds into a minute, so windows never roll mid-test."""
    clock = SimpleNamespace(now=60 * 28_333_334 + 15)
    monkeypatch.setattr(throttles, "time", SimpleNamespace(time=lambda: clock.now))
    return clock


# -- bodies that are not JSON objects ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["{bad", "{", '{"dialogue": 1,}', "{'dialogue': 1}", b"\xff\xfe\x00", "dialogue=1"],
    ids=["garbage", "truncated", "trailing-comma", "single-quotes", "not-utf8", "form-like"],
)
def test_malformed_json_is_bad_request(db, body):
    """A body that does not parse as JSON is refused as a bad request, not a crash."""
    assert_error(post("conversations", body), 400, "bad_request")
    assert Visitor.objects.count() == 0


@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "true", "[1, 2]"])
def test_json_that_is_not_an_object_is_invalid(db, body):
    """Valid JSON of the wrong shape names the fields the API needed."""
    refusal = assert_error(post("conversations", body), 400, "invalid")
    assert {field["field"] for field in refusal["fields"]} == {"dialogue", "page"}


def test_empty_body_is_refused(db):
    """Starting a conversation without a body at all is a 400 naming the missing body."""
    refusal = assert_error(post("conversations", ""), 400, "invalid")
    assert refusal["fields"] == [{"field": "body", "message": "Field required"}]
    assert_refusal(post("conversations", "   "))
    assert post("conversations", "   ").status_code == 400


# -- wrong types and out-of-range values -------------------------------------------------------


START_TYPE_ERRORS = [
    ("dialogue", "1"),
    ("dialogue", True),
    ("dialogue", 1.0),
    ("dialogue", 1.5),
    ("dialogue", 0),
    ("dialogue", -1),
    ("dialogue", None),
    ("dialogue", [1]),
    ("dialogue", {"id": 1}),
    ("page", "4"),
    ("page", False),
    ("page", -(2**63)),
    ("url", 5),
    ("url", "x" * 2049),
    ("url", "https://example.com/\x00"),
    ("url", "https://example.com/\n"),
    ("url", ["https://example.com/"]),
]


def test_start_with_a_wrong_type_names_the_field(simple_dialogue, pages):
    """Each malformed start field (strings or bools for ids, floats, zero, negatives, over-long or
    unstorable URLs) is reported under the name the widget sent."""
    for field, value in START_TYPE_ERRORS:
        payload = {"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk, field: value}
        refusal = assert_error(post("conversations", json.dumps(payload)), 400, "invalid")
        assert [entry["field"] for entry in refusal["fields"]] == [field], (field, value)
        assert refusal["message"].startswith(f"The request is not valid: {field}: ")
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize("missing", ["dialogue", "page"])
def test_start_with_a_missing_field_names_it(simple_dialogue, pages, missing):
    """Leaving out a required field says which one."""
    payload = {"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk}
    del payload[missing]
    refusal = assert_error(post("conversations", json.dumps(payload)), 400, "invalid")
    assert refusal["fields"] == [{"field": missing, "message": "Field required"}]


ANSWER_TYPE_ERRORS = [
    ({"step": "0"}, "step"),
    ({"step": True}, "step"),
    ({"step": 0.0}, "step"),
    ({"step": -1}, "step"),
    ({"step": None}, "step"),
    ({"card": 7}, "card"),
    ({"card": ""}, "card"),
    ({"card": "a/b"}, "card"),
    ({"card": "<script>"}, "card"),
    ({"card": "a b"}, "card"),
    ({"card": "x\x00y"}, "card"),
    ({"card": "x" * 65}, "card"),
    ({"value": [0]}, "value"),
    ({"value": {"index": 0}}, "value"),
    ({"value": 0.0}, "value"),
    ({"value": True}, "value"),
    ({"value": "x" * 2001}, "value"),
]


def test_answer_with_a_wrong_type_names_the_field(chat, started):
    """Each malformed answer field (strings, bools and floats for the step, card ids with odd
    characters, lists and objects as the value) is refused, and the conversation does not move."""
    for changes, field in ANSWER_TYPE_ERRORS:
        payload = {"step": 0, "card": started["awaiting"]["card"], "value": 0, **changes}
        response = post(
            f"conversations/{started['id']}/answers", json.dumps(payload), client=chat.client
        )
        refusal = assert_error(response, 400, "invalid")
        assert [entry["field"] for entry in refusal["fields"]] == [field], changes
    stored = Conversation.objects.get(public_id=started["id"])
    assert stored.state["step"] == 0
    assert not stored.events.filter(kind=ConversationEvent.ANSWERED).exists()


def test_answer_value_of_the_wrong_kind_gets_one_readable_reason(chat, started):
    """A list as the value is explained once, not once per accepted type."""
    payload = {"step": 0, "card": started["awaiting"]["card"], "value": [0]}
    response = post(
        f"conversations/{started['id']}/answers", json.dumps(payload), client=chat.client
    )
    refusal = assert_error(response, 400, "invalid")
    assert refusal["fields"] == [
        {
            "field": "value",
            "message": "Send a choice index, a text of at most 2000 characters, a meeting time "
            "(start, tz, email), or null.",
        }
    ]


@pytest.mark.parametrize("missing", ["step", "card"])
def test_answer_with_a_missing_field_names_it(chat, started, missing):
    """An answer without its step or card says which is missing."""
    payload = {"step": 0, "card": started["awaiting"]["card"], "value": 0}
    del payload[missing]
    response = post(
        f"conversations/{started['id']}/answers", json.dumps(payload), client=chat.client
    )
    refusal = assert_error(response, 400, "invalid")
    assert refusal["fields"] == [{"field": missing, "message": "Field required"}]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"page": "abc"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-3"}, "page"),
        ({"page": str(2**70)}, "page"),
        ({"page": ""}, "page"),
        ({"url": "x" * 2049}, "url"),
    ],
)
def test_bootstrap_with_a_malformed_query_names_the_parameter(db, query, field):
    """Bootstrap validates its query string the same way."""
    refusal = assert_error(Client().get(API + "bootstrap", query), 400, "invalid")
    assert [entry["field"] for entry in refusal["fields"]] == [field]


# -- content type and size ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("application/x-www-form-urlencoded", "dialogue=1&page=4"),
        ("text/plain", '{"dialogue": 1, "page": 4}'),
        ("multipart/form-data; boundary=xyz", "--xyz--"),
        ("application/xml", "<dialogue>1</dialogue>"),
    ],
)
def test_bodies_that_are_not_declared_json_are_bad_requests(simple_dialogue, content_type, body):
    """Only application/json is read: forms and text/plain (what a cross-site form can send
    without a CORS preflight) are refused."""
    refusal = assert_error(
        post("conversations", body, content_type=content_type), 400, "bad_request"
    )
    assert "application/json" in refusal["message"]
    assert Visitor.objects.count() == 0


def test_json_content_type_with_charset_is_accepted(simple_dialogue, pages):
    """``application/json; charset=utf-8`` is still JSON."""
    payload = json.dumps({"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk})
    response = post("conversations", payload, content_type="application/json; charset=utf-8")
    assert response.status_code == 201


@override_settings(WAGTAIL_DYNCHAT={"MAX_BODY_BYTES": 200})
def test_body_over_the_limit_is_too_large_and_the_limit_itself_is_fine(simple_dialogue, pages):
    """A body one byte over MAX_BODY_BYTES is refused with 413; one of exactly the limit works."""
    payload = json.dumps({"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk})
    exact = payload[:-1] + " " * (200 - len(payload)) + "}"
    assert len(exact) == 200
    over = exact[:-1] + " }"

    refusal = assert_error(post("conversations", over), 413, "too_large")
    assert "200 bytes" in refusal["message"]
    assert Visitor.objects.count() == 0
    assert post("conversations", exact).status_code == 201


def test_default_body_limit_applies_to_answers(chat, started):
    """An answer padded past the default 8 KB limit is refused before it is read."""
    payload = {"step": 0, "card": started["awaiting"]["card"], "value": 0, "pad": "x" * 8200}
    response = post(
        f"conversations/{started['id']}/answers", json.dumps(payload), client=chat.client
    )
    assert_error(response, 413, "too_large")


def test_lying_content_length_never_crashes(simple_dialogue, pages):
    """Content-Length headers that are huge, short, negative or not numbers all get a 4xx."""
    payload = json.dumps({"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk})

    # Claims more than the limit: refused without reading the body.
    assert_error(post("conversations", payload, CONTENT_LENGTH=str(10**12)), 413, "too_large")
    # Claims less than was sent: only the declared bytes are read, which is not valid JSON.
    assert_error(post("conversations", payload, CONTENT_LENGTH="5"), 400, "bad_request")
    # Not a length at all (Django itself would raise reading such a body).
    for declared in ("abc", "-5", "1e3"):
        refusal = assert_error(
            post("conversations", payload, CONTENT_LENGTH=declared), 400, "bad_request"
        )
        assert "Content-Length" in refusal["message"]
    assert Conversation.objects.count() == 0


# -- unknown, unavailable and foreign ids ------------------------------------------------------


def test_start_with_unknown_ids_is_not_found(simple_dialogue, pages):
    """Dialogue and page ids that name nothing (however large) are 404, on every database."""
    for unknown in (999_999, 2**63 - 1, 2**63, 2**70):
        for payload in (
            {"dialogue": unknown, "page": pages["pricing"].pk},
            {"dialogue": simple_dialogue.pk, "page": unknown},
        ):
            assert_error(post("conversations", json.dumps(payload)), 404, "not_found")
    assert Conversation.objects.count() == 0


def test_start_on_a_page_the_dialogue_does_not_target_is_not_found(simple_dialogue, pages):
    """A dialogue targeting the pricing page cannot be started on the contact page."""
    payload = json.dumps({"dialogue": simple_dialogue.pk, "page": pages["contact"].pk})
    refusal = assert_error(post("conversations", payload), 404, "not_found")
    assert refusal["message"] == "This chat is not available on this page."
    assert Visitor.objects.count() == 1  # the visitor is identified, but nothing is started
    assert Conversation.objects.count() == 0


def test_start_of_an_unpublished_dialogue_is_not_found(pages):
    """Drafts that were never published, and dialogues taken offline, cannot be started."""
    draft = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")], publish=False)
    withdrawn = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    withdrawn.unpublish()
    for dialogue in (draft, withdrawn):
        payload = json.dumps({"dialogue": dialogue.pk, "page": pages["pricing"].pk})
        assert_error(post("conversations", payload), 404, "not_found")
    assert Conversation.objects.count() == 0


def test_unknown_or_malformed_conversation_ids_are_not_found(chat, started):
    """Ids the server never issued, including ones no database could store, are 404."""
    card = started["awaiting"]["card"]
    answer = json.dumps({"step": 0, "card": card, "value": 0})
    event = json.dumps({"kind": "document_opened", "card": card})
    unknown_ids = [
        "AAAAAAAAAAAAAAAAAAAAAA",
        "short",
        "x" * 300,
        "%00",
        "a%00b",
        "%C3%A9t%C3%A9",
        "..%2F..%2Fx",
        started["id"] + "x",
    ]
    for conversation_id in unknown_ids:
        for action, body in (("answers", answer), ("events", event), ("close", "")):
            response = post(f"conversations/{conversation_id}/{action}", body, client=chat.client)
            assert_error(response, 404, "not_found")
    assert Conversation.objects.get(public_id=started["id"]).events.count() == 1


def test_another_visitors_conversation_is_not_found(chat, started, simple_dialogue, pages):
    """A conversation id presented with another visitor's cookie is 404 and nothing changes."""
    stranger = ChatClient()
    assert stranger.start(simple_dialogue, pages["pricing"]).status_code == 201
    before = ConversationEvent.objects.filter(conversation__public_id=started["id"]).count()

    card = started["awaiting"]["card"]
    assert_error(stranger.answer(started, 0), 404, "not_found")
    assert_error(stranger.event(started, "document_opened", card), 404, "not_found")
    assert_error(stranger.close(started), 404, "not_found")

    stored = Conversation.objects.get(public_id=started["id"])
    assert stored.state["step"] == 0
    assert stored.events.count() == before
    # The owner is unaffected.
    assert chat.answer(started, 0).status_code == 200


def test_conversation_id_without_any_cookie_is_not_found(started):
    """Without a visitor cookie no conversation is anyone's, and no visitor is created."""
    visitors = Visitor.objects.count()
    cookieless = ChatClient()
    assert_error(cookieless.answer(started, 0), 404, "not_found")
    assert_error(cookieless.close(started), 404, "not_found")
    assert Visitor.objects.count() == visitors
    assert "dynchat_vid" not in cookieless.client.cookies


def test_forged_visitor_cookie_is_no_key_to_a_conversation(started):
    """A made-up visitor cookie identifies nobody: the call is 404, not someone else's data."""
    forged = ChatClient()
    forged.client.cookies["dynchat_vid"] = "A" * 22
    assert_error(forged.answer(started, 0), 404, "not_found")


# -- conversation protocol conflicts -----------------------------------------------------------


def test_replayed_answer_is_a_conflict_and_is_recorded_once(chat, started):
    """Sending the same answer twice (a double click, a retried request) records it once."""
    first = chat.answer(started, 0)
    assert first.status_code == 200
    replay = chat.answer(started, 0)  # same step, same card, same value
    refusal = assert_error(replay, 409, "conflict")
    assert refusal["message"] == "This answer was already received."

    stored = Conversation.objects.get(public_id=started["id"])
    assert stored.state["step"] == 1
    assert stored.transcript == first.json()["conversation"]["items"]
    kinds = list(stored.events.values_list("kind", flat=True))
    assert kinds.count(ConversationEvent.ANSWERED) == 1
    assert kinds.count(ConversationEvent.ENGAGED) == 1


def test_answer_with_a_future_step_is_a_conflict(chat, started):
    """A step the conversation has not reached yet (a forged or huge one) is refused."""
    for step in (1, 2**63, 2**80):
        assert_error(chat.answer(started, 0, step=step), 409, "conflict")
    assert Conversation.objects.get(public_id=started["id"]).state["step"] == 0


def test_answer_after_completion_is_a_conflict(chat, started):
    """Once a conversation has ended, no answer is accepted, whatever step it quotes."""
    done = chat.answer(started, 1)  # "No" leads to the bye branch, which ends the dialogue
    assert done.json()["conversation"]["status"] == "completed"
    finished = done.json()["conversation"]
    assert finished["awaiting"] is None

    for step in (0, 1):
        refusal = assert_error(
            chat.answer(finished, 0, step=step, card=started["awaiting"]["card"]), 409, "conflict"
        )
    assert refusal["message"] == "This conversation has already ended."
    assert (
        Conversation.objects.get(public_id=started["id"])
        .events.filter(kind=ConversationEvent.ANSWERED)
        .count()
        == 1
    )


def test_answer_to_a_card_that_is_not_awaited_is_a_conflict(chat, started):
    """A well-formed card id other than the awaited one is a conflict, not a crash."""
    message_card = started["items"][0]["card"]
    for card in ("nonexistent-card", message_card, "é" * 10):
        refusal = assert_error(chat.answer(started, 0, card=card), 409, "conflict")
    assert refusal["message"] == "This question is not waiting for an answer."


def test_question_answer_that_is_no_choice_is_invalid(chat, started):
    """A question only takes the index of one of its choices."""
    for value in (2, 3, -1, 2**80, "0", "Yes", None):
        refusal = assert_error(chat.answer(started, value), 400, "invalid")
        assert "choice" in refusal["message"], value
    assert refusal["message"] == "A question is answered with the index of a choice."
    refusal = assert_error(chat.answer(started, 2), 400, "invalid")
    assert refusal["message"] == "This question has no choice 2."
    assert Conversation.objects.get(public_id=started["id"]).state["step"] == 0


def test_capture_answered_with_a_number_is_invalid(chat, started):
    """A capture takes text (or null), so an integer is a protocol error, not a retry."""
    capture = chat.answer(started, 0).json()["conversation"]
    assert capture["awaiting"]["kind"] == "capture"
    refusal = assert_error(chat.answer(capture, 42), 400, "invalid")
    assert refusal["message"] == "This card is answered with text, or null to skip it."


def test_event_for_a_card_that_was_not_shown_is_not_found(chat, started):
    """Only a document the visitor was shown can be reported as opened."""
    response = chat.event(started, "document_opened", started["items"][0]["card"])
    refusal = assert_error(response, 404, "not_found")
    assert refusal["message"] == "This card was not shown in this conversation."
    refusal = assert_error(chat.event(started, "clicked", "abc"), 400, "invalid")
    assert refusal["fields"][0]["field"] == "kind"


def test_start_of_a_completed_dialogue_is_a_conflict(chat, started, simple_dialogue, pages):
    """A visitor who finished a dialogue cannot start it again."""
    chat.answer(started, 1)
    refusal = assert_error(chat.start(simple_dialogue, pages["pricing"]), 409, "conflict")
    assert refusal["message"] == "You have already completed this chat."


# -- origins -----------------------------------------------------------------------------------


def test_foreign_origin_is_forbidden(simple_dialogue, pages):
    """Another site cannot start conversations or read bootstrap on a visitor's behalf."""
    for origin in (
        "https://evil.example",
        "http://testserver.evil.example",
        "http://testserver:8080",
        "null",
        "http://[",
        "x" * 5000,
    ):
        foreign = ChatClient(origin=origin)
        refusal = assert_error(
            foreign.start(simple_dialogue, pages["pricing"]), 403, "forbidden_origin"
        )
        assert origin[:200] in refusal["message"]
        response = foreign.client.get(
            API + "bootstrap", {"page": pages["pricing"].pk}, headers={"Origin": origin}
        )
        assert_error(response, 403, "forbidden_origin")
    assert Visitor.objects.count() == 0


def test_foreign_origin_cannot_answer_for_a_visitor(chat, started):
    """Even with the visitor's cookies, a post from another origin is refused."""
    chat.origin = "https://evil.example"
    assert_error(chat.answer(started, 0), 403, "forbidden_origin")
    assert Conversation.objects.get(public_id=started["id"]).state["step"] == 0


def test_same_host_and_allowed_origins_are_accepted(simple_dialogue, pages):
    """The site itself (on either scheme), requests without Origin, and ALLOWED_ORIGINS pass."""
    assert (
        ChatClient(origin="https://testserver").start(simple_dialogue, pages["pricing"]).status_code
        == 201
    )
    assert ChatClient(origin=None).start(simple_dialogue, pages["pricing"]).status_code == 201
    partner = ChatClient(origin="https://partner.example")
    assert_error(partner.start(simple_dialogue, pages["pricing"]), 403, "forbidden_origin")
    with override_settings(WAGTAIL_DYNCHAT={"ALLOWED_ORIGINS": ["https://partner.example"]}):
        assert partner.start(simple_dialogue, pages["pricing"]).status_code == 201
        other = ChatClient(origin="https://other.example")
        assert_error(other.start(simple_dialogue, pages["pricing"]), 403, "forbidden_origin")


# -- rate limits -------------------------------------------------------------------------------


@override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": "3/m"})
def test_rate_limit_per_ip(simple_dialogue, pages, frozen_clock):
    """The fourth call in a minute from one address is 429 with a Retry-After; other addresses
    and the next minute are unaffected."""
    browser = Client()
    for _ in range(3):
        assert browser.get(API + "bootstrap", {"page": pages["pricing"].pk}).status_code == 200
    refused = browser.get(API + "bootstrap", {"page": pages["pricing"].pk})
    assert_error(refused, 429, "rate_limited")
    assert refused["Retry-After"] == "45"  # the clock stands 15 s into the minute

    # All operations share the per-IP budget, before the body is even validated.
    chat = ChatClient(browser)
    assert_error(chat.start(simple_dialogue, pages["pricing"]), 429, "rate_limited")
    assert_error(post("conversations", "{bad", client=browser), 429, "rate_limited")
    assert Conversation.objects.count() == 0

    neighbour = Client(REMOTE_ADDR="10.1.2.3")
    assert neighbour.get(API + "bootstrap").status_code == 200

    frozen_clock.now += 45
    assert browser.get(API + "bootstrap").status_code == 200


@override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_CONVERSATION": "2/m"})
def test_rate_limit_per_conversation(chat, pages, frozen_clock):
    """A conversation takes two calls a minute here; the third is refused and records nothing,
    while the same visitor's other conversation carries on."""
    first = make_dialogue(SIMPLE_FLOW, name="First", targets=[(pages["pricing"], "page")])
    second = make_dialogue(SIMPLE_FLOW, name="Second", targets=[(pages["pricing"], "page")])
    one = chat.start(first, pages["pricing"]).json()["conversation"]
    two = chat.start(second, pages["pricing"]).json()["conversation"]

    assert chat.close(one).status_code == 204
    assert chat.close(one).status_code == 204
    refused = chat.answer(one, 0)
    assert_error(refused, 429, "rate_limited")
    assert refused["Retry-After"] == "45"
    stored = Conversation.objects.get(public_id=one["id"])
    assert stored.state["step"] == 0
    assert not stored.events.filter(kind=ConversationEvent.ANSWERED).exists()

    assert chat.answer(two, 0).status_code == 200

    frozen_clock.now += 60
    assert chat.answer(one, 0).status_code == 200


def test_rate_limit_keys_stay_valid_for_any_client_identity(chat, started):
    """Long or odd forwarded-for headers and conversation ids never produce a cache key that
    Memcached would refuse (which would turn into a 500 there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        response = chat.client.get(
            API + "bootstrap", headers={"X-Forwarded-For": "203.0.113.9 , " + "x" * 400}
        )
        assert response.status_code == 200
        for conversation_id in ("x" * 300, "%00", "a%20b"):
            response = post(f"conversations/{conversation_id}/close", "", client=chat.client)
            assert_error(response, 404, "not_found")


# -- methods and addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("get", "conversations", "POST"),
        ("put", "conversations", "POST"),
        ("get", "conversations/AAAAAAAAAAAAAAAAAAAAAA/answers", "POST"),
        ("delete", "conversations/AAAAAAAAAAAAAAAAAAAAAA/close", "POST"),
        ("get", "conversations/AAAAAAAAAAAAAAAAAAAAAA/events", "POST"),
        ("post", "bootstrap", "GET"),
        ("patch", "bootstrap", "GET"),
    ],
)
def test_wrong_method_is_a_json_405(db, method, path, allowed):
    """Calling an operation with the wrong method says which method it takes, as JSON."""
    response = getattr(Client(), method)(API + path)
    refusal = assert_error(response, 405, "method_not_allowed")
    assert method.upper() in refusal["message"]
    assert response["Allow"] == allowed


@pytest.mark.parametrize(
    "path", ["", "nope", "nope/", "docs", "conversations/", "conversations/abc", "bootstrap/x"]
)
def test_unknown_api_addresses_are_a_json_404(db, path):
    """Addresses under the API that name no operation answer JSON, not the site's HTML page
    (and are not redirected to it by APPEND_SLASH)."""
    for method in ("get", "post"):
        refusal = assert_error(getattr(Client(), method)(API + path), 404, "not_found")
    assert refusal["message"] == "There is no such address in the chat API."


@override_settings(WAGTAIL_DYNCHAT={"ENABLED": False})
def test_switched_off_api_is_not_found(simple_dialogue, pages):
    """With ENABLED off the API answers 404 to every operation and creates nothing."""
    chat = ChatClient()
    assert_error(chat.bootstrap(pages["pricing"]), 404, "not_found")
    assert_error(chat.start(simple_dialogue, pages["pricing"]), 404, "not_found")
    assert Visitor.objects.count() == 0


# -- many malformed requests -------------------------------------------------------------------

ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    1,
    1.5,
    float("nan"),
    2**31,
    2**63,
    2**64,
    -(2**63),
    10**40,
    "",
    " ",
    "0",
    "1",
    "x" * 70,
    "x" * 3000,
    "\x00",
    "\ud800",
    "🙂" * 30,
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "a@b",
    [],
    [1],
    {},
    {"$gt": 0},
]


def _odd_bodies(base, rng):
    """Each field of ``base`` replaced by each odd value, fields dropped, extras added, and
    random bytes."""
    for field, value in itertools.product(list(base), ODD_VALUES):
        yield json.dumps({**base, field: value})
    for field in base:
        yield json.dumps({key: value for key, value in base.items() if key != field})
    yield json.dumps({**base, "extra": {"nested": [1, {"deep": None}]}})
    yield json.dumps([base])
    for _ in range(15):
        yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60)))
    for length in (1, 5, 20):
        yield json.dumps(base)[:length]


@override_settings(
    WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": "100000/m", "RATE_LIMIT_CONVERSATION": "100000/m"}
)
def test_many_malformed_requests_never_cause_a_server_error(chat, started, simple_dialogue, pages):
    """Hundreds of odd payloads against every operation: all answered below 500, in the error
    shape."""
    rng = random.Random(20240601)
    card = started["awaiting"]["card"]
    targets = {
        "conversations": {"dialogue": simple_dialogue.pk, "page": pages["pricing"].pk, "url": "/"},
        f"conversations/{started['id']}/answers": {"step": 0, "card": card, "value": 0},
        f"conversations/{started['id']}/events": {"kind": "document_opened", "card": card},
        f"conversations/{started['id']}/close": {},
    }
    seen = 0
    for path, base in targets.items():
        for body in _odd_bodies(base, rng):
            for content_type in ("application/json", "text/plain"):
                assert_refusal(post(path, body, content_type=content_type, client=chat.client))
                seen += 1
    for name, value in itertools.product(("page", "url", "other"), ODD_VALUES):
        text = value if isinstance(value, str) else json.dumps(value)
        if "\ud800" in text:
            continue  # a browser cannot put a lone surrogate in a URL at all
        assert_refusal(chat.client.get(API + "bootstrap", {name: text}))
        seen += 1
    assert seen > 500
    # The garbage changed nothing but what a valid answer may have done.
    assert Person.objects.count() == 1


# -- OpenAPI -----------------------------------------------------------------------------------


def test_openapi_document_lists_the_operations(db):
    """``/dynchat/api/openapi.json`` describes every operation with its error answers."""
    response = Client().get(API + "openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "wagtail-dynchat visitor API"
    operations = {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    assert set(operations) == {
        ("/dynchat/api/bootstrap", "get"),
        ("/dynchat/api/conversations", "post"),
        ("/dynchat/api/conversations/{conversation_id}/answers", "post"),
        ("/dynchat/api/conversations/{conversation_id}/events", "post"),
        ("/dynchat/api/conversations/{conversation_id}/close", "post"),
        ("/dynchat/api/consent", "post"),
        ("/dynchat/api/conversations/{conversation_id}/slots", "get"),
    }
    for operation in operations.values():
        assert operation["summary"]
        assert {"400", "403", "404", "409", "413", "429"} <= set(operation["responses"])
    start = operations[("/dynchat/api/conversations", "post")]
    assert {"200", "201"} <= set(start["responses"])
    assert "StartIn" in schema["components"]["schemas"]
    assert "AnswerIn" in schema["components"]["schemas"]


def test_forwarded_for_is_ignored_unless_proxies_are_configured(chat, pages, frozen_clock):
    """A client rotating X-Forwarded-For cannot escape the per-IP limit; behind a configured
    proxy the address that proxy appended is what counts."""
    with override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": "2/m"}):
        codes = [
            chat.client.get(
                API + "bootstrap", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            ).status_code
            for n in range(3)
        ]
        assert codes == [200, 200, 429]
    with override_settings(WAGTAIL_DYNCHAT={"RATE_LIMIT_IP": "2/m", "NUM_PROXIES": 1}):
        codes = [
            chat.client.get(
                API + "bootstrap", headers={"X-Forwarded-For": f"10.0.0.1, 198.51.100.{n}"}
            ).status_code
            for n in (7, 7, 7, 8)
        ]
        assert codes == [200, 200, 429, 200]
