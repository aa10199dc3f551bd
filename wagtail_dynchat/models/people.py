"""Who visitors are: an anonymous browser (Visitor) and the person behind it (Person)."""

import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from ..person_fields import COLUMN_FIELDS


def new_token():
    """An unguessable URL-safe identifier (128 bits)."""
    return secrets.token_urlsafe(16)


class Company(models.Model):
    """A company, mirrored from Marketo's lead records (their company fields) or captured.

    ``key`` is the company's identity for upserts: ``ext:<externalCompanyId>`` when Marketo has
    one, otherwise ``name:<lower-cased name>``.
    """

    key = models.CharField(_("key"), max_length=255, unique=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    marketo_id = models.BigIntegerField(_("Marketo id"), null=True, blank=True, unique=True)
    external_id = models.CharField(_("external company id"), max_length=255, blank=True)
    attributes = models.JSONField(_("other fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")

    def __str__(self):
        return self.name or self.key

    @staticmethod
    def key_for(name="", external_id=""):
        """The upsert key of a company with this external id or name ("" when neither)."""
        if external_id:
            return f"ext:{external_id}"[:255]
        name = (name or "").strip().lower()
        return f"name:{name}"[:255] if name else ""

    def get_field(self, name):
        """The value of a company field: ``name`` or a synced attribute."""
        return self.name if name == "name" else self.attributes.get(name)


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
    # The Marketo lead this person is (set by the initial/incremental sync, a cookie lookup or the
    # answer to an upsert); unique, so a lead is mirrored once.
    marketo_id = models.BigIntegerField(_("Marketo lead id"), null=True, blank=True, unique=True)
    company_record = models.ForeignKey(
        Company,
        verbose_name=_("company record"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="people",
    )
    marketo_synced_at = models.DateTimeField(_("synced from Marketo"), null=True, blank=True)
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
    # Marketo's Munchkin tracking cookie (``_mkto_trk``) last seen with this browser, and when it
    # was last looked up in Marketo.
    munchkin_cookie = models.CharField(max_length=255, blank=True, db_index=True, editable=False)
    munchkin_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), auto_now=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self):
        return f"{self.key[:8]}… ({self.person})"
