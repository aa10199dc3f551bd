"""The Celery task that drains the Marketo outbox.

:func:`drain_outbox` claims up to ``BATCH_SIZE`` due items (``SELECT … FOR UPDATE SKIP LOCKED``
on PostgreSQL, so workers never claim the same rows; a plain claim update elsewhere), marks them
``sending`` with a lease, sends them in one call and records each record's result:

- created/updated: ``done``, with the Marketo id;
- any other record status (skipped with reasons): ``dead``; record-level rejections are permanent;
- ``Transient``/``RateLimited``/``AuthError``: ``failed`` and due again after an exponential
  backoff with jitter, ``dead`` after :data:`MAX_ATTEMPTS`;
- ``QuotaExceeded``: due again after Marketo's daily reset (not counted as an attempt);
- any other ``MarketoError`` (the request itself is refused): ``dead``.

A worker killed mid-drain loses nothing: items left ``sending`` longer than the lease
(``WAGTAIL_DYNCHAT["MARKETO"]["LEASE_SECONDS"]``, default :data:`LEASE_SECONDS`) are reclaimed by
the next drain. Run ``drain_outbox`` from Celery beat (every minute, say) so
retries that become due and expired leases are picked up without new writes.
"""

from __future__ import annotations

import datetime
import logging
import random
import uuid

from celery import shared_task
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from ..conf import dynchat_settings
from ..models import OutboxItem, Person
from . import identity
from .errors import MarketoError, QuotaExceeded
from .limits import QUOTA_TIMEZONE

__all__ = ["drain_outbox"]

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30  # seconds: 30, 60, 120, … (+ jitter)
BACKOFF_MAX = 6 * 3600
#: Default lease of a claimed item (the ``LEASE_SECONDS`` setting overrides it).
LEASE_SECONDS = 10 * 60
SENT_STATUSES = {"created", "updated"}


def make_client():
    from .client import MarketoClient

    return MarketoClient()


def backoff(attempts):
    """Seconds before the next try after ``attempts`` failed tries: exponential, capped, with
    jitter over its upper half so that items failed together spread out."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


def after_quota_reset(now=None):
    now = now or timezone.now()
    local = now.astimezone(QUOTA_TIMEZONE)
    reset = datetime.datetime.combine(
        local.date() + datetime.timedelta(days=1), datetime.time(0, 5), tzinfo=QUOTA_TIMEZONE
    )
    return reset + datetime.timedelta(seconds=random.uniform(0, 600))


def _batch_size():
    return max(1, int(dynchat_settings.MARKETO.get("BATCH_SIZE") or 300))


def lease_seconds():
    """Seconds a claimed item may stay ``sending`` before a drain takes it back."""
    return float(dynchat_settings.MARKETO.get("LEASE_SECONDS") or LEASE_SECONDS)


def _due(kind=None, now=None):
    now = now or timezone.now()
    items = OutboxItem.objects.filter(status__in=OutboxItem.WAITING, next_attempt_at__lte=now)
    if kind:
        items = items.filter(kind=kind)
    # Never overtake an earlier write of the same key that is still in flight. One probe of the
    # (dedupe_key, status) index per candidate: a NOT IN over every row in flight reads the
    # status index's dead entries of all rows once sent, slower with every batch until vacuum.
    in_flight = OutboxItem.objects.filter(
        dedupe_key=OuterRef("dedupe_key"), status=OutboxItem.STATUS_SENDING
    )
    return items.filter(~Exists(in_flight))


def reclaim_expired(now=None):
    """Put items left ``sending`` past their lease (a killed worker) back to waiting."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=lease_seconds())
    stuck = OutboxItem.objects.filter(status=OutboxItem.STATUS_SENDING, claimed_at__lt=cutoff)
    count = 0
    for pk in stuck.values_list("pk", flat=True):
        with transaction.atomic():
            item = (
                OutboxItem.objects.select_for_update()
                .filter(pk=pk, status=OutboxItem.STATUS_SENDING, claimed_at__lt=cutoff)
                .first()
            )
            if item is not None:
                _requeue(item, OutboxItem.STATUS_PENDING, now, "Lease expired: reclaimed.")
                count += 1
    if count:
        logger.warning("Marketo outbox: reclaimed %d items stuck in sending", count)
    return count


def claim(kind=None, limit=None):
    """Claim up to ``limit`` due items for this worker; returns them, oldest first."""
    limit = limit or _batch_size()
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            _due(kind, now)
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        OutboxItem.objects.filter(pk__in=ids, status__in=OutboxItem.WAITING).update(
            status=OutboxItem.STATUS_SENDING, claim_token=token, claimed_at=now, updated_at=now
        )
    # By primary key (claim_token has no index: a scan of the whole outbox per batch).
    claimed = OutboxItem.objects.filter(pk__in=ids, claim_token=token)
    return list(claimed.order_by("next_attempt_at", "pk"))


def _requeue(item, status, next_attempt_at, error, *, attempts=None):
    """Make ``item`` wait again; if a newer item of its key is waiting, that one absorbs it (it
    was started from this one's payload, newer values winning)."""
    waiting = (
        OutboxItem.objects.select_for_update()
        .filter(dedupe_key=item.dedupe_key, status__in=OutboxItem.WAITING)
        .exclude(pk=item.pk)
        .first()
    )
    if waiting is not None:
        waiting.payload = {**item.payload, **waiting.payload}
        waiting.save(update_fields=["payload", "updated_at"])
        item.delete()
        return waiting
    item.status = status
    item.next_attempt_at = next_attempt_at
    item.last_error = error
    item.claim_token = ""
    item.claimed_at = None
    if attempts is not None:
        item.attempts = attempts
    item.save()
    return item


def _finish(item, status, *, error="", marketo_id=None):
    item.status = status
    item.last_error = error
    item.claim_token = ""
    item.claimed_at = None
    item.attempts = F("attempts") + 1
    if marketo_id is not None:
        item.marketo_id = str(marketo_id)
    item.save()


def _failed(items, error, *, quota=False):
    now = timezone.now()
    for item in items:
        with transaction.atomic():
            if quota:
                _requeue(item, OutboxItem.STATUS_FAILED, after_quota_reset(now), error)
                continue
            attempts = item.attempts + 1
            if attempts >= MAX_ATTEMPTS:
                _finish(item, OutboxItem.STATUS_DEAD, error=f"{error} (gave up after {attempts})")
            else:
                next_at = now + datetime.timedelta(seconds=backoff(attempts))
                _requeue(item, OutboxItem.STATUS_FAILED, next_at, error, attempts=attempts)


def _reasons(result):
    reasons = "; ".join(f"{r.code}: {r.message}" for r in result.reasons)
    return f"{result.status or 'no status'}: {reasons}" if reasons else result.status


def send_leads(items, client):
    """Send one batch of lead items and record each record's result."""
    try:
        results = client.sync_leads([item.payload for item in items])
    except QuotaExceeded as error:
        logger.warning("Marketo outbox: daily quota exceeded: %s", error)
        _failed(items, str(error), quota=True)
        return
    except MarketoError as error:
        permanent = type(error) is MarketoError
        if permanent:
            for item in items:
                _finish(item, OutboxItem.STATUS_DEAD, error=str(error))
        else:
            logger.warning("Marketo outbox: %d leads not sent: %s", len(items), error)
            _failed(items, str(error))
        return
    by_index = {result.index: result for result in results}
    sent = []
    for index, item in enumerate(items):
        result = by_index.get(index)
        if result is None:
            _failed([item], "Marketo returned no result for this record.")
        elif result.status in SENT_STATUSES:
            _finish(item, OutboxItem.STATUS_DONE, marketo_id=result.id)
            sent.append((item.person_id, result.id))
        else:
            _finish(item, OutboxItem.STATUS_DEAD, error=_reasons(result))
    # The people take the lead ids Marketo answered; their browsers' cookies get associated.
    identity.remember_lead_ids(sent)


def send_associations(items, client):
    """Associate each item's Munchkin cookie with its person's lead, one call per item.

    A refusal (1004 lead not found, 1012 invalid cookie, …) makes the item ``dead`` with the
    reason. When Marketo is unreachable, busy or out of quota, this item and the rest of the
    batch wait for their next try, like lead batches.
    """
    lead_ids = dict(
        Person.objects.filter(pk__in={item.person_id for item in items}).values_list(
            "pk", "marketo_id"
        )
    )
    for position, item in enumerate(items):
        # The person's current lead (a merge may have moved the item), else the one queued.
        lead_id = lead_ids.get(item.person_id) or item.payload.get("lead")
        if not lead_id or not item.payload.get("cookie"):
            _finish(item, OutboxItem.STATUS_DEAD, error="No Marketo lead or no cookie.")
            continue
        try:
            identity.associate(client, lead_id, item.payload["cookie"])
        except QuotaExceeded as error:
            logger.warning("Marketo outbox: daily quota exceeded: %s", error)
            _failed(items[position:], str(error), quota=True)
            return
        except MarketoError as error:
            if type(error) is MarketoError:
                _finish(item, OutboxItem.STATUS_DEAD, error=str(error))
                continue
            logger.warning("Marketo outbox: cookie associations not sent: %s", error)
            _failed(items[position:], str(error))
            return
        _finish(item, OutboxItem.STATUS_DONE, marketo_id=lead_id)


SENDERS = {OutboxItem.KIND_LEAD: send_leads, OutboxItem.KIND_ASSOCIATE: send_associations}


def senders():
    """Every kind's sender. The activity and program senders build on this module's helpers,
    so they are imported here, not at the top (no import cycle)."""
    from .activities import send_activities
    from .programs import send_program_members

    return {
        **SENDERS,
        OutboxItem.KIND_ACTIVITY: send_activities,
        OutboxItem.KIND_PROGRAM_MEMBER: send_program_members,
    }


@shared_task(acks_late=True)
def drain_outbox(kind=None):
    """Send one batch of due outbox items per kind; re-enqueue itself while more are due."""
    reclaim_expired()
    if not dynchat_settings.MARKETO.get("BASE_URL"):
        return 0
    client = make_client()
    sent = 0
    registered = senders()
    for each in [kind] if kind else list(registered):
        items = claim(each)
        if items:
            registered[each](items, client)
            sent += len(items)
    if sent and _due(kind).exists():
        drain_outbox.delay(kind)
    return sent
