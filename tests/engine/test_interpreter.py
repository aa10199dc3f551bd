"""start() and answer(): every card type, branching, policies, events and protocol errors."""

import copy
import json

import pytest

from tests.engine import (
    branch,
    capture,
    choice,
    document,
    flow,
    goal,
    jump,
    message,
    question,
)
from wagtail_dynchat import engine
from wagtail_dynchat.engine import Event, answer, start, teaser

END = {"kind": "end", "text": "This conversation has ended. Thank you!"}
COMPLETED = Event("completed", None, {})


def kinds(events):
    return [event.kind for event in events]


def yes_no(id="q1", yes="", no="", **kwargs):
    return question(id, choice("Yes", "yes", yes), choice("No", "no", no), **kwargs)


# -- start -------------------------------------------------------------------------------------


def test_start_shows_cards_up_to_the_first_question():
    f = flow(
        branch(
            "start",
            message("m1", '<p>Hi {{ person.first_name|"there" }}!</p>'),
            yes_no(html="<p>Want a demo?</p>"),
            message("m2"),
        )
    )
    result = start(f, {"first_name": "Ann"})
    assert result.items == [
        {"kind": "message", "card": "m1", "html": "<p>Hi Ann!</p>"},
        {
            "kind": "question",
            "card": "q1",
            "html": "<p>Want a demo?</p>",
            "choices": [{"index": 0, "label": "Yes"}, {"index": 1, "label": "No"}],
        },
    ]
    assert result.state == {
        "version": 1,
        "branch": 0,
        "card": 1,
        "awaiting": "q1",
        "step": 0,
        "status": "active",
        "score": None,
        "values": {},
    }
    assert result.awaiting == {"card": "q1", "kind": "question"}
    assert result.status == "active"
    assert result.events == []
    assert result.person_updates == {}


def test_message_tokens_escape_and_default():
    f = flow(branch("start", message("m1", "<p>Hi {{ person.first_name|&quot;there&quot; }}</p>")))
    assert start(f, {}).items[0]["html"] == "<p>Hi there</p>"
    assert start(f, {"first_name": "<b>Bo</b>"}).items[0]["html"] == (
        "<p>Hi &lt;b&gt;Bo&lt;/b&gt;</p>"
    )


def test_start_completes_when_the_first_branch_has_no_input():
    f = flow(branch("start", message("m1"), goal("g1", "Seen", 1)))
    result = start(f, {})
    assert result.items == [{"kind": "message", "card": "m1", "html": "<p>Hello</p>"}, END]
    assert result.events == [Event("goal", "g1", {"name": "Seen", "score": 1}), COMPLETED]
    assert result.status == "completed"
    assert result.awaiting is None
    assert result.state["status"] == "completed"
    assert result.state["awaiting"] is None
    assert (result.state["branch"], result.state["card"]) == (0, 2)
    assert result.state["score"] == 1


def test_start_rejects_a_flow_without_branches():
    with pytest.raises(engine.FlowError):
        start({"branches": []}, {})
    with pytest.raises(engine.FlowError):
        start({}, {})


def test_unknown_card_types_are_skipped():
    f = flow(branch("start", {"id": "x", "type": "hologram"}, {"type": None}, None, message("m1")))
    assert start(f, {}).items == [{"kind": "message", "card": "m1", "html": "<p>Hello</p>"}, END]


# -- questions ---------------------------------------------------------------------------------


def test_question_without_target_continues_in_the_same_branch():
    f = flow(
        branch("start", yes_no(), message("m2", "<p>Next</p>")),
        branch("other", message("m3")),
    )
    result = answer(f, start(f, {}).state, "q1", 1, {})
    assert result.items == [
        {"kind": "answer", "card": "q1", "text": "No"},
        {"kind": "message", "card": "m2", "html": "<p>Next</p>"},
        END,
    ]
    assert result.events == [
        Event("engaged", "q1", {}),
        Event("answered", "q1", {"value": "no", "label": "No"}),
        COMPLETED,
    ]
    assert result.state["step"] == 1
    assert (result.state["branch"], result.state["card"]) == (0, 2)


def test_question_target_moves_to_the_start_of_that_branch():
    f = flow(
        branch("start", yes_no(yes="demo"), message("m2")),
        branch("demo", message("m3", "<p>Demo!</p>"), yes_no("q2")),
    )
    result = answer(f, start(f, {}).state, "q1", 0, {})
    assert result.items == [
        {"kind": "answer", "card": "q1", "text": "Yes"},
        {"kind": "message", "card": "m3", "html": "<p>Demo!</p>"},
        {
            "kind": "question",
            "card": "q2",
            "html": "<p>Pick one</p>",
            "choices": [{"index": 0, "label": "Yes"}, {"index": 1, "label": "No"}],
        },
    ]
    assert result.state["branch"] == 1
    assert result.state["card"] == 1
    assert result.awaiting == {"card": "q2", "kind": "question"}


def test_question_field_stores_the_value_or_the_label():
    f = flow(
        branch(
            "start",
            question("q1", choice("Marketing", "mkt"), choice("Sales"), field="department"),
            message("m1", "<p>{{ person.department }}</p>"),
        )
    )
    state = start(f, {}).state

    result = answer(f, state, "q1", 0, {"department": "old"})
    assert result.person_updates == {"department": "mkt"}
    assert result.state["values"] == {"department": "mkt"}
    assert Event("captured", "q1", {"field": "department", "value": "mkt"}) in result.events
    assert result.items[1]["html"] == "<p>mkt</p>"

    result = answer(f, state, "q1", 1, {})
    assert result.person_updates == {"department": "Sales"}
    assert Event("answered", "q1", {"value": "Sales", "label": "Sales"}) in result.events


def test_question_without_field_writes_nothing():
    f = flow(branch("start", yes_no()))
    result = answer(f, start(f, {}).state, "q1", 0, {})
    assert result.person_updates == {}
    assert "captured" not in kinds(result.events)


@pytest.mark.parametrize("value", [True, False, -1, 2, "0", 0.0, None, [0]])
def test_question_rejects_malformed_answers(value):
    f = flow(branch("start", yes_no()))
    state = start(f, {}).state
    with pytest.raises(engine.InvalidAnswer) as raised:
        answer(f, state, "q1", value, {})
    assert raised.value.message


# -- completion --------------------------------------------------------------------------------


def test_completion_at_the_end_of_any_branch():
    f = flow(
        branch("start", yes_no(yes="a", no="b"), message("never")),
        branch("a", message("ma")),
        branch("b", message("mb"), jump("j1", "a")),
    )
    state = start(f, {}).state
    via_a = answer(f, state, "q1", 0, {})
    assert via_a.items[1:] == [{"kind": "message", "card": "ma", "html": "<p>Hello</p>"}, END]
    assert (via_a.state["branch"], via_a.state["card"], via_a.status) == (1, 1, "completed")
    assert via_a.events[-1] == COMPLETED

    via_b = answer(f, state, "q1", 1, {})
    assert [item.get("card") for item in via_b.items] == ["q1", "mb", "ma", None]
    assert via_b.items[-1] == END
    assert (via_b.state["branch"], via_b.state["card"], via_b.status) == (1, 1, "completed")


def test_answer_to_a_completed_conversation_is_not_awaited():
    f = flow(branch("start", yes_no()))
    done = answer(f, start(f, {}).state, "q1", 0, {})
    assert done.status == "completed"
    with pytest.raises(engine.NotAwaited):
        answer(f, done.state, "q1", 0, {})


# -- goals, documents, jumps -------------------------------------------------------------------


def test_goals_emit_events_and_keep_the_highest_score():
    f = flow(
        branch(
            "start",
            goal("g1", "Interested", 2),
            goal("g2", "Browsing", 1),
            goal("g3", "No score"),
            goal("g4", "Bad score", 7),
            goal("g5", "Bool score", True),
            yes_no(yes="hot"),
        ),
        branch("hot", goal("g6", "Demo booked", 3)),
    )
    first = start(f, {})
    assert first.events == [
        Event("goal", "g1", {"name": "Interested", "score": 2}),
        Event("goal", "g2", {"name": "Browsing", "score": 1}),
        Event("goal", "g3", {"name": "No score", "score": None}),
        Event("goal", "g4", {"name": "Bad score", "score": None}),
        Event("goal", "g5", {"name": "Bool score", "score": None}),
    ]
    assert first.state["score"] == 2
    assert [item["kind"] for item in first.items] == ["question"]
    assert answer(f, first.state, "q1", 0, {}).state["score"] == 3
    assert answer(f, first.state, "q1", 1, {}).state["score"] == 2


def test_score_zero_is_recorded():
    f = flow(branch("start", goal("g1", "Cold", 0)))
    assert start(f, {}).state["score"] == 0


def test_document_is_shown_and_recorded():
    f = flow(branch("start", document("d1", "Price list", "https://example.com/p.pdf"), yes_no()))
    result = start(f, {})
    assert result.items[0] == {
        "kind": "document",
        "card": "d1",
        "html": "<p>Our guide</p>",
        "title": "Price list",
        "url": "https://example.com/p.pdf",
    }
    assert result.events == [
        Event("document", "d1", {"title": "Price list", "url": "https://example.com/p.pdf"})
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/documents/3/guide.pdf", "/documents/3/guide.pdf"),
        ("mailto:sales@example.com", "mailto:sales@example.com"),
        ("javascript:alert(1)", ""),
        ("JavaScript:alert(1)", ""),
        ("data:text/html,<b>x</b>", ""),
        ("guide.pdf", ""),
        (None, ""),
    ],
)
def test_document_urls_are_limited_to_safe_schemes(url, shown):
    f = flow(branch("start", document("d1", url=url)))
    assert start(f, {}).items[0]["url"] == shown


def test_jump_is_invisible_and_continues_at_the_target():
    f = flow(
        branch("start", message("m1"), jump("j1", "end"), message("never")),
        branch("end", message("m2", "<p>Bye</p>")),
    )
    result = start(f, {})
    assert result.items == [
        {"kind": "message", "card": "m1", "html": "<p>Hello</p>"},
        {"kind": "message", "card": "m2", "html": "<p>Bye</p>"},
        END,
    ]
    assert kinds(result.events) == ["completed"]


def test_jump_back_to_a_branch_with_a_question_asks_again():
    f = flow(
        branch("start", yes_no(yes="again")),
        branch("again", message("m1"), jump("j1", "start")),
    )
    result = answer(f, start(f, {}).state, "q1", 0, {})
    assert [item["kind"] for item in result.items] == ["answer", "message", "question"]
    assert result.awaiting == {"card": "q1", "kind": "question"}
    again = answer(f, result.state, "q1", 1, {})
    assert again.status == "completed"
    assert again.state["step"] == 2


def test_dangling_targets_raise_flow_error():
    with pytest.raises(engine.FlowError):
        start(flow(branch("start", jump("j1", "nowhere"))), {})
    with pytest.raises(engine.FlowError):
        start(flow(branch("start", jump("j1", ""))), {})
    f = flow(branch("start", yes_no(yes="nowhere")))
    state = start(f, {}).state
    before = copy.deepcopy(state)
    with pytest.raises(engine.FlowError):
        answer(f, state, "q1", 0, {})
    assert state == before


def test_duplicate_keys_resolve_to_the_first_branch():
    f = flow(
        branch("start", jump("j1", "x")),
        branch("x", message("first")),
        branch("x", message("second")),
    )
    assert start(f, {}).items[0]["card"] == "first"


# -- the loop cap ------------------------------------------------------------------------------


def test_a_loop_without_input_hits_the_cap():
    f = flow(branch("start", message("m1"), jump("j1", "b")), branch("b", jump("j2", "start")))
    with pytest.raises(engine.FlowError, match="loops"):
        start(f, {})


def test_a_skipped_capture_does_not_stop_a_loop():
    f = flow(
        branch("start", capture("c1", "email", field="email", policy="skip_if_known")),
        branch("b", jump("j1", "start")),
    )
    f["branches"][0]["cards"].append(jump("j0", "b"))
    assert start(f, {}).awaiting == {"card": "c1", "kind": "capture"}
    with pytest.raises(engine.FlowError):
        start(f, {"email": "a@example.com"})


def test_the_cap_counts_cards():
    cap = engine.MAX_CARDS_PER_ADVANCE
    fits = flow(branch("start", *[goal(f"g{i}") for i in range(cap)]))
    assert start(fits, {}).status == "completed"
    too_long = flow(branch("start", *[goal(f"g{i}") for i in range(cap + 1)]))
    with pytest.raises(engine.FlowError):
        start(too_long, {})


# -- captures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "browser", "label"),
    [
        ("email", "email", "Your e-mail address"),
        ("phone", "tel", "Your phone number"),
        ("text", "text", "Your answer"),
        ("number", "number", "A number"),
        ("date", "date", "A date"),
        ("picklist", "select", "Your choice"),
        ("bogus", "text", "Your answer"),
    ],
)
def test_capture_item_maps_the_input_and_labels_it(kind, browser, label):
    options = [{"value": "a", "label": "A"}, {"value": "", "label": "B"}]
    card = capture("c1", kind, html="", placeholder="Type here", required=True, options=options)
    result = start(flow(branch("start", card)), {})
    assert result.items == [
        {
            "kind": "capture",
            "card": "c1",
            "html": "",
            "input": browser,
            "label": label,
            "placeholder": "Type here",
            "required": True,
            "options": (
                [{"value": "a", "label": "A"}, {"value": "B", "label": "B"}]
                if kind == "picklist"
                else []
            ),
        }
    ]
    assert result.awaiting == {"card": "c1", "kind": "capture"}


def test_capture_label_is_the_prompt_as_text():
    card = capture(
        "c1", "email", html='<p>Your <b>work</b> e-mail, {{ person.name|"friend" }}?</p>'
    )
    item = start(flow(branch("start", card)), {}).items[0]
    assert item["label"] == "Your work e-mail, friend?"
    assert item["html"] == "<p>Your <b>work</b> e-mail, friend?</p>"


def test_long_prompts_are_shortened_for_the_label():
    card = capture("c1", html="<p>" + "word " * 60 + "</p>")
    label = start(flow(branch("start", card)), {}).items[0]["label"]
    assert len(label) <= 120
    assert label.endswith("word…")


def test_valid_capture_is_echoed_stored_and_recorded():
    f = flow(
        branch(
            "start",
            capture("c1", "email", field="email"),
            message("m1", "<p>Thanks, we'll write to {{ person.email }}</p>"),
        )
    )
    result = answer(f, start(f, {}).state, "c1", " Ann@Example.COM ", {})
    assert result.items == [
        {"kind": "answer", "card": "c1", "text": "Ann@Example.COM"},
        {"kind": "message", "card": "m1", "html": "<p>Thanks, we'll write to Ann@example.com</p>"},
        END,
    ]
    assert result.events == [
        Event("engaged", "c1", {}),
        Event("answered", "c1", {"value": "Ann@example.com", "text": "Ann@Example.COM"}),
        Event("captured", "c1", {"field": "email", "value": "Ann@example.com"}),
        COMPLETED,
    ]
    assert result.person_updates == {"email": "Ann@example.com"}
    assert result.state["values"] == {"email": "Ann@example.com"}


def test_capture_without_field_stores_nothing():
    f = flow(branch("start", capture("c1", "text")))
    result = answer(f, start(f, {}).state, "c1", "hello", {})
    assert result.person_updates == {}
    assert kinds(result.events) == ["engaged", "answered", "completed"]


@pytest.mark.parametrize(
    ("kind", "bad", "good", "stored", "extra"),
    [
        ("email", "ann@", "ann@example.com", "ann@example.com", {}),
        ("phone", "12", "+33 6 12 34 56 78", "+33612345678", {}),
        ("text", "x" * 501, "Hello", "Hello", {}),
        ("number", "1,5", "1.5", 1.5, {}),
        ("number", "11", "10", 10, {"max": 10}),
        ("date", "2025-02-30", "2025-02-28", "2025-02-28", {}),
        ("picklist", "z", "a", "a", {"options": [{"value": "a", "label": "A"}]}),
    ],
)
def test_each_input_type_retries_then_accepts(kind, bad, good, stored, extra):
    f = flow(branch("start", capture("c1", kind, field="f", **extra)))
    state = start(f, {}).state

    retry = answer(f, state, "c1", bad, {})
    assert [item["kind"] for item in retry.items] == ["retry"]
    assert retry.items[0]["card"] == "c1"
    assert retry.items[0]["text"]
    assert [e.kind for e in retry.events] == ["rejected"]
    assert retry.state == state
    assert retry.awaiting == {"card": "c1", "kind": "capture"}
    assert retry.status == "active"
    assert retry.person_updates == {}

    accepted = answer(f, retry.state, "c1", good, {})
    assert accepted.person_updates == {"f": stored}
    assert accepted.state["step"] == 1


def test_retry_uses_the_editor_message():
    f = flow(branch("start", capture("c1", "email", retry="Hmm, that e-mail looks odd.")))
    retry = answer(f, start(f, {}).state, "c1", "nope", {})
    assert retry.items == [{"kind": "retry", "card": "c1", "text": "Hmm, that e-mail looks odd."}]
    assert retry.events == [Event("rejected", "c1", {"reason": "invalid"})]


def test_blocked_email_domains_are_retried():
    f = flow(branch("start", capture("c1", "email", field="email")))
    state = start(f, {}).state
    retry = answer(f, state, "c1", "ann@gmail.com", {}, blocked_email_domains=["gmail.com"])
    assert retry.items == [
        {"kind": "retry", "card": "c1", "text": "Please use your work e-mail address."}
    ]
    assert retry.events == [Event("rejected", "c1", {"reason": "blocked_domain"})]


def test_site_text_limit_is_applied():
    f = flow(branch("start", capture("c1", "text")))
    retry = answer(f, start(f, {}).state, "c1", "x" * 11, {}, max_text_length=10)
    assert retry.events == [Event("rejected", "c1", {"reason": "too_long"})]


@pytest.mark.parametrize("value", [None, "", "  "])
def test_optional_capture_can_be_skipped(value):
    f = flow(branch("start", capture("c1", "email", field="email"), message("m1")))
    result = answer(f, start(f, {}).state, "c1", value, {"email": "old@example.com"})
    assert result.items[0] == {"kind": "answer", "card": "c1", "text": "Skipped"}
    assert result.events[:2] == [
        Event("engaged", "c1", {}),
        Event("answered", "c1", {"value": None, "text": "Skipped"}),
    ]
    assert "captured" not in kinds(result.events)
    assert result.person_updates == {}
    assert result.state["step"] == 1
    assert result.status == "completed"


@pytest.mark.parametrize("value", [None, ""])
def test_required_capture_cannot_be_skipped(value):
    f = flow(branch("start", capture("c1", "email", required=True)))
    state = start(f, {}).state
    result = answer(f, state, "c1", value, {})
    assert result.items == [
        {"kind": "retry", "card": "c1", "text": "We need an answer to this one to continue."}
    ]
    assert result.events == [Event("rejected", "c1", {"reason": "required"})]
    assert result.state == state


@pytest.mark.parametrize("value", [3, 1.5, True, ["a"], {"a": 1}])
def test_capture_rejects_non_text_answers(value):
    f = flow(branch("start", capture("c1")))
    with pytest.raises(engine.InvalidAnswer):
        answer(f, start(f, {}).state, "c1", value, {})


# -- policies ----------------------------------------------------------------------------------


def policy_flow(policy):
    return flow(
        branch(
            "start",
            message("m0"),
            capture("c1", "email", field="email", policy=policy),
            message("m1", "<p>{{ person.email }}</p>"),
        )
    )


def test_skip_if_known_skips_when_known():
    result = start(policy_flow("skip_if_known"), {"email": "ann@example.com"})
    assert result.items == [
        {"kind": "message", "card": "m0", "html": "<p>Hello</p>"},
        {"kind": "message", "card": "m1", "html": "<p>ann@example.com</p>"},
        END,
    ]
    assert result.events == [COMPLETED]
    assert result.state["step"] == 0


@pytest.mark.parametrize("person", [{}, {"email": ""}, {"email": "  "}, {"email": None}])
def test_skip_if_known_asks_when_unknown(person):
    f = policy_flow("skip_if_known")
    result = start(f, person)
    assert result.awaiting == {"card": "c1", "kind": "capture"}
    after = answer(f, result.state, "c1", "bo@example.com", person)
    assert after.person_updates == {"email": "bo@example.com"}


def test_skip_if_known_sees_values_captured_earlier_in_the_conversation():
    f = flow(
        branch(
            "start",
            capture("c1", "email", field="email"),
            yes_no(yes="again"),
        ),
        branch("again", capture("c2", "email", field="email", policy="skip_if_known")),
    )
    state = answer(f, start(f, {}).state, "c1", "ann@example.com", {}).state
    # The caller did not persist the update (the preview): the state still remembers it.
    result = answer(f, state, "q1", 0, {})
    assert result.status == "completed"
    assert [item["kind"] for item in result.items] == ["answer", "end"]


def test_keep_existing_asks_but_does_not_overwrite():
    f = policy_flow("keep_existing")
    person = {"email": "ann@example.com"}
    state = start(f, person).state
    assert state["awaiting"] == "c1"
    result = answer(f, state, "c1", "bo@example.com", person)
    assert result.person_updates == {}
    assert result.state["values"] == {}
    assert Event("captured", "c1", {"field": "email", "value": "bo@example.com"}) in result.events
    assert result.items[1] == {"kind": "message", "card": "m1", "html": "<p>ann@example.com</p>"}


def test_keep_existing_writes_when_unknown():
    f = policy_flow("keep_existing")
    result = answer(f, start(f, {}).state, "c1", "bo@example.com", {})
    assert result.person_updates == {"email": "bo@example.com"}


def test_always_overwrites():
    f = policy_flow("always")
    person = {"email": "ann@example.com"}
    result = answer(f, start(f, person).state, "c1", "bo@example.com", person)
    assert result.person_updates == {"email": "bo@example.com"}
    assert result.items[1]["html"] == "<p>bo@example.com</p>"


# -- steps, engagement, protocol errors --------------------------------------------------------


def test_steps_count_accepted_answers_and_engaged_fires_once():
    f = flow(branch("start", capture("c1", "email", required=True), yes_no(), capture("c2")))
    state = start(f, {}).state
    assert state["step"] == 0

    rejected = answer(f, state, "c1", "bad", {})
    assert "engaged" not in kinds(rejected.events)
    assert rejected.state["step"] == 0

    first = answer(f, rejected.state, "c1", "ann@example.com", {})
    assert kinds(first.events) == ["engaged", "answered"]
    assert first.state["step"] == 1

    second = answer(f, first.state, "q1", 0, {})
    assert kinds(second.events) == ["answered"]
    assert second.state["step"] == 2

    third = answer(f, second.state, "c2", None, {})
    assert kinds(third.events) == ["answered", "completed"]
    assert third.state["step"] == 3


@pytest.mark.parametrize("card_id", ["q2", "nope", "", None, 0])
def test_answer_to_another_card_is_not_awaited(card_id):
    f = flow(branch("start", yes_no(), yes_no("q2")))
    with pytest.raises(engine.NotAwaited):
        answer(f, start(f, {}).state, card_id, 0, {})


def test_replaying_an_answered_card_is_not_awaited():
    f = flow(branch("start", yes_no(), yes_no("q2")))
    state = answer(f, start(f, {}).state, "q1", 0, {}).state
    with pytest.raises(engine.NotAwaited):
        answer(f, state, "q1", 0, {})


def test_answer_leaves_its_inputs_untouched():
    f = flow(branch("start", capture("c1", "email", field="email"), goal("g1", score=2)))
    state = start(f, {}).state
    person = {"name": "Ann"}
    before = copy.deepcopy((f, state, person))
    answer(f, state, "c1", "ann@example.com", person)
    assert (f, state, person) == before


def test_everything_is_json_safe():
    f = flow(
        branch(
            "start",
            message("m1"),
            document("d1"),
            goal("g1", score=1),
            capture("c1", "number", field="n"),
            question("q1", choice("A", target="b")),
        ),
        branch("b", message("m2")),
    )
    first = start(f, {})
    second = answer(f, first.state, "c1", "4.5", {})
    third = answer(f, second.state, "q1", 0, {})
    for result in (first, second, third):
        payload = {
            "state": result.state,
            "items": result.items,
            "events": [event.as_dict() for event in result.events],
            "updates": result.person_updates,
            "awaiting": result.awaiting,
        }
        assert json.loads(json.dumps(payload)) == payload
    assert third.state["values"] == {"n": 4.5}


def test_teaser_is_the_poked_first_question_as_text():
    poked = flow(
        branch("start", yes_no(html='<p>Hi {{ person.name|"you" }}, a <b>demo</b>?</p>', poke=True))
    )
    assert teaser(poked) == "Hi you, a demo?"
    assert teaser(flow(branch("start", yes_no()))) is None
    assert teaser(flow(branch("start", message("m1"), yes_no(poke=True)))) is None
    assert teaser({}) is None
