"""RuleBlock, AudienceBlock and ConditionBlock on their own: values, compiled JSON and errors."""

import pytest
from wagtail import hooks
from wagtail.blocks import StructBlockValidationError

from wagtail_dynchat.attributes import Attribute
from wagtail_dynchat.blocks import AudienceBlock, ConditionBlock, RuleBlock
from wagtail_dynchat.engine import check_flow, evaluate

AUDIENCE = AudienceBlock()
CONDITION = ConditionBlock()
RULE = RuleBlock()


def rule(attribute="visitor.device", operator="is", value="mobile", key=""):
    return {"attribute": attribute, "operator": operator, "value": value, "key": key}


def audience(*groups, match="any"):
    return AUDIENCE.to_python(
        {"match": match, "groups": [{"match": m, "rules": list(rules)} for m, rules in groups]}
    )


def errors(block, value, *, deferred=False):
    with pytest.raises(StructBlockValidationError) as caught:
        (block.clean_deferred if deferred else block.clean)(value)
    return caught.value.as_json_data()


def rule_error(field, *messages):
    """The JSON error of the second group's first rule, on ``field``."""
    return {
        "blockErrors": {
            "groups": {
                "blockErrors": {
                    1: {
                        "blockErrors": {
                            "rules": {
                                "blockErrors": {
                                    0: {"blockErrors": {field: {"messages": list(messages)}}}
                                }
                            }
                        }
                    }
                }
            }
        }
    }


VALID_GROUP = ("all", [rule()])


# -- compile -------------------------------------------------------------------------------------


def test_compile_fills_types_from_the_registry():
    value = audience(
        ("all", [rule(), rule("visitor.visits", "gt", " 2 ")]),
        (
            "any",
            [rule("visitor.query", "is", "ads", key=" ref "), rule("person.email", "is_empty", "")],
        ),
    )
    assert AUDIENCE.compile(value) == {
        "match": "any",
        "groups": [
            {
                "match": "all",
                "rules": [
                    {
                        "attribute": "visitor.device",
                        "type": "text",
                        "operator": "is",
                        "value": "mobile",
                        "key": "",
                        "keyed": False,
                    },
                    {
                        "attribute": "visitor.visits",
                        "type": "number",
                        "operator": "gt",
                        "value": "2",
                        "key": "",
                        "keyed": False,
                    },
                ],
            },
            {
                "match": "any",
                "rules": [
                    {
                        "attribute": "visitor.query",
                        "type": "text",
                        "operator": "is",
                        "value": "ads",
                        "key": "ref",
                        "keyed": True,
                    },
                    {
                        "attribute": "person.email",
                        "type": "text",
                        "operator": "is_empty",
                        "value": "",
                        "key": "",
                        "keyed": False,
                    },
                ],
            },
        ],
    }


def test_compile_drops_keys_of_unkeyed_attributes_and_reads_unknown_ones_as_text():
    compiled = AUDIENCE.compile(
        audience(("all", [rule(key="stale"), rule("person.gone", "is", "x")]))
    )
    first, second = compiled["groups"][0]["rules"]
    assert (first["key"], first["keyed"]) == ("", False)
    assert (second["type"], second["keyed"]) == ("text", False)


def test_an_empty_audience_is_everyone():
    value = AUDIENCE.to_python({})
    assert AUDIENCE.compile(value) == {"match": "any", "groups": []}
    assert AUDIENCE.compile(None) == {"match": "any", "groups": []}
    assert evaluate(AUDIENCE.compile(value), {}) is True
    assert AUDIENCE.summarise(value) == "Everyone"
    AUDIENCE.clean(value)


def test_compiled_audiences_evaluate():
    compiled = AUDIENCE.compile(audience(("all", [rule(), rule("visitor.visits", "gt", "2")])))
    assert evaluate(compiled, {"visitor.device": "mobile", "visitor.visits": 3}) is True
    assert evaluate(compiled, {"visitor.device": "mobile", "visitor.visits": 2}) is False


def test_summarise_uses_the_registry_labels():
    value = audience(
        ("all", [rule(), rule("visitor.visits", "gt", "2")]),
        ("all", [rule("person.email", "is_empty", "")]),
    )
    assert AUDIENCE.summarise(value) == (
        "(Device type is mobile and Number of visits greater than 2) or E-mail address is empty"
    )


# -- clean ---------------------------------------------------------------------------------------


def test_a_valid_audience_cleans():
    value = audience(VALID_GROUP, ("any", [rule("visitor.query", "is", "x", key="ref")]))
    cleaned = AUDIENCE.clean(value)
    assert AUDIENCE.compile(cleaned) == AUDIENCE.compile(value)


@pytest.mark.parametrize(
    ("bad", "field", "messages"),
    [
        (
            rule("visitor.visits", "gt", "many"),
            "value",
            ["“many” is not a number. Write it like 42 or 3.5."],
        ),
        (
            rule("visitor.visits", "contains", "2"),
            "operator",
            ["“contains” cannot be used with number values."],
        ),
        (rule("visitor.device", "is", ""), "value", ["Enter a value to compare with."]),
        (
            rule("visitor.query", "is", "x"),
            "key",
            ["Enter the name to look up, such as the query parameter's name."],
        ),
        (
            rule("visitor.returning", "is", "perhaps"),
            "value",
            ["“perhaps” is not yes or no. Write yes, no, true, false, 1 or 0."],
        ),
        (
            rule("visitor.device", "is", "phone"),
            "value",
            ["“phone” is never a value of this attribute. Use one of: mobile, tablet, desktop."],
        ),
        (
            rule("visitor.weekday", "in_list", "Monday, Funday"),
            "value",
            [
                "“Funday” is never a value of this attribute. Use one of: monday, tuesday, "
                "wednesday, thursday, friday, saturday, sunday."
            ],
        ),
        (
            rule("person.gone", "is", "x"),
            "attribute",
            ["Select a valid choice. person.gone is not one of the available choices."],
        ),
        (rule("", "is", "x"), "attribute", ["This field is required."]),
    ],
)
def test_rule_errors_land_on_the_rule_field(bad, field, messages):
    value = audience(VALID_GROUP, ("all", [bad, rule()]))
    assert errors(AUDIENCE, value) == rule_error(field, *messages)


def test_closed_choices_ignore_case_and_other_operators():
    for ok in (
        rule("visitor.weekday", "is", "Monday"),
        rule("visitor.weekday", "in_list", "saturday, SUNDAY"),
        rule("visitor.device", "starts_with", "mob"),
        rule("visitor.device", "is_not_empty", ""),
    ):
        AUDIENCE.clean(audience(("all", [ok])))


def test_several_bad_fields_of_one_rule():
    assert errors(RULE, RULE.to_python(rule("visitor.query", "lt", "x"))) == {
        "blockErrors": {
            "operator": {"messages": ["“less than / before” cannot be used with text values."]},
            "key": {"messages": ["Enter the name to look up, such as the query parameter's name."]},
        }
    }


def test_drafts_defer_rule_checks():
    value = audience(
        ("all", [rule("visitor.visits", "gt", "many"), rule("", "is", ""), rule("visitor.query")])
    )
    cleaned = AUDIENCE.clean_deferred(value)
    assert len(cleaned["groups"][0]["rules"]) == 3
    # The deferral is undone afterwards.
    assert errors(AUDIENCE, value)


def test_hook_attributes_are_choices_and_get_their_type():
    def extra():
        return [Attribute("marketo.score", "Score", "number", "marketo")]

    value = audience(("all", [rule("marketo.score", "gt", "10")]))
    with hooks.register_temporarily("register_dynchat_attributes", extra):
        AUDIENCE.clean(value)
        assert AUDIENCE.compile(value)["groups"][0]["rules"][0]["type"] == "number"
        assert errors(AUDIENCE, audience(("all", [rule("marketo.score", "contains", "1")])))
    assert errors(AUDIENCE, value)


# -- the condition card --------------------------------------------------------------------------


def condition(target="demo", otherwise="", groups=(VALID_GROUP,)):
    return CONDITION.to_python(
        {
            "audience": {
                "match": "any",
                "groups": [{"match": m, "rules": list(rules)} for m, rules in groups],
            },
            "target": target,
            "otherwise": otherwise,
        }
    )


def test_condition_compiles_to_the_engine_card():
    assert CONDITION.card_type == "condition"
    compiled = CONDITION.compile(condition(otherwise="other"), render=False)
    assert compiled == {
        "audience": {
            "match": "any",
            "groups": [
                {
                    "match": "all",
                    "rules": [
                        {
                            "attribute": "visitor.device",
                            "type": "text",
                            "operator": "is",
                            "value": "mobile",
                            "key": "",
                            "keyed": False,
                        }
                    ],
                }
            ],
        },
        "target": "demo",
        "otherwise": "other",
    }
    assert CONDITION.compile(condition(), render=True)["otherwise"] == ""


def test_a_compiled_condition_runs_in_a_flow():
    card = {"id": "c1", "type": "condition", **CONDITION.compile(condition(), render=False)}
    flow = {
        "branches": [
            {"key": "start", "cards": [card, {"id": "m1", "type": "message", "html": ""}]},
            {"key": "demo", "cards": [{"id": "m2", "type": "message", "html": ""}]},
        ]
    }
    assert check_flow(flow) == []


def test_condition_needs_a_target_but_not_otherwise():
    assert errors(CONDITION, condition(target="")) == {
        "blockErrors": {"target": {"messages": ["This field is required."]}}
    }
    CONDITION.clean(condition(otherwise=""))
    CONDITION.clean_deferred(condition(target=""))


def test_condition_rule_errors_nest_under_audience():
    value = condition(groups=[("all", [rule("visitor.visits", "gt", "x")])])
    assert errors(CONDITION, value)["blockErrors"]["audience"]["blockErrors"]["groups"] == {
        "blockErrors": {
            0: {
                "blockErrors": {
                    "rules": {
                        "blockErrors": {
                            0: {
                                "blockErrors": {
                                    "value": {
                                        "messages": [
                                            "“x” is not a number. Write it like 42 or 3.5."
                                        ]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    CONDITION.clean_deferred(value)


def test_labels_read_well_when_collapsed():
    assert RULE.meta.label_format == "{attribute} {key} {operator} {value}"
    assert CONDITION.meta.label_format == "{audience} → {target}"
