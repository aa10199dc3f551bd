"""Audience rules: every operator on every type, validation, groups, explain() and summarise()."""

import datetime
import json

import pytest

from wagtail_dynchat.engine import (
    evaluate,
    explain,
    qualify_person_values,
    rule_errors,
    summarise,
    summarise_rule,
    validate_rule,
)
from wagtail_dynchat.engine.rules import OPERATORS, TYPES, rule_matches


def rule(attribute="person.x", type="text", operator="is", value="", key="", keyed=False):
    return {
        "attribute": attribute,
        "type": type,
        "operator": operator,
        "value": value,
        "key": key,
        "keyed": keyed,
    }


def group(*rules, match="all"):
    return {"match": match, "rules": list(rules)}


def audience(*groups, match="all"):
    return {"match": match, "groups": list(groups)}


def check(type, operator, value, fact):
    """Whether a single rule on ``person.x`` matches when the fact is ``fact``."""
    facts = {} if fact is MISSING else {"person.x": fact}
    result = rule_matches(rule(type=type, operator=operator, value=value), facts)
    # The same answer through the whole audience machinery.
    assert evaluate(audience(group(rule(type=type, operator=operator, value=value))), facts) is (
        result
    )
    return result


MISSING = object()


# -- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "fact", "expected"),
    [
        ("is", "ann", "Ann", True),
        ("is", "ann", "  ANN ", True),
        ("is", "  Ann  ", "ann", True),
        ("is", "new york", "New   York", True),
        ("is", "ann", "Anna", False),
        ("is", "5", 5, True),
        ("is", "2.5", 2.5, True),
        ("is", "true", True, True),
        ("is", "2025-01-31", datetime.date(2025, 1, 31), True),
        ("is", "straße", "STRASSE", True),  # casefold, not lower
        ("is", "ann", MISSING, False),
        ("is", "ann", None, False),
        ("is_not", "bob", "Ann", True),
        ("is_not", "ANN", "ann", False),
        ("is_not", "bob", MISSING, True),
        ("is_not", "bob", "", True),
        ("contains", "gmbh", "Acme GmbH", True),
        ("contains", "GMBH", "acme gmbh", True),
        ("contains", "ltd", "Acme GmbH", False),
        ("contains", "x", MISSING, False),
        ("starts_with", "ACME", "Acme GmbH", True),
        ("starts_with", "acme", "The Acme", False),
        ("starts_with", "a", "", False),
        ("in_list", "DE, AT", "at", True),
        ("in_list", "DE,AT", " de ", True),
        ("in_list", "DE\nAT", "AT", True),
        ("in_list", "DE,\r\nAT,", "at", True),
        ("in_list", "DE, AT", "CH", False),
        ("in_list", "DE, AT", "DE, AT", False),  # the fact is one value, not a list
        ("in_list", "DE, AT", MISSING, False),
        ("is_empty", "", MISSING, True),
        ("is_empty", "", None, True),
        ("is_empty", "", "", True),
        ("is_empty", "", "   ", True),
        ("is_empty", "", "x", False),
        ("is_empty", "ignored", "x", False),
        ("is_empty", "", ["a list"], True),  # no comparable value
        ("is_not_empty", "", "x", True),
        ("is_not_empty", "", "  ", False),
        ("is_not_empty", "", MISSING, False),
    ],
)
def test_text(operator, value, fact, expected):
    assert check("text", operator, value, fact) is expected


# -- number --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "fact", "expected"),
    [
        ("is", "3", 3, True),
        ("is", "3.0", "3", True),
        ("is", "3.50", 3.5, True),
        ("is", " 3 ", " 3.0 ", True),
        ("is", "-2", -2, True),
        ("is", "0.3", 0.3, True),
        ("is", "3", 4, False),
        ("is", "3", MISSING, False),
        ("is_not", "3", 4, True),
        ("is_not", "3", "3.00", False),
        ("is_not", "3", MISSING, True),
        ("is_not", "3", "many", False),  # unparseable: no verdict but "no"
        ("gt", "2", 3, True),
        ("gt", "2", 2, False),
        ("gt", "9", "10", True),  # numerically, not as text
        ("gt", "2.5", 2.51, True),
        ("gt", "-1", 0, True),
        ("gt", "2", MISSING, False),
        ("lt", "10", "9", True),
        ("lt", "0", -1, True),
        ("lt", "2", 2, False),
        ("lt", "2", MISSING, False),
        ("in_list", "1, 2, 3", 2, True),
        ("in_list", "1,2", "2.0", True),
        ("in_list", "1\n2.5", 2.5, True),
        ("in_list", "1, 2", 4, False),
        ("gt", "2", "many", False),
        ("gt", "2", "3 visits", False),
        ("gt", "2", "1e3", False),
        ("lt", "2", "NaN", False),
        ("lt", "2", float("nan"), False),
        ("gt", "2", float("inf"), False),
        ("is", "1", True, False),  # booleans are not numbers
        ("is", "1", [1], False),
        ("is_empty", "", "many", False),
        ("is_not_empty", "", "many", True),
        ("is_empty", "", 0, False),
        ("is_empty", "", MISSING, True),
        ("is_not_empty", "", 0, True),
    ],
)
def test_number(operator, value, fact, expected):
    assert check("number", operator, value, fact) is expected


# -- boolean -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "fact", "expected"),
    [
        ("is", "yes", True, True),
        ("is", "true", "yes", True),
        ("is", "TRUE", "Yes", True),
        ("is", "1", True, True),
        ("is", "no", "0", True),
        ("is", "false", False, True),
        ("is", "no", 0, True),
        ("is", "yes", 1, True),
        ("is", "true", False, False),
        ("is", "yes", MISSING, False),
        ("is", "yes", "maybe", False),
        ("is", "yes", 2, False),
        ("is_not", "yes", False, True),
        ("is_not", "yes", True, False),
        ("is_not", "yes", MISSING, True),
        ("is_not", "yes", "maybe", False),
        ("is_empty", "", False, False),
        ("is_empty", "", MISSING, True),
        ("is_not_empty", "", False, True),
    ],
)
def test_boolean(operator, value, fact, expected):
    assert check("boolean", operator, value, fact) is expected


# -- date ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "fact", "expected"),
    [
        ("is", "2025-01-31", "2025-01-31", True),
        ("is", "2025-01-31", " 2025-01-31 ", True),
        ("is", "2025-01-31", datetime.date(2025, 1, 31), True),
        ("is", "2025-01-31", datetime.datetime(2025, 1, 31, 23, 59), True),
        ("is", "2025-01-31", "2025-01-31T23:59:00", True),
        ("is", "2025-01-31", "2025-01-31 08:00", True),
        # Compared by the date the value names, in its own offset.
        ("is", "2025-01-31", "2025-01-31T23:30:00+05:00", True),
        ("is", "2025-01-31", "2025-02-01T00:30:00Z", False),
        ("is", "2025-01-31", "2025-02-01", False),
        ("is", "2025-01-31", MISSING, False),
        ("is_not", "2025-01-31", "2025-02-01", True),
        ("is_not", "2025-01-31", "2025-01-31T10:00", False),
        ("is_not", "2025-01-31", MISSING, True),
        ("gt", "2025-01-31", "2025-02-01", True),
        ("gt", "2025-01-31", "2025-01-31", False),
        ("gt", "2025-01-31", "2024-12-31", False),
        ("lt", "2025-01-31", "2024-12-31", True),
        ("lt", "2025-01-31", datetime.date(2025, 1, 31), False),
        ("lt", "2025-01-31", MISSING, False),
        ("is", "2025-01-31", "31/01/2025", False),
        ("is", "2025-01-31", "20250131", False),
        ("gt", "2024-01-01", "2025-02-30", False),
        ("gt", "2024-01-01", "2025-01-31Tnonsense", False),
        ("gt", "2024-01-01", 20250131, False),
        ("is_empty", "", "not a date", False),
        ("is_not_empty", "", "not a date", True),
        ("is_empty", "", MISSING, True),
    ],
)
def test_date(operator, value, fact, expected):
    assert check("date", operator, value, fact) is expected


# -- which operators apply to which types ---------------------------------------------------------

# Spelled out here rather than read from the module, so that a change to the table shows up.
APPLICABLE = {
    "text": {"is", "is_not", "contains", "starts_with", "in_list", "is_empty", "is_not_empty"},
    "number": {"is", "is_not", "gt", "lt", "in_list", "is_empty", "is_not_empty"},
    "boolean": {"is", "is_not", "is_empty", "is_not_empty"},
    "date": {"is", "is_not", "gt", "lt", "is_empty", "is_not_empty"},
}
VALID_VALUE = {"text": "x", "number": "1", "boolean": "yes", "date": "2025-01-01"}


@pytest.mark.parametrize("type", ["text", "number", "boolean", "date"])
@pytest.mark.parametrize(
    "operator",
    ["is", "is_not", "contains", "starts_with", "gt", "lt", "is_empty", "is_not_empty", "in_list"],
)
def test_operator_type_table(type, operator):
    assert set(TYPES) == set(APPLICABLE)
    assert set(OPERATORS) == set().union(*APPLICABLE.values())
    problems = validate_rule(rule(type=type, operator=operator, value=VALID_VALUE[type]))
    if operator in APPLICABLE[type]:
        assert problems == []
    else:
        assert len(problems) == 1
        assert "cannot be used with" in problems[0]


@pytest.mark.parametrize(
    ("type", "operator", "value", "fact"),
    [
        ("text", "gt", "a", "b"),
        ("text", "lt", "b", "a"),
        ("number", "contains", "1", "12"),
        ("number", "starts_with", "1", "12"),
        ("boolean", "in_list", "yes, no", True),
        ("boolean", "gt", "no", True),
        ("date", "contains", "2025", "2025-01-01"),
        ("date", "in_list", "2025-01-01", "2025-01-01"),
        # Even the operators that would hold for a missing fact.
        ("boolean", "contains", "x", MISSING),
    ],
)
def test_inapplicable_operators_never_match(type, operator, value, fact):
    assert check(type, operator, value, fact) is False


# -- validate_rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"attribute": ""}, "attribute", "Choose what to check."),
        ({"attribute": None}, "attribute", "Choose what to check."),
        ({"operator": ""}, "operator", "Choose an operator."),
        ({"operator": "equals"}, "operator", "Unknown operator “equals”."),
        ({"operator": "gt"}, "operator", "“greater than / after” cannot be used with text values."),
        ({"value": ""}, "value", "Enter a value to compare with."),
        ({"value": "   "}, "value", "Enter a value to compare with."),
        ({"operator": "in_list", "value": " , \n"}, "value", "Enter a value to compare with."),
        (
            {"type": "number", "value": "1,5"},
            "value",
            "“1,5” is not a number. Write it like 42 or 3.5.",
        ),
        (
            {"type": "number", "value": "NaN"},
            "value",
            "“NaN” is not a number. Write it like 42 or 3.5.",
        ),
        (
            {"type": "number", "operator": "in_list", "value": "1, two, 3"},
            "value",
            "“two” is not a number. Write it like 42 or 3.5.",
        ),
        (
            {"type": "boolean", "value": "maybe"},
            "value",
            "“maybe” is not yes or no. Write yes, no, true, false, 1 or 0.",
        ),
        (
            {"type": "date", "value": "31.01.2025"},
            "value",
            "“31.01.2025” is not a date. Write it as YYYY-MM-DD.",
        ),
        (
            {"type": "date", "value": "2025-02-30"},
            "value",
            "“2025-02-30” is not a date. Write it as YYYY-MM-DD.",
        ),
        (
            # Editors compare with dates; datetimes are only accepted as facts.
            {"type": "date", "value": "2025-01-31T10:00"},
            "value",
            "“2025-01-31T10:00” is not a date. Write it as YYYY-MM-DD.",
        ),
        (
            {"keyed": True, "key": " "},
            "key",
            "Enter the name to look up, such as the query parameter's name.",
        ),
        ({"type": "colour"}, "type", "Unknown value type “colour”."),
    ],
)
def test_validate_rule_messages(changes, field, message):
    broken = {**rule(value="x"), **changes}
    assert rule_errors(broken) == {field: [message]}
    assert validate_rule(broken) == [message]
    # An invalid rule never matches, whatever the facts.
    assert rule_matches(broken, {"person.x": "x"}) is False
    assert rule_matches(broken, {}) is False


def test_valid_rules_have_no_problems():
    assert validate_rule(rule(value="x")) == []
    assert validate_rule(rule(operator="is_empty")) == []  # no value needed
    assert validate_rule(rule(operator="is_not_empty", value="ignored")) == []
    assert validate_rule(rule(type="number", operator="in_list", value="1, 2.5\n-3")) == []
    assert validate_rule(rule(keyed=True, key="ref", value="x")) == []
    # Hand-written JSON may hold a number or a boolean as the value; a missing type is text.
    assert validate_rule(rule(type="number", value=3)) == []
    assert validate_rule(rule(type="boolean", value=True)) == []
    assert validate_rule({"attribute": "person.x", "operator": "is", "value": "x"}) == []


def test_validate_rule_with_known_attributes():
    known = {"person.email": object()}
    assert validate_rule(rule("person.email", value="x"), known) == []
    assert validate_rule(rule("person.gone", value="x"), known) == [
        "“person.gone” is not a known attribute; it may have been removed."
    ]
    # Without the registry any name is accepted.
    assert validate_rule(rule("person.gone", value="x")) == []


def test_several_problems_at_once():
    broken = rule(attribute="", type="number", value="abc", keyed=True)
    assert rule_errors(broken) == {
        "attribute": ["Choose what to check."],
        "key": ["Enter the name to look up, such as the query parameter's name."],
        "value": ["“abc” is not a number. Write it like 42 or 3.5."],
    }


@pytest.mark.parametrize("broken", [None, "rule", 3, ["attribute"]])
def test_a_rule_that_is_not_a_mapping(broken):
    assert validate_rule(broken) == ["Choose what to check."]
    assert rule_matches(broken, {}) is False


# -- keyed attributes ----------------------------------------------------------------------------


def test_keyed_rules_read_the_fact_named_by_their_key():
    query = rule("visitor.query", operator="is", value="ads", key=" ref ", keyed=True)
    assert rule_matches(query, {"visitor.query.ref": "ADS"}) is True
    assert rule_matches(query, {"visitor.query.other": "ads"}) is False
    assert rule_matches(query, {"visitor.query": "ads"}) is False


def test_a_key_on_an_attribute_that_is_not_keyed_is_ignored():
    plain = rule("visitor.device", value="mobile", key="stale")
    assert rule_matches(plain, {"visitor.device": "mobile"}) is True


# -- groups --------------------------------------------------------------------------------------

YES = rule("person.a", value="yes")
NO = rule("person.b", value="yes")
FACTS = {"person.a": "yes", "person.b": "no"}


@pytest.mark.parametrize("nothing", [None, {}, {"groups": []}, {"match": "any"}, "x", []])
def test_no_groups_means_everyone(nothing):
    assert evaluate(nothing, FACTS) is True
    assert evaluate(nothing, None) is True


@pytest.mark.parametrize(
    ("rules", "match", "expected"),
    [
        ([YES, YES], "all", True),
        ([YES, NO], "all", False),
        ([NO, NO], "all", False),
        ([YES, NO], "any", True),
        ([NO, NO], "any", False),
        ([], "all", True),
        ([], "any", True),
        ([YES, NO], "whatever", False),  # unknown match reads as the stricter "all"
        ([YES, NO], None, False),
    ],
)
def test_group_match(rules, match, expected):
    assert evaluate(audience(group(*rules, match=match)), FACTS) is expected


@pytest.mark.parametrize(
    ("groups", "match", "expected"),
    [
        ([[YES], [YES]], "all", True),
        ([[YES], [NO]], "all", False),
        ([[YES], [NO]], "any", True),
        ([[NO], [NO]], "any", False),
        ([[NO], []], "any", True),  # an empty group matches, so it lets everyone in
        ([[NO], []], "all", False),
        ([[YES], []], "all", True),
        ([[YES], [NO]], "nonsense", False),
    ],
)
def test_top_level_match(groups, match, expected):
    built = audience(*(group(*rules) for rules in groups), match=match)
    assert evaluate(built, FACTS) is expected


def test_groups_combine_with_their_own_match():
    # (a and b) or (a or b): the first group fails, the second holds.
    built = audience(group(YES, NO, match="all"), group(YES, NO, match="any"), match="any")
    assert evaluate(built, FACTS) is True
    built["match"] = "all"
    assert evaluate(built, FACTS) is False


def test_an_invalid_rule_fails_only_its_own_test():
    broken = rule("person.a", operator="equals", value="yes")
    assert evaluate(audience(group(YES, broken, match="any")), FACTS) is True
    assert evaluate(audience(group(YES, broken, match="all")), FACTS) is False


@pytest.mark.parametrize(
    "garbled",
    [
        {"groups": "x"},
        {"groups": [None, "x"]},  # groups without rules
        {"groups": [{"rules": "x"}]},
        {"groups": [{"match": "any", "rules": None}]},
    ],
)
def test_garbled_audiences_do_not_crash(garbled):
    assert evaluate(garbled, FACTS) is True
    explain(garbled, FACTS)
    summarise(garbled, {})


def test_garbled_rules_never_match():
    assert evaluate({"groups": [{"rules": [None]}]}, FACTS) is False
    assert evaluate({"groups": [{"rules": ["x", YES], "match": "any"}]}, FACTS) is True


def test_missing_facts_are_empty():
    email_empty = audience(group(rule("person.email", operator="is_empty")))
    assert evaluate(email_empty, None) is True
    assert evaluate(email_empty, {}) is True
    assert evaluate(email_empty, {"person.email": ""}) is True
    assert evaluate(email_empty, {"person.email": "ann@example.com"}) is False


# -- explain -------------------------------------------------------------------------------------


def test_explain_reports_every_group_and_rule():
    built = audience(
        group(
            rule("company.country", operator="in_list", value="DE, AT"),
            rule("visitor.visits", type="number", operator="gt", value="2"),
        ),
        group(
            rule("visitor.query", value="ads", key="ref", keyed=True),
            rule("person.email", operator="nope"),
            match="any",
        ),
        group(),
        match="any",
    )
    facts = {"company.country": "de", "visitor.visits": "two", "visitor.query.ref": "ads"}
    result = explain(built, facts)
    assert result == [
        {
            "index": 0,
            "match": "all",
            "matched": False,
            "rules": [
                {
                    "index": 0,
                    "attribute": "company.country",
                    "key": "",
                    "fact": "company.country",
                    "type": "text",
                    "operator": "in_list",
                    "value": "DE, AT",
                    "actual": "de",
                    "matched": True,
                    "reason": "matched",
                    "problems": [],
                },
                {
                    "index": 1,
                    "attribute": "visitor.visits",
                    "key": "",
                    "fact": "visitor.visits",
                    "type": "number",
                    "operator": "gt",
                    "value": "2",
                    "actual": "two",
                    "matched": False,
                    "reason": "unparseable",
                    "problems": [],
                },
            ],
        },
        {
            "index": 1,
            "match": "any",
            "matched": True,
            "rules": [
                {
                    "index": 0,
                    "attribute": "visitor.query",
                    "key": "ref",
                    "fact": "visitor.query.ref",
                    "type": "text",
                    "operator": "is",
                    "value": "ads",
                    "actual": "ads",
                    "matched": True,
                    "reason": "matched",
                    "problems": [],
                },
                {
                    "index": 1,
                    "attribute": "person.email",
                    "key": "",
                    "fact": "person.email",
                    "type": "text",
                    "operator": "nope",
                    "value": "",
                    "actual": None,
                    "matched": False,
                    "reason": "invalid_rule",
                    "problems": ["Unknown operator “nope”."],
                },
            ],
        },
        {"index": 2, "match": "all", "matched": True, "rules": []},
    ]
    assert evaluate(built, facts) is True


@pytest.mark.parametrize(
    ("operator", "fact", "matched", "reason"),
    [
        ("is", "yes", True, "matched"),
        ("is", "no", False, "no_match"),
        ("is", None, False, "empty"),
        ("is", "  ", False, "empty"),
        ("is_not", None, True, "matched"),
        ("is_empty", None, True, "matched"),
        ("is_not_empty", None, False, "no_match"),
    ],
)
def test_explain_reasons(operator, fact, matched, reason):
    [explained] = explain(audience(group(rule(operator=operator, value="yes"))), {"person.x": fact})
    assert (explained["rules"][0]["matched"], explained["rules"][0]["reason"]) == (matched, reason)


def test_explain_is_json_safe():
    built = audience(group(rule(type="date", operator="gt", value="2025-01-01")))
    for fact in (
        datetime.date(2025, 2, 1),
        datetime.datetime(2025, 2, 1, 10, 0),
        float("nan"),
        {"a": object()},
    ):
        json.dumps(explain(built, {"person.x": fact}), allow_nan=False)
    [explained] = explain(built, {"person.x": datetime.date(2025, 2, 1)})
    assert explained["rules"][0]["actual"] == "2025-02-01"


def test_explain_without_groups_is_empty():
    assert explain(None, {}) == []
    assert explain(audience(), None) == []


# -- summarise -----------------------------------------------------------------------------------

LABELS = {
    "person.email": "Person e-mail",
    "company.country": "Country",
    "visitor.visits": "Visits",
    "visitor.device": "Device",
    "visitor.query": "Query parameter",
    "person.signup": "Signed up",
    "visitor.returning": "Returning visitor",
}
EMAIL_EMPTY = rule("person.email", operator="is_empty")
COUNTRY = rule("company.country", operator="in_list", value="DE, AT")
VISITS = rule("visitor.visits", type="number", operator="gt", value="2")
MOBILE = rule("visitor.device", value="mobile")


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (None, "Everyone"),
        (audience(), "Everyone"),
        (audience(group(), group()), "Everyone"),
        (audience(group(EMAIL_EMPTY)), "Person e-mail is empty"),
        (audience(group(COUNTRY, VISITS)), "Country is DE or AT and Visits greater than 2"),
        (
            audience(group(COUNTRY, VISITS, match="any")),
            "Country is DE or AT or Visits greater than 2",
        ),
        # Single-rule groups need no brackets.
        (
            audience(group(EMAIL_EMPTY), group(MOBILE), match="any"),
            "Person e-mail is empty or Device is mobile",
        ),
        # The same joiner inside and out needs none either.
        (
            audience(group(COUNTRY, VISITS), group(MOBILE), match="all"),
            "Country is DE or AT and Visits greater than 2 and Device is mobile",
        ),
        (
            audience(group(COUNTRY, VISITS), group(EMAIL_EMPTY, MOBILE), match="any"),
            "(Country is DE or AT and Visits greater than 2) or "
            "(Person e-mail is empty and Device is mobile)",
        ),
        (
            audience(group(EMAIL_EMPTY, MOBILE, match="any"), group(VISITS), match="all"),
            "(Person e-mail is empty or Device is mobile) and Visits greater than 2",
        ),
        # An empty group asks nothing of an "all" audience, and lets everyone into an "any" one.
        (audience(group(MOBILE), group(), match="all"), "Device is mobile"),
        (audience(group(MOBILE), group(), match="any"), "Everyone"),
    ],
)
def test_summarise(built, expected):
    assert summarise(built, LABELS) == expected


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (rule("company.country", value="DE"), "Country is DE"),
        (rule("company.country", operator="is_not", value="DE"), "Country is not DE"),
        (rule("company.country", operator="contains", value="land"), "Country contains land"),
        (rule("company.country", operator="starts_with", value="A"), "Country starts with A"),
        (rule("company.country", operator="is_not_empty"), "Country is not empty"),
        (
            rule("company.country", operator="in_list", value="DE\nAT, CH"),
            "Country is DE, AT or CH",
        ),
        (rule("company.country", operator="in_list", value="DE,"), "Country is DE"),
        (rule("visitor.visits", type="number", operator="lt", value="3"), "Visits less than 3"),
        (
            rule("person.signup", type="date", operator="gt", value="2025-01-01"),
            "Signed up after 2025-01-01",
        ),
        (
            rule("person.signup", type="date", operator="lt", value="2025-01-01"),
            "Signed up before 2025-01-01",
        ),
        (rule("visitor.returning", type="boolean", value="true"), "Returning visitor is yes"),
        (rule("visitor.returning", type="boolean", value="0"), "Returning visitor is no"),
        (rule("visitor.query", value="ads", key="ref", keyed=True), "Query parameter “ref” is ads"),
        (rule("person.unlabelled", value="x"), "person.unlabelled is x"),
        (rule("", value="x"), "(nothing chosen) is x"),
        (rule("company.country", operator="equals", value="x"), "Country (incomplete rule)"),
    ],
)
def test_summarise_rule(built, expected):
    assert summarise_rule(built, LABELS) == expected


def test_summarise_accepts_lazy_labels_and_no_labels():
    from django.utils.translation import gettext_lazy

    assert summarise(audience(group(MOBILE)), {"visitor.device": gettext_lazy("Device")}) == (
        "Device is mobile"
    )
    assert summarise(audience(group(MOBILE))) == "visitor.device is mobile"


# -- person values as facts ----------------------------------------------------------------------


def test_qualify_person_values():
    values = {
        "email": "ann@example.com",
        "first_name": "Ann",
        "company": "Acme",
        "company.size": 50,
    }
    assert qualify_person_values(values) == {
        "person.email": "ann@example.com",
        "person.first_name": "Ann",
        "person.company": "Acme",
        "company.name": "Acme",
        "company.size": 50,
        "visitor.known": True,
    }


def test_qualify_person_values_derives_only_from_fields_present():
    assert qualify_person_values({}) == {}
    assert qualify_person_values(None) == {}
    assert qualify_person_values({"first_name": "Ann"}) == {"person.first_name": "Ann"}
    assert qualify_person_values({"email": ""})["visitor.known"] is False
    assert qualify_person_values({"email": None})["visitor.known"] is False
    # An explicit company name is not overridden by the person's company field.
    assert (
        qualify_person_values({"company": "Acme", "company.name": "Acme Inc."})["company.name"]
        == "Acme Inc."
    )
