"""Which Marketo fields we mirror, and how a Marketo lead maps onto Person and Company.

The one place that knows both sides:

- the built-in person fields always map to their Marketo lead fields (:data:`LEAD_FIELDS`);
- an admin maps up to 50 more lead fields (stored in ``Person.attributes[<name>]``) and 50
  company fields (``Company.attributes[<name>]``) as :class:`~wagtail_dynchat.models.MarketoField`
  rows, read through :func:`mapped_fields` (cached, so dialogues can ask on every request);
- companies are mirrored from the lead records' company fields (Marketo's lead export carries
  them; companies have no bulk extract of their own), keyed by ``externalCompanyId`` when the
  instance has one, by name otherwise.
"""

from __future__ import annotations

from django.core.cache import caches

from ..conf import dynchat_settings

#: Person field → Marketo lead field (REST name), always mapped.
LEAD_FIELDS = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "phone": "phone",
    "company": "company",
    "job_title": "title",
}
#: Marketo lead field → person field, for the built-in ones.
LEAD_COLUMNS = {rest: name for name, rest in LEAD_FIELDS.items()}
#: Lead fields every read asks for besides the mapped ones.
SYSTEM_FIELDS = ("id", "createdAt", "updatedAt")

_CACHE_KEY = "dynchat:marketo:mapped-fields"


def _cache():
    return caches[dynchat_settings.CACHE_ALIAS]


def mapped_fields(object_=None):
    """The admin's mapped fields as plain dicts (``object``, ``rest_name``, ``name``, ``label``,
    ``data_type``, ``write_back``), from the cache; only those of ``object_`` when given."""
    fields = _cache().get(_CACHE_KEY)
    if fields is None:
        from ..models import MarketoField

        fields = list(
            MarketoField.objects.order_by("object", "sort_order", "pk").values(
                "object", "rest_name", "name", "label", "data_type", "write_back"
            )
        )
        _cache().set(_CACHE_KEY, fields, None)
    if object_ is not None:
        return [field for field in fields if field["object"] == object_]
    return fields


def invalidate():
    """Forget the cached mapping (called when a MarketoField is saved or deleted)."""
    _cache().delete(_CACHE_KEY)


def read_fields():
    """Marketo lead fields (REST names) to ask for when reading leads: system, built-in and
    mapped person and company fields, without duplicates, in a stable order."""
    names = [*SYSTEM_FIELDS, *LEAD_FIELDS.values()]
    names += [field["rest_name"] for field in mapped_fields()]
    return list(dict.fromkeys(names))


def person_values(lead, fields=None):
    """``(columns, attributes)`` for a Person from a Marketo lead dict keyed by REST names.

    ``None`` and Marketo's ``"null"`` are missing values: columns become ``""`` (``email``
    None), attributes are left out. The e-mail is lower-cased, as Person stores it.
    ``fields``: the mapped lead fields, when the caller already has them (bulk loads).
    """
    columns = {}
    for rest, name in LEAD_COLUMNS.items():
        if rest in lead:
            value = _value(lead[rest])
            if name == "email":
                columns[name] = (value or "").strip().lower() or None
            else:
                columns[name] = "" if value is None else str(value)
    attributes = {}
    for field in mapped_fields("lead") if fields is None else fields:
        value = _value(lead.get(field["rest_name"]))
        if value is not None:
            attributes[field["name"]] = value
    return columns, attributes


def company_values(lead, fields=None):
    """``(key, name, external_id, attributes)`` of the lead's company, or None without one;
    ``fields``: the mapped company fields, when the caller already has them."""
    from ..models import Company

    name = _value(lead.get("company")) or ""
    external_id = _value(lead.get("externalCompanyId")) or ""
    key = Company.key_for(str(name), str(external_id))
    if not key:
        return None
    attributes = {}
    for field in mapped_fields("company") if fields is None else fields:
        value = _value(lead.get(field["rest_name"]))
        if value is not None:
            attributes[field["name"]] = value
    return key, str(name)[:255], str(external_id)[:255], attributes


def company_facts(person):
    """``company.<name>`` facts of the mapped company fields of ``person``'s company record.

    Asks the database only when company fields are mapped and the person has a company record
    that is not loaded yet.
    """
    if person is None or person.company_record_id is None:
        return {}
    fields = mapped_fields("company")
    company = person.company_record if fields else None
    if company is None:
        return {}
    return {
        f"company.{field['name']}": company.attributes[field["name"]]
        for field in fields
        if company.attributes.get(field["name"]) is not None
    }


def _value(value):
    return None if value is None or value == "null" or value == "" else value
