"""check_flow(): each publish rule, no false positives, and no crash on half-built drafts."""

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
from wagtail_dynchat.engine import Problem, check_flow


def codes(problems):
    return [(p.code, p.branch, p.card, p.choice, p.field) for p in problems]


def test_a_valid_flow_with_merges_has_no_problems():
    f = flow(
        branch(
            "start",
            question(
                "q1",
                choice("Demo", "demo", "demo"),
                choice("Pricing", "pricing", "pricing"),
                choice("Just looking"),
                poke=True,
            ),
            message("m1"),
            message("m2"),
        ),
        branch("demo", capture("c1", "email", field="email", required=True), jump("j1", "book")),
        branch("pricing", document("d1"), goal("g1", "Pricing", 1), jump("j2", "book")),
        branch(
            "book",
            capture("c2", "picklist", options=[{"value": "a", "label": "A"}]),
            capture("c3", "number", min=1, max=1),
            goal("g2", "Booked", 3),
        ),
        branch("again", question("q2", choice("Again", target="start"))),
    )
    f["branches"][3]["cards"].append(jump("j3", "again"))
    assert check_flow(f) == []


def test_jump_loop_through_a_question_is_fine():
    f = flow(
        branch("start", question("q1", choice("Again", target="b"), choice("Stop"))),
        branch("b", message("m1"), jump("j1", "start")),
    )
    assert check_flow(f) == []


def test_problems_are_problem_instances_with_messages():
    [problem] = check_flow(flow(branch("start")))
    assert isinstance(problem, Problem)
    assert problem == Problem(0, None, None, "cards", "empty_branch", "This branch has no cards.")
    with pytest.raises(AttributeError):
        problem.code = "x"


def test_duplicate_keys():
    f = flow(
        branch("start", question("q1", choice("A", target="x"), choice("B", target="y"))),
        branch("x", message("m1")),
        branch("y", message("m2")),
        branch("x", message("m3")),
        branch("x", message("m4")),
    )
    assert codes(check_flow(f)) == [
        ("duplicate_key", 3, None, None, "key"),
        ("duplicate_key", 4, None, None, "key"),
    ]
    assert "“x”" in check_flow(f)[0].message


@pytest.mark.parametrize("key", ["", "  ", None])
def test_missing_key(key):
    f = flow(branch("start", message("m1")), {"key": key, "cards": [message("m2")]})
    assert codes(check_flow(f)) == [("missing_key", 1, None, None, "key")]


def test_dangling_targets():
    f = flow(
        branch(
            "start",
            question("q1", choice("A", target="nowhere"), choice("B", target="b"), choice("C")),
            message("m1"),
        ),
        branch("b", message("m2"), jump("j1", "gone")),
    )
    problems = check_flow(f)
    assert codes(problems) == [
        ("dangling_target", 0, 0, 0, "target"),
        ("dangling_target", 1, 1, None, "target"),
    ]
    assert problems[0].message == "No branch has the key “nowhere”."


def test_jump_without_target():
    f = flow(branch("start", message("m1"), jump("j1", "")))
    assert codes(check_flow(f)) == [("missing_target", 0, 1, None, "target")]


def test_unreachable_branches_including_chains():
    f = flow(
        branch("start", question("q1", choice("A", target="a"), choice("B"))),
        branch("a", message("m1")),
        branch("island", message("m2"), jump("j1", "island2")),
        branch("island2", question("q2", choice("Back", target="a"))),
    )
    assert codes(check_flow(f)) == [
        ("unreachable", 2, None, None, "key"),
        ("unreachable", 3, None, None, "key"),
    ]


def test_targets_of_dead_cards_do_not_reach():
    f = flow(
        branch("start", jump("j1", "a"), jump("j2", "b")),
        branch("a", message("m1")),
        branch("b", message("m2")),
    )
    assert codes(check_flow(f)) == [
        ("after_jump", 0, 1, None, None),
        ("unreachable", 2, None, None, "key"),
    ]


def test_loop_without_input():
    f = flow(
        branch("start", message("m1"), question("q1", choice("Go", target="a"), choice("Stay"))),
        branch("a", message("m2"), goal("g1"), jump("j1", "b")),
        branch("b", document("d1"), jump("j2", "a")),
    )
    assert codes(check_flow(f)) == [
        ("loop", 1, 2, None, "target"),
        ("loop", 2, 1, None, "target"),
    ]


def test_jump_to_its_own_branch_loops():
    f = flow(branch("start", message("m1"), jump("j1", "start")))
    assert codes(check_flow(f)) == [("loop", 0, 1, None, "target")]


def test_a_silent_jump_into_a_loop_is_not_itself_on_the_loop():
    f = flow(
        branch("start", question("q1", choice("Go", target="a"))),
        branch("a", jump("j1", "b")),
        branch("b", jump("j2", "c")),
        branch("c", jump("j3", "b")),
    )
    assert codes(check_flow(f)) == [
        ("loop", 2, 0, None, "target"),
        ("loop", 3, 0, None, "target"),
    ]


@pytest.mark.parametrize(
    ("card", "loops"),
    [
        (capture("c1", "email", field="email", policy="always"), False),
        (capture("c1", "email", field="email", policy="keep_existing"), False),
        (capture("c1", "email", field="email", policy="skip_if_known"), True),
        # Without a field nothing can be known, so the card is always asked.
        (capture("c1", "email", policy="skip_if_known"), False),
        (question("q2", choice("Ok")), False),
        (message("m2"), True),
    ],
)
def test_which_cards_count_as_input_for_loops(card, loops):
    f = flow(
        branch("start", question("q1", choice("Go", target="a"))),
        branch("a", card, jump("j1", "a")),
    )
    expected = [("loop", 1, 1, None, "target")] if loops else []
    assert codes(check_flow(f)) == expected


def test_only_the_first_card_after_a_jump_is_flagged():
    f = flow(
        branch("start", message("m1"), jump("j1", "b"), message("m2"), message("m3")),
        branch("b", message("m4")),
    )
    problems = check_flow(f)
    assert codes(problems) == [("after_jump", 0, 2, None, None)]
    assert problems[0].message == "This card follows a jump, so it is never shown."


def test_cards_after_a_question_that_always_leaves_are_flagged():
    f = flow(
        branch(
            "start", question("q1", choice("A", target="b"), choice("B", target="b")), message("m")
        ),
        branch("b", message("m2")),
    )
    assert codes(check_flow(f)) == [("after_question", 0, 1, None, None)]


def test_empty_branch():
    f = flow(
        branch("start", question("q1", choice("A", target="b"), choice("B"))),
        branch("b"),
    )
    assert codes(check_flow(f)) == [("empty_branch", 1, None, None, "cards")]


def test_poke_only_on_the_very_first_card():
    ok = flow(branch("start", question("q1", choice("A"), poke=True)))
    assert check_flow(ok) == []
    second_card = flow(branch("start", message("m1"), question("q1", choice("A"), poke=True)))
    assert codes(check_flow(second_card)) == [("poke", 0, 1, None, "poke")]
    other_branch = flow(
        branch("start", question("q1", choice("A", target="b"), choice("B"))),
        branch("b", question("q2", choice("A"), poke=True)),
    )
    assert codes(check_flow(other_branch)) == [("poke", 1, 0, None, "poke")]


def test_question_without_choices_and_choice_without_label():
    f = flow(branch("start", question("q1"), question("q2", choice(" "), choice("Ok"))))
    assert codes(check_flow(f)) == [
        ("no_choices", 0, 0, None, "choices"),
        ("missing_label", 0, 1, 0, "label"),
    ]


def test_picklist_without_options_and_bounds():
    f = flow(
        branch(
            "start",
            capture("c1", "picklist"),
            capture("c2", "picklist", options=[{"value": "", "label": ""}]),
            capture("c3", "number", min=5, max=1),
            capture("c4", "text", min=10, max=2),
            capture("c5", "number", min=1, max=None),
        )
    )
    assert codes(check_flow(f)) == [
        ("no_options", 0, 0, None, "options"),
        ("no_options", 0, 1, None, "options"),
        ("bounds", 0, 2, None, "min"),
        ("bounds", 0, 3, None, "min"),
    ]


def test_no_branches():
    for f in ({}, {"branches": []}, {"branches": None}, None, []):
        assert codes(check_flow(f)) == [("no_branches", None, None, None, "branches")]


@pytest.mark.parametrize(
    "draft",
    [
        {"branches": [None]},
        {"branches": [{}]},
        {"branches": [{"key": None, "cards": None}]},
        {"branches": [{"key": "start", "cards": [None, {}, {"type": None}, 3, "x"]}]},
        {"branches": [{"key": "start", "cards": [{"type": "question", "choices": None}]}]},
        {"branches": [{"key": "start", "cards": [{"type": "question", "choices": [None, {}]}]}]},
        {"branches": [{"key": "start", "cards": [{"type": "jump", "target": None}]}]},
        {"branches": [{"key": "start", "cards": [{"type": "jump"}]}]},
        {
            "branches": [
                {"key": 3, "cards": [{"type": "capture", "input": "picklist", "options": None}]}
            ]
        },
        {"branches": [{"key": "s", "cards": [{"type": "capture", "min": "1", "max": None}]}]},
        {"branches": [{"key": "s", "cards": [{"type": "capture", "min": True, "max": 0}]}]},
        {"branches": [{"key": "s", "cards": [{"type": "goal", "score": "x"}]}], "extra": 1},
    ],
)
def test_half_built_drafts_give_problems_not_crashes(draft):
    problems = check_flow(draft)
    assert all(isinstance(p, Problem) and p.code and p.message for p in problems)


def test_half_built_draft_problems_are_exact():
    draft = {
        "branches": [
            {"key": "start", "cards": [{"type": "question", "choices": [None, {}]}]},
            {"cards": None},
        ]
    }
    assert codes(check_flow(draft)) == [
        ("missing_key", 1, None, None, "key"),
        ("missing_label", 0, 0, 0, "label"),
        ("missing_label", 0, 0, 1, "label"),
        ("empty_branch", 1, None, None, "cards"),
    ]
