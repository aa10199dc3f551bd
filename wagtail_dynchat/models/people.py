"""Who visitors are: an anonymous browser (Visitor) and the person behind it (Person)."""

import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from ..person_fields import COLUMN_FIELDS


def new_token():
    """An unguessable URL-safe identifier (128 bits)."""
    return secrets.token_urlsafe(16)


class Person(models.Model):
    """Everything known about one human: captured in chat or, later, synced from Marketo.

    Anonymous people (no e-mail yet) are created with their first visitor; a captured e-mail that
    belongs to a known person merges the anonymous one into it.
    """

    email = models.EmailField(_("e-mail address"), max_length=254, null=True, blank=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    phone = models.CharField(_("phone number"), max_length=40, blank=True)
    company = models.CharField(_("company"), max_length=255, blank=True)
    job_title = models.CharField(_("job title"), max_length=255, blank=True)
    attributes = models.JSONField(_("other fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="dynchat_person_unique_email"),
        ]

    def __str__(self):
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        if self.email:
            return f"{name} <{self.email}>" if name else self.email
        return name or _("Anonymous visitor #%(id)s") % {"id": self.pk}

    @property
    def is_known(self):
        return bool(self.email)

    def get_field(self, name):
        """The value of a person field, whether a column or an attribute."""
        if name in COLUMN_FIELDS:
            return getattr(self, name)
        return self.attributes.get(name)

    def set_field(self, name, value):
        """Set a person field in memory; the caller saves."""
        if name == "email":
            # Identity keys on the e-mail, so store one spelling and never "" (it is unique).
            self.email = str(value or "").strip().lower() or None
        elif name in COLUMN_FIELDS:
            setattr(self, name, "" if value is None else str(value))
        elif value in (None, ""):
            self.attributes.pop(name, None)
        else:
            self.attributes[name] = value

    def as_facts(self):
        """A flat read-only view of the person for the engine (tokens, skip-if-known)."""
        facts = {name: getattr(self, name) or "" for name in COLUMN_FIELDS}
        facts.update(self.attributes)
        return facts


class Visitor(models.Model):
    """A browser, known by a random first-party cookie."""

    key = models.CharField(max_length=32, unique=True, default=new_token, editable=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="visitors")
    session = models.CharField(max_length=32, blank=True, editable=False)
    visits = models.PositiveIntegerField(_("visits"), default=0)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), auto_now=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self):
        return f"{self.key[:8]}… ({self.person})"
