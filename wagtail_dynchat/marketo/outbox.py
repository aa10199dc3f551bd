"""Queue writes to Marketo in the outbox, inside the caller's transaction.

:func:`enqueue_lead` is called by the conversation service in the same transaction as the answer
that captured person fields: the outbox row commits (or rolls back) with the answer, and the
drain task is scheduled only once it has committed.
"""

from __future__ import annotations

import functools
import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..conf import dynchat_settings
from ..models import OutboxItem
from .mapping import LEAD_FIELDS, mapped_fields


def is_configured():
    """Marketo is configured: without a BASE_URL nothing is queued."""
    return bool(dynchat_settings.MARKETO.get("BASE_URL"))


def lead_record(person, fields):
    """The Marketo lead record for ``person``: its e-mail and the mapped ``fields`` (names).

    When the e-mail itself was just captured, everything known so far is included: fields
    captured while the person was anonymous could not be sent before.
    """
    written = written_fields()
    names = set(fields)
    if "email" in names:
        names = set(written)
    record = {"email": person.email}
    for name in names:
        if name in written and name != "email":
            value = person.get_field(name)
            if value not in (None, ""):
                record[written[name]] = value
    return record


def written_fields():
    """Person field → Marketo REST name of every field written back: the built-in ones and the
    mapped lead fields with write-back on (from the cached mapping: no query)."""
    written = dict(LEAD_FIELDS)
    for field in mapped_fields("lead"):
        if field["write_back"]:
            written.setdefault(field["name"], field["rest_name"])
    return written


def lead_key(email):
    """The outbox key of lead upserts: the lower-cased e-mail (the upserts' lookup field).

    Marketo may create duplicates for concurrent or closely timed upserts of one e-mail; one key
    per e-mail means at most one of them in flight, whoever captured it. Addresses too long for
    the key column are keyed by their SHA-256.
    """
    email = email.strip().lower()
    key = f"lead:email:{email}"
    if len(key) > OutboxItem._meta.get_field("dedupe_key").max_length:
        key = "lead:email-sha256:" + hashlib.sha256(email.encode()).hexdigest()
    return key


def enqueue_lead(person, fields):
    """Queue a lead upsert for the captured ``fields`` (names or a name → value mapping).

    Does nothing without Marketo configured, for an anonymous person, or when none of the fields
    is written to Marketo. Returns the outbox item, or None.
    """
    if not is_configured() or person is None or not person.email:
        return None
    written = written_fields()
    if not any(name in written for name in fields):
        return None
    record = lead_record(person, fields)
    item = enqueue(OutboxItem.KIND_LEAD, lead_key(person.email), record, person=person)
    schedule_drain(OutboxItem.KIND_LEAD)
    return item


def enqueue(kind, key, payload, *, person=None):
    """Add ``payload`` to the waiting item of ``key``, or queue a new item.

    A new item made while an earlier one of the same key is being sent starts from that one's
    payload, so it carries the full latest state whatever happens to the one in flight.
    """
    with transaction.atomic():
        for _attempt in range(3):
            waiting = (
                OutboxItem.objects.select_for_update()
                .filter(dedupe_key=key, status__in=OutboxItem.WAITING)
                .first()
            )
            if waiting is not None:
                waiting.payload = {**waiting.payload, **payload}
                if person is not None:
                    waiting.person = person
                waiting.save(update_fields=["payload", "person", "updated_at"])
                return waiting
            sending = (
                OutboxItem.objects.filter(dedupe_key=key, status=OutboxItem.STATUS_SENDING)
                .order_by("-pk")
                .first()
            )
            base = sending.payload if sending is not None else {}
            try:
                with transaction.atomic():
                    return OutboxItem.objects.create(
                        kind=kind,
                        dedupe_key=key,
                        payload={**base, **payload},
                        person=person,
                        next_attempt_at=timezone.now(),
                    )
            except IntegrityError:
                # Another transaction queued the key first: add to its item.
                continue
        raise RuntimeError(f"could not queue outbox item {key!r}")


def schedule_drain(kind=None):
    """Start a drain once the current transaction commits."""
    from .tasks import drain_outbox

    transaction.on_commit(functools.partial(drain_outbox.delay, kind), robust=True)
