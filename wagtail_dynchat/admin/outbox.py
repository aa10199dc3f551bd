"""The Marketo outbox as the admin sees it: depth, throughput, recent errors, dead letters, and
the actions on them (retry, retry all dead, test the connection).

The page itself is :mod:`wagtail_dynchat.admin.marketo_sync`; only users with the change
permission on outbox items (and superusers) see it.
"""

import datetime

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.permission_policies import ModelPermissionPolicy

from ..marketo.outbox import schedule_drain
from ..marketo.tasks import _requeue
from ..models import OutboxItem

permission_policy = ModelPermissionPolicy(OutboxItem)
#: The dead-letter listing: items given up on, and items failed that will be tried again.
LISTED = (OutboxItem.STATUS_DEAD, OutboxItem.STATUS_FAILED)
LIMIT = 500
#: Columns of the depth table, in the order of the outbox's life cycle.
DEPTH_STATUSES = (
    OutboxItem.STATUS_PENDING,
    OutboxItem.STATUS_SENDING,
    OutboxItem.STATUS_FAILED,
    OutboxItem.STATUS_DEAD,
)
#: Throughput periods, in minutes.
THROUGHPUT_MINUTES = (5, 60)
#: Distinct errors shown.
ERRORS_SHOWN = 10
#: Items retried per transaction: a long "retry all" holds no lock for long.
RETRY_CHUNK = 200


def depth():
    """Items per kind and status (done excepted) and the age of each kind's oldest waiting item.

    Returns ``(rows, total)``: one row per kind (every known kind, then any other kind found),
    each ``{"kind", "label", "cells": [(status, n) per DEPTH_STATUSES], "oldest_waiting"}``, and
    the totals as ``{"cells", "oldest_waiting"}``.
    """
    counts = {}
    for row in (
        OutboxItem.objects.filter(status__in=DEPTH_STATUSES)
        .values("kind", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        counts[row["kind"], row["status"]] = row["n"]
    oldest = dict(
        OutboxItem.objects.filter(status__in=OutboxItem.WAITING)
        .values("kind")
        .annotate(oldest=Min("created_at"))
        .order_by()
        .values_list("kind", "oldest")
    )
    labels = dict(OutboxItem.KIND_CHOICES)
    kinds = list(labels) + sorted({kind for kind, _status in counts} - set(labels))
    rows = [
        {
            "kind": kind,
            "label": labels.get(kind, kind),
            "cells": [(status, counts.get((kind, status), 0)) for status in DEPTH_STATUSES],
            "oldest_waiting": oldest.get(kind),
        }
        for kind in kinds
    ]
    total = {
        "cells": [
            (status, sum(n for (k, s), n in counts.items() if s == status))
            for status in DEPTH_STATUSES
        ],
        "oldest_waiting": min(filter(None, oldest.values()), default=None),
    }
    return rows, total


def throughput(now=None):
    """Items done in each of :data:`THROUGHPUT_MINUTES`, with the rate per minute."""
    now = now or timezone.now()
    since = {m: now - datetime.timedelta(minutes=m) for m in THROUGHPUT_MINUTES}
    # One query: done items of the longest period, counted per period.
    figures = OutboxItem.objects.filter(
        status=OutboxItem.STATUS_DONE, updated_at__gte=min(since.values())
    ).aggregate(
        **{
            f"m{minutes}": Count("pk", filter=Q(updated_at__gte=start))
            for minutes, start in since.items()
        }
    )
    return [
        {
            "minutes": minutes,
            "label": (
                _("Last hour")
                if minutes == 60
                else ngettext("Last %(count)d minute", "Last %(count)d minutes", minutes)
                % {"count": minutes}
            ),
            "done": figures[f"m{minutes}"],
            "per_minute": figures[f"m{minutes}"] / minutes,
        }
        for minutes in THROUGHPUT_MINUTES
    ]


def last_errors(limit=ERRORS_SHOWN):
    """The most recent distinct errors of items not done: ``{"error", "count", "last_seen"}``."""
    return list(
        OutboxItem.objects.exclude(last_error="")
        .exclude(status=OutboxItem.STATUS_DONE)
        .values("last_error")
        .annotate(count=Count("pk"), last_seen=Max("updated_at"))
        .order_by("-last_seen", "last_error")[:limit]
    )


def dead_letters(limit=LIMIT):
    """Dead and failed items, the latest first: ``(items, count)``."""
    items = OutboxItem.objects.filter(status__in=LISTED).order_by("-updated_at", "-pk")
    return list(items[:limit]), items.count()


def test_connection(request):
    """Ask Marketo for its lead fields and tell the admin what came back, in words."""
    from ..marketo.client import MarketoClient
    from ..marketo.errors import AuthError, MarketoError

    client = MarketoClient()
    if not client.is_configured():
        messages.warning(request, _("Marketo is not configured (WAGTAIL_DYNCHAT['MARKETO'])."))
        return
    try:
        fields = client.describe_leads()
    except AuthError as error:
        messages.error(
            request,
            _("Marketo refused the credentials: %(error)s") % {"error": error.message},
        )
    except MarketoError as error:
        messages.error(
            request,
            _("Marketo answered with error %(code)s: %(error)s")
            % {"code": error.code, "error": error.message},
        )
    except Exception as error:  # a wrong host, TLS, DNS: say so rather than a 500
        messages.error(request, _("Marketo could not be reached: %(error)s") % {"error": error})
    else:
        messages.success(
            request,
            _("Connected to Marketo: %(count)d lead fields available.") % {"count": len(fields)},
        )


def retry(ids):
    """Put dead/failed items back to pending, due now, with a fresh attempt count; drain.

    Returns how many items were queued again (ids of items in another state are ignored).
    """
    ids = sorted(set(ids))
    count = 0
    kinds = set()
    for start in range(0, len(ids), RETRY_CHUNK):
        with transaction.atomic():
            items = OutboxItem.objects.select_for_update().filter(
                pk__in=ids[start : start + RETRY_CHUNK], status__in=LISTED
            )
            for item in items:
                _requeue(
                    item, OutboxItem.STATUS_PENDING, timezone.now(), item.last_error, attempts=0
                )
                kinds.add(item.kind)
                count += 1
    for kind in sorted(kinds):
        schedule_drain(kind)  # after the commits above: the drain sees the items
    return count


def retry_all_dead():
    """:func:`retry` every dead item; returns how many were queued again."""
    dead = OutboxItem.objects.filter(status=OutboxItem.STATUS_DEAD)
    return retry(dead.values_list("pk", flat=True))
