"""Mapped Marketo fields as person fields and attributes (the registries' hooks call these).

A mapped lead field becomes the person field ``<name>`` (and so the attribute
``person.<name>``, a token ``{{ person.<name> }}`` and a capture target); a mapped company
field becomes the attribute ``company.<name>``. Both read :func:`~.mapping.mapped_fields`,
which is cached, so asking on every request costs no query.

Mapped fields are offered while Marketo is configured: without it nothing fills or syncs them
(and code that never touches the database, such as block validation in tests, stays that way).
"""

from __future__ import annotations

from ..attributes import Attribute
from ..person_fields import PersonField
from .mapping import mapped_fields
from .outbox import is_configured

#: Marketo ``dataType`` → person field kind (see :class:`~..person_fields.PersonField`).
_KINDS = {
    "integer": "number",
    "float": "number",
    "currency": "number",
    "percent": "number",
    "score": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
    "email": "email",
    "phone": "phone",
}
#: Person field kind → rule type; e-mail addresses and phone numbers compare as text.
_RULE_TYPES = {"number": "number", "date": "date", "boolean": "boolean"}


def kind_for(data_type):
    """The person field kind of a Marketo data type (text for anything else)."""
    return _KINDS.get((data_type or "").lower(), "text")


def person_fields():
    """A :class:`PersonField` for every mapped lead field."""
    if not is_configured():
        return []
    return [
        PersonField(field["name"], field["label"], kind_for(field["data_type"]))
        for field in mapped_fields("lead")
    ]


def company_attributes():
    """An :class:`Attribute` ``company.<name>`` for every mapped company field."""
    if not is_configured():
        return []
    return [
        Attribute(
            f"company.{field['name']}",
            field["label"],
            _RULE_TYPES.get(kind_for(field["data_type"]), "text"),
            "company",
        )
        for field in mapped_fields("company")
    ]
