"""The attributes audiences and condition cards can test, and the person's facts for them.

Attributes are named by source: ``person.<field>`` (every person field, see
:mod:`~wagtail_dynchat.person_fields`), ``company.<field>`` and ``visitor.<fact>`` (derived from
the request, see :mod:`~wagtail_dynchat.visitor_facts`). Projects and later integrations (Marketo's
synced fields) add attributes through the ``register_dynchat_attributes`` hook, which returns an
iterable of :class:`Attribute`. Block choices are computed per use, so no migration is needed.
"""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from wagtail import hooks

from .engine import qualify_person_values
from .marketo.mapping import company_facts
from .person_fields import get_person_fields
from .visitor_facts import UTM_PARAMETERS, WEEKDAYS

HOOK = "register_dynchat_attributes"

# Person field kind -> rule type; phone numbers and e-mail addresses compare as text.
_KIND_TYPES = {"number": "number", "date": "date", "boolean": "boolean"}

SOURCE_LABELS = {
    "person": _("Person"),
    "company": _("Company"),
    "visitor": _("Visit"),
}

_WEEKDAY_LABELS = (
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
)


@dataclass(frozen=True)
class Attribute:
    """Something an audience rule can test.

    ``type`` is a rule type ("text", "number", "boolean" or "date"); ``source`` groups attributes
    in the admin ("person", "company", "visitor", or a hook's own, such as "marketo"). A
    ``keyed`` attribute needs a key in the rule (the query parameter of ``visitor.query``) and
    reads the fact ``"<name>.<key>"``. ``choices`` are the values it takes, as ``(value,
    label)`` pairs, when there are few (editors are told when a value is not one of them).
    """

    name: str
    label: Any
    type: str
    source: str
    keyed: bool = False
    choices: tuple[tuple[str, Any], ...] | None = None


def _builtin_attributes():
    utm_labels = {
        "utm_source": _("UTM source"),
        "utm_medium": _("UTM medium"),
        "utm_campaign": _("UTM campaign"),
        "utm_term": _("UTM term"),
        "utm_content": _("UTM content"),
    }
    return [
        Attribute("company.name", _("Company name"), "text", "company"),
        Attribute("visitor.known", _("Known visitor (e-mail address known)"), "boolean", "visitor"),
        Attribute("visitor.referrer", _("Referrer URL"), "text", "visitor"),
        Attribute("visitor.referrer_host", _("Referrer domain"), "text", "visitor"),
        *(
            Attribute(f"visitor.{name}", utm_labels[name], "text", "visitor")
            for name in UTM_PARAMETERS
        ),
        Attribute("visitor.query", _("Query parameter"), "text", "visitor", keyed=True),
        Attribute("visitor.url", _("Page URL"), "text", "visitor"),
        Attribute("visitor.path", _("Page path"), "text", "visitor"),
        Attribute(
            "visitor.device",
            _("Device type"),
            "text",
            "visitor",
            choices=(("mobile", _("Mobile")), ("tablet", _("Tablet")), ("desktop", _("Desktop"))),
        ),
        Attribute("visitor.language", _("Browser language (e.g. de)"), "text", "visitor"),
        Attribute("visitor.returning", _("Returning visitor"), "boolean", "visitor"),
        Attribute("visitor.visits", _("Number of visits"), "number", "visitor"),
        Attribute(
            "visitor.weekday",
            _("Weekday (site time)"),
            "text",
            "visitor",
            choices=tuple(zip(WEEKDAYS, _WEEKDAY_LABELS, strict=True)),
        ),
        Attribute("visitor.hour", _("Hour of the day, 0-23 (site time)"), "number", "visitor"),
    ]


def get_attributes() -> dict[str, Attribute]:
    """All attributes by name: person fields, built-in company and visitor ones, then hooks'.

    Built-in attributes win over hook ones of the same name, as person fields do.
    """
    found = {
        f"person.{field.name}": Attribute(
            f"person.{field.name}", field.label, _KIND_TYPES.get(field.kind, "text"), "person"
        )
        for field in get_person_fields().values()
    }
    for attribute in _builtin_attributes():
        found.setdefault(attribute.name, attribute)
    for hook in hooks.get_hooks(HOOK):
        for attribute in hook():
            found.setdefault(attribute.name, attribute)
    return found


def attribute_labels() -> dict[str, str]:
    """Attribute name -> label, for :func:`~wagtail_dynchat.engine.summarise`."""
    return {name: str(attribute.label) for name, attribute in get_attributes().items()}


def attribute_choices():
    """Choices for a ChoiceBlock, grouped by source (optgroups): person, company, visit, others."""
    groups: dict[str, list[tuple[str, Any]]] = {source: [] for source in SOURCE_LABELS}
    for attribute in get_attributes().values():
        groups.setdefault(attribute.source, []).append((attribute.name, attribute.label))
    return [
        (SOURCE_LABELS.get(source, source.replace("_", " ").capitalize()), choices)
        for source, choices in groups.items()
        if choices
    ]


def person_facts(person) -> dict[str, Any]:
    """The facts of a :class:`~wagtail_dynchat.models.Person` (or None, an unknown visitor).

    ``person.<field>`` for every field, ``company.name`` from the person's company,
    ``company.<field>`` for Marketo company fields mapped in the admin (from the person's company
    record) and ``visitor.known`` (whether the e-mail address is known).
    """
    if person is None:
        return {"visitor.known": False}
    facts = qualify_person_values(person.as_facts())
    facts.update(company_facts(person))
    facts["visitor.known"] = bool(person.is_known)
    return facts
