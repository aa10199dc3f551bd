"""The person fields that cards can read (tokens, skip-if-known) and write (captures, questions).

Built-in fields are columns of :class:`~wagtail_dynchat.models.Person`; every other field lives in
``Person.attributes``. Projects and later integrations add fields through the
``register_dynchat_person_fields`` hook, which returns an iterable of :class:`PersonField`, so no
migration is needed (block choices are evaluated per use, never baked into migrations).
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from wagtail import hooks


@dataclass(frozen=True)
class PersonField:
    """A field of a person that dialogues may read or write."""

    name: str
    label: str
    # One of: "email", "phone", "text", "number", "date", "boolean".
    kind: str = "text"


BUILTIN_FIELDS = (
    PersonField("email", _("E-mail address"), "email"),
    PersonField("first_name", _("First name")),
    PersonField("last_name", _("Last name")),
    PersonField("phone", _("Phone number"), "phone"),
    PersonField("company", _("Company")),
    PersonField("job_title", _("Job title")),
)

# Built-in fields stored as model columns rather than in ``Person.attributes``.
COLUMN_FIELDS = frozenset(field.name for field in BUILTIN_FIELDS)


def get_person_fields():
    """All known person fields, built-in first, then those added by hooks, by name."""
    fields = {field.name: field for field in BUILTIN_FIELDS}
    for hook in hooks.get_hooks("register_dynchat_person_fields"):
        for field in hook():
            fields.setdefault(field.name, field)
    return fields


def person_field_choices():
    """Choices for block fields that map an answer to a person field (blank = don't store)."""
    return [("", _("Don't store"))] + [
        (field.name, field.label) for field in get_person_fields().values()
    ]
