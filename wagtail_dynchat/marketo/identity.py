"""Marketo identity: who the visitor behind a Munchkin cookie is, and telling Marketo in return.

- **Cookie.** Marketo's Munchkin script keeps a ``_mkto_trk`` cookie in the browser
  (``id:AAA-BBB-CCC&token:_mch-<domain>-<time>-<random>``). The API notes a valid one on the
  visitor (:func:`note_cookie`, only once the visitor may be recorded: consent rules apply) and
  has it looked up in the background (:func:`lookup_munchkin_cookie`) once per cookie value,
  and again after ``MARKETO["COOKIE_RECHECK_SECONDS"]``. A cookie of another Munchkin id than
  ``MARKETO["MUNCHKIN_ID"]`` (when set), malformed or too long is ignored.
- **Lookup.** ``GET /rest/v1/leads.json?filterType=cookies``. When a lead matches, the
  visitor's anonymous person becomes that lead: an existing person with its id or e-mail
  absorbs it (:func:`~wagtail_dynchat.visitors.merge_person`), else it is filled from the lead
  and takes its id. The next API call of the visitor sees the known person. A visitor already
  known by an e-mail keeps it: what the visitor told us wins over a cookie (shared computers).
- **Upserts.** Lead upserts are queued per e-mail (:func:`~.outbox.lead_key`); the id Marketo
  answers is kept as ``Person.marketo_id`` (:func:`remember_lead_ids`).
- **Association.** Once a person has a lead id, each of its visitors' cookies not yet known to
  Marketo is queued once (an ``associate`` outbox item per visitor and cookie; its key is the
  marker) and sent with ``POST /rest/v1/leads/{id}/associate.json?cookie=…``
  (:func:`associate`), so Marketo attributes the browser's past and future web activity to the
  lead. A cookie Marketo found by lookup is already associated: a ``done`` item records that.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import random
import re

from celery import shared_task
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from ..conf import dynchat_settings
from ..models import Company, OutboxItem, Person, Visitor
from ..visitors import merge_person
from .errors import MarketoError, RateLimited, Transient
from .mapping import company_values, person_values, read_fields
from .outbox import enqueue, is_configured, schedule_drain

__all__ = [
    "associate",
    "cookie_from",
    "lookup_munchkin_cookie",
    "note_cookie",
    "parse_cookie",
    "queue_associations",
    "remember_lead_ids",
]

logger = logging.getLogger(__name__)

COOKIE_NAME = "_mkto_trk"
#: Longest cookie value accepted (the width of ``Visitor.munchkin_cookie``).
MAX_COOKIE_LENGTH = 255
_COOKIE_RE = re.compile(
    r"id:(?P<munchkin>[0-9A-Za-z]{3}-[0-9A-Za-z]{3}-[0-9A-Za-z]{3})"
    r"&token:(?P<token>_mch-[0-9A-Za-z._-]+)"
)
#: Marketo's record code for a cookie value it cannot read.
INVALID_COOKIE = "1012"
#: Celery retries of a lookup when Marketo is unreachable or busy; the waits double from
#: LOOKUP_BACKOFF seconds (with jitter), so the last one comes about half an hour later.
LOOKUP_RETRIES = 5
LOOKUP_BACKOFF = 60


# -- the cookie ------------------------------------------------------------------------------


def parse_cookie(value):
    """The ``_mkto_trk`` value if it is well formed and of our Munchkin id, else None."""
    if not isinstance(value, str) or len(value) > MAX_COOKIE_LENGTH:
        return None
    match = _COOKIE_RE.fullmatch(value.strip())
    if match is None:
        return None
    expected = str(dynchat_settings.MARKETO.get("MUNCHKIN_ID") or "").strip().upper()
    if expected and match["munchkin"].upper() != expected:
        return None  # another Marketo instance's visitor: its token means nothing to ours
    return match.group(0)


def cookie_from(request):
    """The request's valid Munchkin cookie value, or None."""
    return parse_cookie(request.COOKIES.get(COOKIE_NAME))


def _recheck_period():
    return datetime.timedelta(
        seconds=float(dynchat_settings.MARKETO.get("COOKIE_RECHECK_SECONDS") or 24 * 60 * 60)
    )


def note_cookie(request, visitor):
    """Keep the visitor's Munchkin cookie and have Marketo asked who it is, when it is due.

    Call it only for a visitor the site may record (consent). Free without a ``_mkto_trk``
    cookie or without Marketo configured; no query either when this cookie was looked up
    within the re-check period. Otherwise one conditional update claims the lookup, so that
    concurrent requests queue it once, and the task is queued when the transaction commits.
    Returns whether a lookup was queued.
    """
    if visitor is None or COOKIE_NAME not in request.COOKIES or not is_configured():
        return False
    cookie = cookie_from(request)
    if cookie is None:
        return False
    now = timezone.now()
    cutoff = now - _recheck_period()
    checked = visitor.munchkin_checked_at
    if visitor.munchkin_cookie == cookie and checked is not None and checked > cutoff:
        return False
    claimed = (
        Visitor.objects.filter(pk=visitor.pk)
        .filter(
            ~Q(munchkin_cookie=cookie)
            | Q(munchkin_checked_at__isnull=True)
            | Q(munchkin_checked_at__lte=cutoff)
        )
        .update(munchkin_cookie=cookie, munchkin_checked_at=now)
    )
    visitor.munchkin_cookie, visitor.munchkin_checked_at = cookie, now
    if claimed:
        transaction.on_commit(
            functools.partial(lookup_munchkin_cookie.delay, visitor.pk), robust=True
        )
    return bool(claimed)


# -- the lookup ------------------------------------------------------------------------------


def _lookup_backoff(retries):
    delay = LOOKUP_BACKOFF * 2**retries
    return delay / 2 + random.uniform(0, delay / 2)


@shared_task(bind=True, acks_late=True, max_retries=LOOKUP_RETRIES)
def lookup_munchkin_cookie(self, visitor_id):
    """Ask Marketo which lead the visitor's Munchkin cookie belongs to, and make the visitor's
    person that lead (see the module's docstring). Returns the person's id, or None.

    Marketo unreachable or busy: retried with exponential backoff, at most ``LOOKUP_RETRIES``
    times, then given up until the re-check period is over. 1012 (a cookie Marketo cannot
    read): the cookie is never associated and not looked up again before the re-check period.
    Other refusals (quota, credentials) are logged.
    """
    visitor = Visitor.objects.select_related("person").filter(pk=visitor_id).first()
    if visitor is None or not visitor.munchkin_cookie or not is_configured():
        return None
    cookie = visitor.munchkin_cookie
    # The drain's client factory: one place configures the client of background calls.
    from .tasks import make_client

    try:
        leads = make_client().get_leads_by_filter("cookies", [cookie], read_fields())
    except (Transient, RateLimited) as error:
        if self.request.retries >= (self.max_retries or 0):
            logger.warning("Marketo cookie lookup of visitor %s gave up: %s", visitor_id, error)
            return None
        raise self.retry(exc=error, countdown=_lookup_backoff(self.request.retries)) from error
    except MarketoError as error:
        if error.code == INVALID_COOKIE:
            _forget(visitor, cookie, str(error))
        else:
            logger.warning("Marketo cookie lookup of visitor %s failed: %s", visitor_id, error)
        return None
    lead = next((lead for lead in leads if lead.get("id") is not None), None)
    if lead is None:
        # Marketo does not know this browser yet; if we know its person's lead, say so.
        queue_associations([visitor.person_id])
        return visitor.person_id
    person = adopt_lead(visitor_id, cookie, lead)
    if person is None:
        return None
    # The person's other browsers (merged in, or seen before) may carry cookies Marketo lacks.
    queue_associations([person.pk])
    return person.pk


def _forget(visitor, cookie, reason):
    """Never associate a cookie Marketo refused (a ``dead`` marker item records why)."""
    logger.info("Marketo refused the Munchkin cookie of visitor %s: %s", visitor.pk, reason)
    _mark(visitor, cookie, OutboxItem.STATUS_DEAD, reason, lead_id=None)


def adopt_lead(visitor_id, cookie, lead):
    """Make the person of visitor ``visitor_id`` the Marketo ``lead`` its ``cookie`` belongs to.

    Returns the visitor's person afterwards, or None when the visitor is gone or its cookie
    changed meanwhile.
    """
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _adopt(visitor_id, cookie, lead)
        except IntegrityError:
            # Another request gave the e-mail or the lead id to a person meanwhile; the second
            # attempt finds that person and merges into it.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _adopt(visitor_id, cookie, lead):
    visitor = (
        Visitor.objects.select_for_update(of=("self",))
        .select_related("person")
        .filter(pk=visitor_id)
        .first()
    )
    if visitor is None or visitor.munchkin_cookie != cookie:
        return None
    lead_id = int(lead["id"])
    columns, attributes = person_values(lead)
    email = columns.get("email")
    current = Person.objects.select_for_update().get(pk=visitor.person_id)
    owner = Person.objects.select_for_update().filter(marketo_id=lead_id).first()
    if owner is None and email:
        owner = (
            Person.objects.select_for_update()
            .alias(email_lower=Lower("email"))
            .filter(email_lower=email)
            .first()
        )
    if current.is_known or current.marketo_id is not None:
        # Known already: the e-mail the visitor gave wins over a cookie (a shared computer,
        # a colleague's browser). Only the lead id of the same person is taken.
        if owner is not None and owner.pk == current.pk and current.marketo_id is None:
            current.marketo_id = lead_id
            current.save(update_fields=["marketo_id", "updated_at"])
        if current.marketo_id == lead_id:
            _mark(visitor, cookie, OutboxItem.STATUS_DONE, "", lead_id=lead_id, person=current)
        return current
    company = _company(lead)
    if owner is not None:
        if owner.marketo_id is None:
            owner.marketo_id = lead_id
        person = merge_person(current, owner)
    else:
        current.marketo_id = lead_id
        current.marketo_synced_at = timezone.now()
        person = current
    # After the merge: what the visitor told us in chat wins over the lead's values.
    _fill(person, columns, attributes, company)
    person.save()
    visitor.person = person
    _mark(visitor, cookie, OutboxItem.STATUS_DONE, "", lead_id=lead_id, person=person)
    logger.info("Visitor %s is Marketo lead %s (person %s)", visitor.pk, lead_id, person.pk)
    return person


def _fill(person, columns, attributes, company):
    """Fill ``person``'s blanks from the lead: what the visitor told us in chat wins."""
    for name, value in {**columns, **attributes}.items():
        if value not in (None, "") and person.get_field(name) in (None, ""):
            person.set_field(name, value)
    if person.company_record_id is None and company is not None:
        person.company_record = company


def _company(lead):
    """The lead's company, created or updated from its company fields; None without one."""
    values = company_values(lead)
    if values is None:
        return None
    key, name, external_id, attributes = values
    company, created = Company.objects.get_or_create(
        key=key, defaults={"name": name, "external_id": external_id, "attributes": attributes}
    )
    if not created:
        changed = {**company.attributes, **attributes}
        if (company.name, company.external_id, company.attributes) != (
            name or company.name,
            external_id or company.external_id,
            changed,
        ):
            company.name = name or company.name
            company.external_id = external_id or company.external_id
            company.attributes = changed
            company.save(update_fields=["name", "external_id", "attributes", "updated_at"])
    return company


# -- upsert results and associations -----------------------------------------------------------


def remember_lead_ids(pairs):
    """Keep the lead ids Marketo answered to upserts: ``pairs`` of ``(person id, lead id)``.

    A person without a lead id takes it, unless another person already holds it (then it is
    logged and left: the initial sync or a merge reconciles them). Then the cookies of the
    people's visitors not yet known to Marketo are queued for association.
    """
    pairs = {(person_id, int(lead_id)) for person_id, lead_id in pairs if person_id and lead_id}
    if not pairs:
        return
    holders = dict(
        Person.objects.filter(marketo_id__in={lead_id for _, lead_id in pairs}).values_list(
            "marketo_id", "pk"
        )
    )
    for person_id, lead_id in sorted(pairs):
        holder = holders.get(lead_id)
        if holder is not None:
            if holder != person_id:
                logger.warning(
                    "Marketo lead %s is person %s already; person %s keeps no lead id",
                    lead_id,
                    holder,
                    person_id,
                )
            continue
        try:
            with transaction.atomic():
                stored = Person.objects.filter(pk=person_id, marketo_id__isnull=True).update(
                    marketo_id=lead_id, updated_at=timezone.now()
                )
        except IntegrityError:
            stored = 0
        if stored:
            holders[lead_id] = person_id
    queue_associations({person_id for person_id, _ in pairs})


def association_key(visitor_id, cookie):
    """The outbox key (and marker) of one visitor's cookie association."""
    digest = hashlib.sha256(cookie.encode()).hexdigest()[:32]
    return f"associate:visitor:{visitor_id}:{digest}"


def queue_associations(person_ids):
    """Queue the association of every cookie of the people's visitors that has none yet.

    Only people with a lead id; a cookie whose key has any outbox item (queued, sent, found by
    lookup or refused) is left alone. Returns the number of items queued.
    """
    person_ids = [pk for pk in person_ids if pk is not None]
    if not person_ids or not is_configured():
        return 0
    visitors = list(
        Visitor.objects.filter(person_id__in=person_ids, person__marketo_id__isnull=False)
        .exclude(munchkin_cookie="")
        .values_list("pk", "munchkin_cookie", "person_id", "person__marketo_id")
    )
    if not visitors:
        return 0
    keys = {association_key(row[0], row[1]): row for row in visitors}
    seen = set(OutboxItem.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
    queued = 0
    for key, (visitor_id, cookie, person_id, lead_id) in keys.items():
        if key in seen:
            continue
        enqueue(
            OutboxItem.KIND_ASSOCIATE,
            key,
            {"cookie": cookie, "visitor": visitor_id, "lead": lead_id},
            person=Person(pk=person_id),
        )
        queued += 1
    if queued:
        schedule_drain(OutboxItem.KIND_ASSOCIATE)
    return queued


def _mark(visitor, cookie, status, error, *, lead_id, person=None):
    """Record that Marketo already knows (``done``) or refused (``dead``) a visitor's cookie."""
    key = association_key(visitor.pk, cookie)
    if OutboxItem.objects.filter(dedupe_key=key).exists():
        return
    OutboxItem.objects.create(
        kind=OutboxItem.KIND_ASSOCIATE,
        dedupe_key=key,
        payload={"cookie": cookie, "visitor": visitor.pk, "lead": lead_id},
        person=person or visitor.person,
        status=status,
        last_error=error,
        marketo_id="" if lead_id is None else str(lead_id),
    )


def associate(client, lead_id, cookie):
    """``POST /rest/v1/leads/{id}/associate.json?cookie=…``: Marketo attributes the browser's
    web activity to the lead from now on (the cookie's ``&`` travels URL-encoded)."""
    return client.request(
        "POST", f"/rest/v1/leads/{int(lead_id)}/associate.json", params={"cookie": cookie}
    )
