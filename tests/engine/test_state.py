"""States passed back to answer(): validation against the flow, and finding the awaited card."""

import pytest

from tests.engine import branch, capture, choice, flow, message, question
from wagtail_dynchat import engine
from wagtail_dynchat.engine import answer, start

FLOW = flow(
    branch("start", message("m1"), question("q1", choice("A"), choice("B", target="b"))),
    branch("b", capture("c1", "text"), message("m2")),
)


def active():
    return start(FLOW, {}).state


@pytest.mark.parametrize(
    "change",
    [
        {"branch": 2},
        {"branch": -1},
        {"branch": "0"},
        {"branch": True},
        {"card": 5},
        {"card": -1},
        {"card": None},
        {"step": -1},
        {"step": 1.0},
        {"status": "closed"},
        {"status": None},
        {"score": "3"},
        {"values": []},
        {"values": {"email": ["a"]}},
        {"awaiting": None},
        {"awaiting": 7},
        {"awaiting": "unknown-card"},
        {"awaiting": "m1", "card": 0},
        {"version": 2},
    ],
)
def test_states_that_do_not_fit_are_refused(change):
    state = {**active(), **change}
    with pytest.raises(engine.InvalidState):
        answer(FLOW, state, state.get("awaiting") or "q1", 0, {})


@pytest.mark.parametrize("state", [None, [], "state", 3])
def test_non_mapping_states_are_refused(state):
    with pytest.raises(engine.InvalidState):
        answer(FLOW, state, "q1", 0, {})


@pytest.mark.parametrize("missing", ["branch", "card", "step", "status"])
def test_missing_keys_are_refused(missing):
    state = active()
    del state[missing]
    with pytest.raises(engine.InvalidState):
        answer(FLOW, state, "q1", 0, {})


def test_completed_state_must_not_await():
    done = answer(FLOW, active(), "q1", 0, {}).state
    assert done["status"] == "completed"
    with pytest.raises(engine.InvalidState):
        answer(FLOW, {**done, "awaiting": "q1"}, "q1", 0, {})


def test_state_against_a_flow_without_branches_is_refused():
    with pytest.raises(engine.InvalidState):
        answer({"branches": []}, active(), "q1", 0, {})


def test_awaited_card_is_found_by_id_anywhere_in_the_flow():
    state = answer(FLOW, active(), "q1", 1, {}).state
    assert (state["branch"], state["card"], state["awaiting"]) == (1, 0, "c1")
    # The draft gained a card before the awaited one (a preview after an edit).
    edited = flow(
        branch("start", message("m1"), question("q1", choice("A"), choice("B", target="b"))),
        branch("b", message("new"), capture("c1", "text"), message("m2")),
    )
    result = answer(edited, state, "c1", "hello", {})
    assert [item.get("card") for item in result.items] == ["c1", "m2", None]
    assert (result.state["branch"], result.state["card"]) == (1, 3)


def test_optional_keys_default():
    state = active()
    del state["values"]
    del state["version"]
    assert answer(FLOW, state, "q1", 1, {}).state["values"] == {}
