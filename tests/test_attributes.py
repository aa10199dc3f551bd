"""The attribute registry: built-ins, person fields, the hook, choices and the person's facts."""

import datetime

from wagtail import hooks

from wagtail_dynchat.attributes import (
    Attribute,
    attribute_choices,
    attribute_labels,
    get_attributes,
    person_facts,
)
from wagtail_dynchat.engine import evaluate
from wagtail_dynchat.models import Person
from wagtail_dynchat.person_fields import PersonField
from wagtail_dynchat.visitor_facts import visitor_facts

BUILTIN_TYPES = {
    "person.email": "text",
    "person.first_name": "text",
    "person.last_name": "text",
    "person.phone": "text",
    "person.company": "text",
    "person.job_title": "text",
    "company.name": "text",
    "visitor.known": "boolean",
    "visitor.referrer": "text",
    "visitor.referrer_host": "text",
    "visitor.utm_source": "text",
    "visitor.utm_medium": "text",
    "visitor.utm_campaign": "text",
    "visitor.utm_term": "text",
    "visitor.utm_content": "text",
    "visitor.query": "text",
    "visitor.url": "text",
    "visitor.path": "text",
    "visitor.device": "text",
    "visitor.language": "text",
    "visitor.returning": "boolean",
    "visitor.visits": "number",
    "visitor.weekday": "text",
    "visitor.hour": "number",
}


def test_builtin_attributes_and_their_types():
    attributes = get_attributes()
    assert {name: attribute.type for name, attribute in attributes.items()} == BUILTIN_TYPES
    assert all(name == attribute.name for name, attribute in attributes.items())
    assert {name for name, attribute in attributes.items() if attribute.keyed} == {"visitor.query"}
    assert {attribute.source for attribute in attributes.values()} == {
        "person",
        "company",
        "visitor",
    }
    assert [value for value, _label in attributes["visitor.device"].choices] == [
        "mobile",
        "tablet",
        "desktop",
    ]
    assert [value for value, _label in attributes["visitor.weekday"].choices] == [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    assert str(attributes["person.email"].label) == "E-mail address"


def person_field_hook():
    return [
        PersonField("score", "Lead score", "number"),
        PersonField("signed_up", "Signed up", "date"),
        PersonField("opted_in", "Opted in", "boolean"),
        PersonField("mobile", "Mobile", "phone"),
        PersonField("tier", "Tier", "picklist"),
    ]


def test_person_fields_become_person_attributes_typed_by_kind():
    with hooks.register_temporarily("register_dynchat_person_fields", person_field_hook):
        attributes = get_attributes()
    assert {name: attributes[name].type for name in attributes if name not in BUILTIN_TYPES} == {
        "person.score": "number",
        "person.signed_up": "date",
        "person.opted_in": "boolean",
        "person.mobile": "text",
        "person.tier": "text",
    }
    assert attributes["person.score"] == Attribute("person.score", "Lead score", "number", "person")


def attribute_hook():
    return [
        Attribute("marketo.lead_score", "Lead score (Marketo)", "number", "marketo"),
        Attribute("marketo.segment", "Segment", "text", "marketo", keyed=True),
        # Built-ins win over a hook that reuses their name.
        Attribute("visitor.device", "Hijacked", "number", "marketo"),
    ]


def test_the_hook_adds_attributes():
    with hooks.register_temporarily("register_dynchat_attributes", attribute_hook):
        attributes = get_attributes()
        choices = attribute_choices()
        labels = attribute_labels()
    assert attributes["marketo.lead_score"].type == "number"
    assert attributes["marketo.segment"].keyed is True
    assert attributes["visitor.device"].type == "text"
    assert str(labels["visitor.device"]) == "Device type"
    assert [str(group) for group, _options in choices] == ["Person", "Company", "Visit", "Marketo"]
    assert choices[-1][1] == [
        ("marketo.lead_score", "Lead score (Marketo)"),
        ("marketo.segment", "Segment"),
    ]
    assert "marketo.lead_score" not in get_attributes()


def test_attribute_choices_are_grouped_by_source():
    choices = attribute_choices()
    assert [str(group) for group, _options in choices] == ["Person", "Company", "Visit"]
    flat = [name for _group, options in choices for name, _label in options]
    assert flat == list(get_attributes())
    assert choices[1][1] == [("company.name", "Company name")]


def test_attribute_labels_are_plain_strings():
    labels = attribute_labels()
    assert labels["visitor.visits"] == "Number of visits"
    assert all(type(label) is str for label in labels.values())


# -- person facts --------------------------------------------------------------------------------


def test_person_facts_of_a_known_person():
    person = Person(
        email="ann@example.com",
        first_name="Ann",
        company="Acme",
        attributes={"score": 12, "signed_up": "2025-01-31"},
    )
    assert person_facts(person) == {
        "person.email": "ann@example.com",
        "person.first_name": "Ann",
        "person.last_name": "",
        "person.phone": "",
        "person.company": "Acme",
        "person.job_title": "",
        "person.score": 12,
        "person.signed_up": "2025-01-31",
        "company.name": "Acme",
        "visitor.known": True,
    }


def test_person_facts_of_an_anonymous_person_and_of_nobody():
    facts = person_facts(Person())
    assert facts["visitor.known"] is False
    assert facts["person.email"] == ""
    assert facts["company.name"] == ""
    assert person_facts(None) == {"visitor.known": False}


def test_person_and_visitor_facts_drive_an_audience():
    facts = {
        **visitor_facts(
            url="https://example.com/pricing?utm_campaign=spring",
            referrer="",
            user_agent="Mozilla/5.0 (iPhone) Mobile",
            accept_language="de",
            visits=2,
            now=datetime.datetime(2025, 1, 15, 9, 0, tzinfo=datetime.UTC),
            time_zone="Europe/Berlin",
        ),
        **person_facts(Person(company="Acme")),
    }
    attributes = get_attributes()

    def rule(name, operator, value="", key=""):
        return {
            "attribute": name,
            "type": attributes[name].type,
            "operator": operator,
            "value": value,
            "key": key,
            "keyed": attributes[name].keyed,
        }

    audience = {
        "match": "all",
        "groups": [
            {
                "match": "all",
                "rules": [
                    rule("person.email", "is_empty"),
                    rule("visitor.known", "is", "no"),
                    rule("company.name", "is", "ACME"),
                    rule("visitor.device", "is", "mobile"),
                    rule("visitor.utm_campaign", "is", "Spring"),
                    rule("visitor.query", "is", "spring", key="utm_campaign"),
                    rule("visitor.path", "starts_with", "/pricing"),
                    rule("visitor.returning", "is", "yes"),
                    rule("visitor.visits", "lt", "3"),
                    rule("visitor.language", "in_list", "de, at"),
                    rule("visitor.weekday", "is", "Wednesday"),
                    rule("visitor.hour", "is", "10"),
                ],
            }
        ],
    }
    assert evaluate(audience, facts) is True
    facts["visitor.hour"] = 11
    assert evaluate(audience, facts) is False
