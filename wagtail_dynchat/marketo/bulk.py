"""Marketo's Bulk Lead Extract (integrations.md §2.9): create, enqueue, poll, download, cancel.

A job is created with its fields and exactly one filter (``createdAt``/``updatedAt`` ranges of at
most 31 days, ISO-8601 without milliseconds), enqueued, polled until ``Completed`` and its file
read in byte ranges (``Range: bytes=a-b`` → 206), so a download resumes at any saved offset.

How this module reacts to Marketo's limits:

- status polls: :func:`poll_due` allows one poll per job every ``BULK_POLL_SECONDS`` (default
  60 s, Marketo's minimum); callers keep the time of the last poll with the job;
- 1029 on enqueue is one of three things, told apart by Marketo's message: "Job already queued"
  (our earlier enqueue went through: the job is queued), the export queue is full (10 jobs):
  :class:`QueueFull`, retry after ``BULK_QUEUE_WAIT_SECONDS``; the daily export quota (500 MB)
  is spent: :class:`ExportQuotaExceeded`, retry after the next 00:00 US Central;
- a ``Failed`` job must be created again (the caller does, see ``sync.py``).

JSON calls go through :meth:`MarketoClient.request` and file ranges through
:meth:`MarketoClient.download`: the same token, rate budget and retry policy.
"""

from __future__ import annotations

import datetime
import re

from django.utils import timezone

from ..conf import dynchat_settings
from .errors import MarketoError, QuotaExceeded
from .limits import QUOTA_TIMEZONE

#: Longest createdAt/updatedAt range of one export.
MAX_WINDOW = datetime.timedelta(days=31)
#: Job statuses after which a job never changes again.
FINISHED = frozenset({"Completed", "Failed", "Cancelled", "Canceled"})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class QueueFull(QuotaExceeded):
    """1029: the export queue is full; ``retry_at`` is when to try again."""

    def __init__(self, code, message, retry_at):
        super().__init__(code, message)
        self.retry_at = retry_at


class ExportQuotaExceeded(QuotaExceeded):
    """1029: the daily export quota is spent; ``retry_at`` is after Marketo's daily reset."""

    def __init__(self, code, message, retry_at):
        super().__init__(code, message)
        self.retry_at = retry_at


def iso(moment):
    """``moment`` as Marketo's bulk filters want it: UTC, whole seconds, no milliseconds."""
    return moment.astimezone(datetime.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_quota_reset(now=None):
    """The first minute after the next midnight US Central (Marketo's daily reset)."""
    local = (now or timezone.now()).astimezone(QUOTA_TIMEZONE)
    day = local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(0, 1), tzinfo=QUOTA_TIMEZONE)


def poll_seconds():
    return max(1.0, float(dynchat_settings.MARKETO.get("BULK_POLL_SECONDS") or 60))


def poll_due(last_polled, now=None):
    """Seconds to wait before the next status poll of a job last polled at ``last_polled``
    (an aware datetime, or None when never polled); 0 when a poll may go now."""
    if last_polled is None:
        return 0.0
    elapsed = ((now or timezone.now()) - last_polled).total_seconds()
    return max(0.0, poll_seconds() - elapsed)


class BulkLeadExtract:
    """The bulk lead extract jobs of one Marketo instance (``client``: a MarketoClient)."""

    base = "/bulk/v1/leads/export"

    def __init__(self, client):
        self.client = client

    def _one(self, body):
        result = body.get("result") or []
        if not result:
            raise MarketoError("result", "Marketo answered no export job")
        return result[0]

    def create(self, fields, *, column, start, end, format="CSV", headers=None):
        """Create a job exporting ``fields`` (REST names) of the leads whose ``column``
        (``createdAt`` or ``updatedAt``) lies in ``[start, end)``; returns the job dict."""
        if end - start > MAX_WINDOW:
            raise ValueError("a bulk extract filter covers at most 31 days")
        body = {
            "fields": list(fields),
            "format": format,
            "filter": {column: {"startAt": iso(start), "endAt": iso(end)}},
        }
        if headers:
            body["columnHeaderNames"] = dict(headers)
        return self._one(self.client.post(f"{self.base}/create.json", body))

    def enqueue(self, export_id, now=None):
        """Queue a created job; returns its status dict. Raises :class:`QueueFull` or
        :class:`ExportQuotaExceeded` (1029), each with the time to retry."""
        try:
            return self._one(self.client.post(f"{self.base}/{export_id}/enqueue.json"))
        except QuotaExceeded as error:
            if error.code != "1029":
                raise
            text = error.message.lower()
            now = now or timezone.now()
            if "already queued" in text:
                # A retried enqueue whose first try went through.
                return {"exportId": export_id, "status": "Queued"}
            if "quota" in text:
                raise ExportQuotaExceeded(
                    error.code, error.message, next_quota_reset(now)
                ) from error
            wait = float(dynchat_settings.MARKETO.get("BULK_QUEUE_WAIT_SECONDS") or 300)
            retry_at = now + datetime.timedelta(seconds=wait)
            raise QueueFull(error.code, error.message, retry_at) from error

    def status(self, export_id):
        """The job's status dict (``status``, ``numberOfRecords``, ``fileSize``…)."""
        return self._one(self.client.get(f"{self.base}/{export_id}/status.json"))

    def cancel(self, export_id):
        return self._one(self.client.post(f"{self.base}/{export_id}/cancel.json"))

    def jobs(self, statuses=()):
        """Export jobs of the past days, those with one of ``statuses`` when given."""
        params = {"status": ",".join(statuses)} if statuses else None
        return self.client.get(f"{self.base}.json", params).get("result") or []

    def read_range(self, export_id, start, size):
        """Up to ``size`` bytes of the job's file from byte ``start``: ``(data, total size)``.

        HTTP 404 (the job is not completed, or unknown) raises ``MarketoError("HTTP 404")``.
        """
        response = self.client.download(
            f"{self.base}/{export_id}/file.json",
            headers={"Range": f"bytes={start}-{start + size - 1}"},
        )
        data = response.content
        total = None
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if response.status_code == 206 and match:
            if int(match[1]) != start:
                raise MarketoError("range", f"asked for byte {start}, got {match[1]}")
            total = int(match[3]) if match[3] != "*" else None
        elif response.status_code == 200:
            # A server ignoring Range sends the whole file: keep the asked part.
            total = len(data)
            data = data[start : start + size]
        return data, total
