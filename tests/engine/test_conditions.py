"""Condition cards: branching on facts at runtime, and their publish-time checks."""

import json

import pytest

from tests.engine import branch, capture, choice, flow, goal, jump, message, question
from wagtail_dynchat.engine import (
    Event,
    FlowError,
    NotAwaited,
    answer,
    check_flow,
    start,
)


def rule(attribute, operator="is", value="", type="text", key="", keyed=False):
    return {
        "attribute": attribute,
        "type": type,
        "operator": operator,
        "value": value,
        "key": key,
        "keyed": keyed,
    }


def when(*rules, match="all"):
    """An audience of one group."""
    return {"match": "any", "groups": [{"match": match, "rules": list(rules)}]}


def condition(id, audience, target, otherwise=""):
    return {
        "id": id,
        "type": "condition",
        "audience": audience,
        "target": target,
        "otherwise": otherwise,
    }


MOBILE = when(rule("visitor.device", value="mobile"))
KNOWN = when(rule("person.email", "is_not_empty"))


def shown(result):
    return [item.get("card") for item in result.items if item["kind"] != "end"]


def kinds(events):
    return [event.kind for event in events]


# -- runtime -------------------------------------------------------------------------------------


def three_way(otherwise=""):
    return flow(
        branch("start", message("m0"), condition("c1", MOBILE, "phone", otherwise), message("m1")),
        branch("phone", message("m2")),
        branch("other", message("m3")),
    )


def test_a_matching_condition_goes_to_its_target_invisibly():
    result = start(three_way("other"), None, facts={"visitor.device": "Mobile"})
    assert shown(result) == ["m0", "m2"]
    assert result.events == [
        Event("condition", "c1", {"matched": True}),
        Event("completed", None, {}),
    ]
    assert result.status == "completed"


def test_a_failing_condition_goes_to_otherwise():
    result = start(three_way("other"), None, facts={"visitor.device": "desktop"})
    assert shown(result) == ["m0", "m3"]
    assert result.events[0] == Event("condition", "c1", {"matched": False})


def test_a_failing_condition_without_otherwise_continues_below():
    result = start(three_way(), None, facts={"visitor.device": "desktop"})
    assert shown(result) == ["m0", "m1"]
    assert result.state["branch"] == 0


@pytest.mark.parametrize("facts", [None, {}])
def test_without_facts_everything_is_empty(facts):
    f = flow(
        branch("start", condition("c1", when(rule("person.email", "is_empty")), "anon")),
        branch("anon", message("m1")),
    )
    assert shown(start(f, None, facts=facts)) == ["m1"]
    # Facts are the qualified ones only: the person mapping feeds tokens, not conditions.
    assert shown(start(f, {"email": "ann@example.com"}, facts=facts)) == ["m1"]


def test_conditions_chain_and_count_towards_the_card_limit():
    f = flow(
        branch("start", condition("c1", MOBILE, "a", "b")),
        branch("a", condition("c2", KNOWN, "known", "b")),
        branch("b", message("m1")),
        branch("known", message("m2")),
    )
    result = start(f, None, facts={"visitor.device": "mobile", "person.email": "a@b.c"})
    assert shown(result) == ["m2"]
    assert kinds(result.events) == ["condition", "condition", "completed"]


def test_a_condition_loop_is_stopped():
    f = flow(branch("start", message("m1"), condition("c1", MOBILE, "start")))
    with pytest.raises(FlowError, match="loops"):
        start(f, None, facts={"visitor.device": "mobile"})
    # The same flow ends when the condition does not hold: loops depend on facts.
    assert shown(start(f, None, facts={"visitor.device": "desktop"})) == ["m1"]


def test_a_condition_naming_an_unknown_branch_is_a_flow_error():
    f = flow(branch("start", condition("c1", MOBILE, "a", "nowhere")), branch("a", message("m1")))
    assert shown(start(f, None, facts={"visitor.device": "mobile"})) == ["m1"]
    with pytest.raises(FlowError, match="nowhere"):
        start(f, None, facts={})


def test_an_invalid_audience_does_not_match():
    f = flow(
        branch("start", condition("c1", when(rule("visitor.device", "bigger")), "a", "b")),
        branch("a", message("m1")),
        branch("b", message("m2")),
    )
    assert shown(start(f, None, facts={"visitor.device": "mobile"})) == ["m2"]


def test_a_condition_without_rules_always_matches():
    f = flow(
        branch("start", condition("c1", {"groups": []}, "a"), message("m0")),
        branch("a", message("m1")),
    )
    assert shown(start(f, None)) == ["m1"]


def test_captured_values_are_visible_to_later_conditions():
    f = flow(
        branch(
            "start",
            capture("e1", "email", field="email"),
            condition("c1", KNOWN, "known", "anon"),
        ),
        branch("known", message("m1")),
        branch("anon", message("m2")),
    )
    facts = {"person.email": "", "visitor.known": False}
    first = start(f, None, facts=facts)
    assert first.awaiting == {"card": "e1", "kind": "capture"}
    known = answer(f, first.state, "e1", "Ann@Example.com", None, facts=facts)
    assert shown(known) == ["e1", "m1"]
    skipped = answer(f, first.state, "e1", None, None, facts=facts)
    assert shown(skipped) == ["e1", "m2"]


def test_captured_email_makes_the_visitor_known_and_company_follows_the_person():
    f = flow(
        branch(
            "start",
            capture("e1", "email", field="email"),
            capture("t1", "text", field="company"),
            condition(
                "c1",
                when(
                    rule("visitor.known", value="yes", type="boolean"),
                    rule("company.name", value="acme"),
                ),
                "yes",
            ),
            message("m0"),
        ),
        branch("yes", message("m1")),
    )
    facts = {"visitor.known": False, "company.name": ""}
    state = start(f, None, facts=facts).state
    state = answer(f, state, "e1", "ann@example.com", None, facts=facts).state
    result = answer(f, state, "t1", "ACME", None, facts=facts)
    assert shown(result) == ["t1", "m1"]


def test_captured_values_persist_in_state_across_calls():
    # The value is captured in one call and tested by a condition reached in a later one.
    f = flow(
        branch(
            "start",
            question("q1", choice("Demo", "demo"), choice("Docs", "docs"), field="interest"),
            question("q2", choice("Go on")),
            condition("c1", when(rule("person.interest", value="DEMO")), "demo"),
            message("m0"),
        ),
        branch("demo", message("m1")),
    )
    state = start(f, None).state
    state = answer(f, state, "q1", 0, None).state
    assert shown(answer(f, state, "q2", 0, None)) == ["q2", "m1"]
    state = start(f, None).state
    state = answer(f, state, "q1", 1, None).state
    assert shown(answer(f, state, "q2", 0, None)) == ["q2", "m0"]


def test_captured_values_shadow_the_callers_facts():
    f = flow(
        branch(
            "start",
            capture("t1", "text", field="job_title"),
            condition("c1", when(rule("person.job_title", "contains", "cto")), "boss"),
            message("m0"),
        ),
        branch("boss", message("m1")),
    )
    facts = {"person.job_title": "Intern"}
    state = start(f, None, facts=facts).state
    assert shown(answer(f, state, "t1", "CTO", None, facts=facts)) == ["t1", "m1"]


def test_a_value_kept_by_policy_is_not_seen_as_captured():
    f = flow(
        branch(
            "start",
            capture("t1", "text", field="job_title", policy="keep_existing"),
            condition("c1", when(rule("person.job_title", value="cto")), "boss"),
            message("m0"),
        ),
        branch("boss", message("m1")),
    )
    person, facts = {"job_title": "Intern"}, {"person.job_title": "Intern"}
    state = start(f, person, facts=facts).state
    assert shown(answer(f, state, "t1", "CTO", person, facts=facts)) == ["t1", "m0"]


def test_answer_uses_the_facts_it_is_given():
    f = flow(
        branch("start", question("q1", choice("Ok")), condition("c1", MOBILE, "a")),
        branch("a", message("m1")),
    )
    state = start(f, None, facts={"visitor.device": "desktop"}).state
    assert shown(answer(f, state, "q1", 0, None, facts={"visitor.device": "mobile"})) == [
        "q1",
        "m1",
    ]
    assert shown(answer(f, state, "q1", 0, None)) == ["q1"]


def test_a_condition_is_never_awaited():
    f = flow(
        branch("start", condition("c1", MOBILE, "a"), question("q1", choice("Ok"))),
        branch("a", message("m1")),
    )
    result = start(f, None)
    assert result.awaiting == {"card": "q1", "kind": "question"}
    with pytest.raises(NotAwaited):
        answer(f, result.state, "c1", 0, None)


def test_condition_events_and_state_are_json_safe():
    f = three_way("other")
    result = start(f, None, facts={"visitor.device": "mobile", "visitor.visits": 3})
    json.dumps([event.as_dict() for event in result.events])
    json.dumps(result.state)
    assert "visitor.device" not in json.dumps(result.state)  # facts are not stored


# -- check_flow ----------------------------------------------------------------------------------


def codes(problems):
    return [(p.code, p.branch, p.card, p.choice, p.field) for p in problems]


def test_a_sound_flow_with_conditions_has_no_problems():
    f = flow(
        branch("start", condition("c1", MOBILE, "phone", "desk")),
        branch("phone", question("q1", choice("Back", target="start"))),
        branch("desk", condition("c2", KNOWN, "known"), message("m1")),
        branch("known", goal("g1")),
    )
    assert check_flow(f) == []


def test_condition_targets_make_branches_reachable():
    f = flow(
        branch("start", condition("c1", MOBILE, "a"), message("m0")),
        branch("a", message("m1")),
        branch("b", message("m2")),
    )
    assert codes(check_flow(f)) == [("unreachable", 2, None, None, "key")]
    f["branches"][0]["cards"][0]["otherwise"] = "b"
    assert codes(check_flow(f)) == [("after_condition", 0, 1, None, None)]


def test_missing_and_dangling_condition_targets():
    f = flow(
        branch(
            "start",
            condition("c1", MOBILE, ""),
            condition("c2", MOBILE, "nowhere", "gone"),
            message("m0"),
        )
    )
    problems = check_flow(f)
    assert codes(problems) == [
        ("missing_target", 0, 0, None, "target"),
        ("dangling_target", 0, 1, None, "target"),
        ("dangling_target", 0, 1, None, "otherwise"),
        # Both ways out are set (if wrongly), so what follows is dead either way.
        ("after_condition", 0, 2, None, None),
    ]
    assert problems[0].message == "Choose the branch to go to when the rules match."
    assert problems[2].message == "No branch has the key “gone”."


@pytest.mark.parametrize("audience", [None, {}, {"groups": []}, {"groups": [{"rules": []}]}])
def test_a_condition_needs_rules(audience):
    f = flow(branch("start", condition("c1", audience, "a"), message("m0")), branch("a", goal("g")))
    problems = check_flow(f)
    assert codes(problems) == [("no_rules", 0, 0, None, "audience")]
    assert problems[0].message == (
        "Add at least one rule: without rules the condition always matches."
    )


def test_invalid_rules_are_problems_on_the_audience():
    audience = {
        "match": "any",
        "groups": [
            {"match": "all", "rules": [rule("visitor.device", value="mobile")]},
            {
                "match": "all",
                "rules": [
                    rule("visitor.device", value="mobile"),
                    rule("visitor.visits", "contains", "2", type="number"),
                    rule("", "is", ""),
                ],
            },
        ],
    }
    f = flow(branch("start", condition("c1", audience, "a"), message("m0")), branch("a", goal("g")))
    problems = check_flow(f)
    assert codes(problems) == [("invalid_rule", 0, 0, None, "audience")] * 3
    assert [p.message for p in problems] == [
        "Group 2, rule 2: “contains” cannot be used with number values.",
        "Group 2, rule 3: Choose what to check.",
        "Group 2, rule 3: Enter a value to compare with.",
    ]


def test_a_keyed_rule_without_key_is_a_problem():
    audience = when(rule("visitor.query", value="x", keyed=True))
    f = flow(branch("start", condition("c1", audience, "a"), message("m0")), branch("a", goal("g")))
    [problem] = check_flow(f)
    assert problem.code == "invalid_rule"
    assert problem.message == (
        "Group 1, rule 1: Enter the name to look up, such as the query parameter's name."
    )


def test_a_loop_through_a_condition_and_a_jump_is_a_loop():
    f = flow(
        branch("start", message("m0"), condition("c1", MOBILE, "a"), message("m1")),
        branch("a", goal("g1"), jump("j1", "start")),
    )
    problems = check_flow(f)
    assert codes(problems) == [
        ("loop", 0, 1, None, "target"),
        ("loop", 1, 1, None, "target"),
    ]
    assert problems[0].message.startswith("This condition can send visitors round in a circle")
    assert problems[1].message.startswith("This jump sends visitors round in a circle")


def test_a_loop_through_otherwise_is_a_loop():
    f = flow(
        branch("start", question("q1", choice("Go", target="a"))),
        branch("a", condition("c1", MOBILE, "end", "b")),
        branch("b", condition("c2", KNOWN, "end", "a")),
        branch("end", message("m1")),
    )
    assert codes(check_flow(f)) == [
        ("loop", 1, 0, None, "otherwise"),
        ("loop", 2, 0, None, "otherwise"),
    ]


def test_a_condition_to_its_own_branch_loops():
    f = flow(branch("start", message("m0"), condition("c1", MOBILE, "start"), message("m1")))
    assert codes(check_flow(f)) == [("loop", 0, 1, None, "target")]


@pytest.mark.parametrize(
    ("card", "loops"),
    [
        (question("q2", choice("Ok")), False),
        (capture("e1", "email", field="email"), False),
        (capture("e1", "email", field="email", policy="skip_if_known"), True),
        (message("m2"), True),
        (condition("c9", KNOWN, ""), True),  # a condition asks nothing
    ],
)
def test_what_breaks_a_loop_through_conditions(card, loops):
    f = flow(
        branch("start", question("q1", choice("Go", target="a"))),
        branch("a", card, condition("c1", MOBILE, "a")),
    )
    problems = [p for p in check_flow(f) if p.code == "loop"]
    assert codes(problems) == ([("loop", 1, 1, None, "target")] if loops else [])


def test_a_condition_after_an_input_does_not_loop():
    f = flow(branch("start", question("q1", choice("Again")), condition("c1", MOBILE, "start")))
    assert check_flow(f) == []


def test_cards_after_a_condition_that_always_leaves_are_flagged():
    f = flow(
        branch("start", condition("c1", MOBILE, "a", "b"), message("m0"), jump("j1", "c")),
        branch("a", message("m1")),
        branch("b", message("m2")),
        branch("c", message("m3")),
    )
    problems = check_flow(f)
    # The dead jump's target does not count as reachable.
    assert codes(problems) == [
        ("after_condition", 0, 1, None, None),
        ("unreachable", 3, None, None, "key"),
    ]
    assert problems[0].message == (
        "The condition above leads elsewhere whether or not it matches, "
        "so this card is never shown."
    )


@pytest.mark.parametrize(
    "card",
    [
        {"type": "condition"},
        {"type": "condition", "audience": "x", "target": None, "otherwise": 3},
        {"type": "condition", "audience": {"groups": [None, {"rules": [None, "x"]}]}},
    ],
)
def test_half_built_conditions_give_problems_not_crashes(card):
    f = flow(branch("start", {"id": "c1", **card}, message("m0")))
    assert check_flow(f)
    start(f, None)
