"""Marketo's field catalogues (Describe Lead, Describe Companies), cached as Marketo advises.

Marketo's integration best practices ask for describe results to be cached for at least a day,
so the admin's field picker reads them from Django's cache and only a Refresh asks again.

Both catalogues come back as :class:`Catalog`: a list of plain dicts (``rest_name``, ``label``,
``data_type``, ``length``, ``read_only``) and, when Marketo could not answer, a readable
``error``. Company fields are what the mirror reads from lead records (Marketo copies a lead's
company fields onto the lead, see :func:`~wagtail_dynchat.marketo.mapping.company_values`), so
a company field is only *mappable* when the lead describe lists it too. Where the Companies API
is not available (no permission, or a native CRM sync that makes it read-only or refuses it),
the company catalogue falls back to the lead describe's fields, flagged ``fallback``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from django.core.cache import caches
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import dynchat_settings
from .errors import AuthError, MarketoError, Transient

LEAD = "lead"
COMPANY = "company"
_CACHE_KEY = "dynchat:marketo:describe:{}"
#: Fields every record has and no one maps (ids and timestamps).
SYSTEM_FIELDS = frozenset({"id", "createdAt", "updatedAt"})


@dataclass
class Catalog:
    """Marketo's fields of one object, or why they are not known."""

    fields: list[dict] = field(default_factory=list)
    error: str = ""
    fetched_at: str = ""
    #: Company fields taken from the lead describe (the Companies API did not answer).
    fallback: bool = False

    def by_name(self):
        return {item["rest_name"]: item for item in self.fields}


def _cache():
    return caches[dynchat_settings.CACHE_ALIAS]


def _timeout():
    return int(dynchat_settings.MARKETO.get("DESCRIBE_CACHE_SECONDS") or 24 * 60 * 60)


def _client():
    from .client import MarketoClient

    # An admin page waits for this: two tries, then a message, rather than a minute of backoff.
    return MarketoClient(max_attempts=2, backoff_base=0.2, backoff_max=1.0)


def lead_catalog(*, refresh=False):
    """Marketo's lead fields (``GET /rest/v1/leads/describe.json``), from the cache."""
    return _catalog(LEAD, _fetch_leads, refresh=refresh)


def company_catalog(*, refresh=False):
    """Marketo's company fields (``GET /rest/v1/companies/describe.json``), from the cache.

    Falls back to the lead fields (``fallback`` set, ``error`` saying why) when the Companies
    API refuses to describe companies.
    """
    catalog = _catalog(COMPANY, _fetch_companies, refresh=refresh)
    if catalog.fields or not catalog.error or catalog.error == _not_configured():
        return catalog
    leads = lead_catalog(refresh=refresh)
    if not leads.fields:
        return catalog
    return Catalog(
        fields=leads.fields,
        error=catalog.error,
        fetched_at=leads.fetched_at,
        fallback=True,
    )


def forget():
    """Drop both cached catalogues (the Refresh button)."""
    _cache().delete_many([_CACHE_KEY.format(LEAD), _CACHE_KEY.format(COMPANY)])


def _not_configured():
    return _("Marketo is not configured (WAGTAIL_DYNCHAT['MARKETO']).")


def _catalog(object_, fetch, *, refresh):
    key = _CACHE_KEY.format(object_)
    if not refresh:
        cached = _cache().get(key)
        if cached is not None:
            return Catalog(fields=cached["fields"], fetched_at=cached["fetched_at"])
    client = _client()
    if not client.is_configured():
        return Catalog(error=_not_configured())
    try:
        fields = fetch(client)
    except AuthError as error:
        return Catalog(
            error=_("Marketo refused the credentials: %(error)s") % {"error": error.message}
        )
    except Transient as error:
        # Network failures, timeouts and 5xx after the client's retries.
        return Catalog(
            error=_("Marketo could not be reached: %(error)s") % {"error": error.message}
        )
    except MarketoError as error:
        return Catalog(
            error=_("Marketo answered with error %(code)s: %(message)s")
            % {"code": error.code, "message": error.message}
        )
    except (requests.RequestException, ValueError) as error:
        return Catalog(error=_("Marketo could not be reached: %(error)s") % {"error": error})
    fetched_at = timezone.now().isoformat()
    _cache().set(key, {"fields": fields, "fetched_at": fetched_at}, _timeout())
    return Catalog(fields=fields, fetched_at=fetched_at)


def _fetch_leads(client):
    fields = []
    for item in client.get("/rest/v1/leads/describe.json").get("result") or []:
        rest = item.get("rest") if isinstance(item, dict) else None
        # Fields only the SOAP API knows have no REST name: nothing we could read or write.
        if not isinstance(rest, dict) or not rest.get("name"):
            continue
        fields.append(
            _entry(
                rest["name"],
                item.get("displayName"),
                item.get("dataType"),
                item.get("length"),
                bool(rest.get("readOnly")),
            )
        )
    return fields


def _fetch_companies(client):
    fields = []
    for description in client.get("/rest/v1/companies/describe.json").get("result") or []:
        if not isinstance(description, dict):
            continue
        for item in description.get("fields") or []:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            fields.append(
                _entry(
                    item["name"],
                    item.get("displayName"),
                    item.get("dataType"),
                    item.get("length"),
                    not item.get("updateable", False),
                )
            )
    return fields


def _entry(rest_name, label, data_type, length, read_only):
    return {
        "rest_name": str(rest_name)[:100],
        "label": str(label or rest_name)[:255],
        "data_type": str(data_type or "string")[:32],
        "length": length if isinstance(length, int) and length >= 0 else None,
        "read_only": read_only,
    }
