"""Mirror Marketo's leads into Person/Company: the initial sync and the incremental sync.

Initial sync (:func:`start_initial_sync`, then :func:`step` until it returns None): the lead
database is exported with Bulk Lead Extract in ``createdAt`` windows of at most 31 days from
``SYNC_SINCE`` (or the ``since`` given) to the moment the run started. Everything needed to
resume lives in the :class:`~wagtail_dynchat.models.SyncRun`:

- ``windows_done``/``cursor``: the first window not loaded yet;
- ``state["jobs"]``: the export job of each window in flight (up to ``BULK_JOBS_AHEAD`` are
  queued ahead, so Marketo prepares the next files while one is loaded), with its last poll;
- ``bytes_done``/``rows_in_window``/``state["columns"]``: how far the current window's file is
  loaded. Rows are committed in chunks together with the byte offset after their last record,
  so a crash loses nothing and repeats nothing: the next step asks for the file from there
  with a Range request.

A step does one thing that may take a while (poll a job, or load one window's file) and returns
the seconds until the next step is due (0: at once), or None once the run is over; the Celery
task re-enqueues itself with that countdown instead of sleeping. Waits: a status poll at most
every ``BULK_POLL_SECONDS``; a full export queue (1029) ``BULK_QUEUE_WAIT_SECONDS``; the spent
daily export quota (1029) until 00:01 US Central; a Failed job is created again (three times
per window at most); transient errors back off.

Incremental sync (:func:`sync_changes`, from Celery beat): the leads changed since the last
finished run (minus ``SYNC_OVERLAP_SECONDS``), found through a paging token and Get Lead
Changes, fetched by id and upserted the same way. Upserts make both syncs idempotent.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import math
import uuid

from django.core.cache import caches
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from ..conf import dynchat_settings
from ..models import SyncRun
from . import bulk, lead_loader, mapping
from .client import MarketoClient
from .errors import AuthError, MarketoError, RateLimited, Transient

logger = logging.getLogger(__name__)

WINDOW = bulk.MAX_WINDOW
#: Failed exports of one window re-created before the run gives up.
MAX_JOB_FAILURES = 3
#: Seconds a step holds the run's lock without progress before another worker may take over.
LOCK_SECONDS = 10 * 60
TRANSIENT_WAIT = 60
TRANSIENT_WAIT_MAX = 60 * 60


class SyncError(Exception):
    """A sync cannot start or go on; the message is meant for an administrator."""


class NotConfigured(SyncError):
    pass


class Cancelled(Exception):
    """The run was cancelled while a step was working on it."""


def _config():
    return dynchat_settings.MARKETO


def make_client():
    """A MarketoClient, or NotConfigured with a readable message."""
    client = MarketoClient()
    if not client.is_configured():
        raise NotConfigured(
            _(
                "Marketo is not configured: set BASE_URL, CLIENT_ID and CLIENT_SECRET in "
                "WAGTAIL_DYNCHAT['MARKETO']."
            )
        )
    return client


# -- windows ---------------------------------------------------------------------------------


def _aware(value):
    """A datetime from a datetime, a date or an ISO string (a date is midnight UTC)."""
    if isinstance(value, str):
        parsed = parse_datetime(value) or parse_date(value)
        if parsed is None:
            raise SyncError(_("%(value)s is not a date (YYYY-MM-DD).") % {"value": value})
        value = parsed
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time(0), tzinfo=datetime.UTC)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value.astimezone(datetime.UTC).replace(microsecond=0)


def windows_total(start, end):
    """How many windows of at most 31 days cover ``[start, end)``."""
    return max(0, math.ceil((end - start) / WINDOW))


def window(run_or_start, index, end=None):
    """``(start, end)`` of window ``index`` of a run (or of a range ``start``…``end``)."""
    if isinstance(run_or_start, SyncRun):
        start, end = run_or_start.range_start, run_or_start.range_end
    else:
        start = run_or_start
    low = start + WINDOW * index
    return low, min(low + WINDOW, end)


def plan_windows(start, end):
    """Every window of ``[start, end)``: contiguous, at most 31 days, whole seconds."""
    start, end = _aware(start), _aware(end)
    return [window(start, index, end) for index in range(windows_total(start, end))]


# -- public interface ------------------------------------------------------------------------


def start_initial_sync(since=None, *, enqueue=True):
    """The running initial sync, or a new one from ``since`` (date, datetime or "YYYY-MM-DD";
    default ``SYNC_SINCE``) to now; its task is enqueued once the transaction commits."""
    make_client()
    with transaction.atomic():
        run = _running(SyncRun.KIND_INITIAL)
        if run is None:
            start = _aware(since or _config().get("SYNC_SINCE") or "2010-01-01")
            end = timezone.now().astimezone(datetime.UTC).replace(microsecond=0)
            if start >= end:
                raise SyncError(_("The start of the sync must be in the past."))
            try:
                with transaction.atomic():
                    run = SyncRun.objects.create(
                        kind=SyncRun.KIND_INITIAL,
                        range_start=start,
                        range_end=end,
                        cursor=start,
                        windows_total=windows_total(start, end),
                        state={"jobs": {}},
                    )
            except IntegrityError:  # another request started one a moment ago
                run = _running(SyncRun.KIND_INITIAL)
        if enqueue:
            from .sync_tasks import run_initial_sync

            transaction.on_commit(functools.partial(run_initial_sync.delay, run.pk), robust=True)
    return run


def cancel_sync(run):
    """Stop a running sync (its export jobs in Marketo are cancelled, best effort)."""
    with transaction.atomic():
        run = SyncRun.objects.select_for_update().get(pk=run.pk)
        if run.status != SyncRun.STATUS_RUNNING:
            return run
        run.status = SyncRun.STATUS_CANCELLED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
    jobs = [job["id"] for job in (run.state.get("jobs") or {}).values() if job.get("id")]
    if jobs:
        try:
            extract = bulk.BulkLeadExtract(make_client())
            for export_id in jobs:
                extract.cancel(export_id)
        except (MarketoError, SyncError) as error:
            logger.warning("Marketo sync %s: could not cancel its export jobs: %s", run.pk, error)
    return run


def progress(run):
    """What an admin page shows about ``run``: windows, rows, rate, time left and status."""
    now = timezone.now()
    end = run.finished_at or now
    elapsed = max(0.0, (end - run.started_at).total_seconds())
    fraction = 0.0
    job = (run.state.get("jobs") or {}).get(str(run.windows_done)) or {}
    if job.get("size") and run.status == SyncRun.STATUS_RUNNING:
        fraction = min(1.0, run.bytes_done / job["size"])
    done = run.windows_done + fraction
    eta = None
    if run.status == SyncRun.STATUS_RUNNING and done > 0 and run.windows_total:
        eta = round(elapsed / done * (run.windows_total - done))
    elif run.status != SyncRun.STATUS_RUNNING:
        eta = 0
    wait_until = _when(run.state.get("wait_until"))
    waiting = run.status == SyncRun.STATUS_RUNNING and wait_until is not None and wait_until > now
    return {
        "id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "windows_done": run.windows_done,
        "windows_total": run.windows_total,
        "percent": round(100 * done / run.windows_total, 1) if run.windows_total else 100.0,
        "rows": run.rows,
        "rows_per_second": round(run.rows / elapsed, 1) if elapsed > 0 else 0.0,
        "eta_seconds": eta,
        "elapsed_seconds": round(elapsed),
        "waiting_until": wait_until if waiting else None,
        "waiting_for": run.state.get("wait_reason", "") if waiting else "",
        "linked": run.state.get("linked", 0),
        "without_email": run.state.get("without_email", 0),
        "last_error": run.last_error,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


# -- initial sync: one step ------------------------------------------------------------------


def _running(kind):
    return SyncRun.objects.filter(kind=kind, status=SyncRun.STATUS_RUNNING).first()


class _Lock:
    """One step of a run at a time, across workers (cache lease, renewed while loading)."""

    def __init__(self, run_id):
        self.cache = caches[dynchat_settings.CACHE_ALIAS]
        self.key = f"dynchat:marketo:sync:{run_id}"
        self.token = uuid.uuid4().hex

    def acquire(self):
        return self.cache.add(self.key, self.token, LOCK_SECONDS)

    def renew(self):
        if self.cache.get(self.key) == self.token:
            self.cache.set(self.key, self.token, LOCK_SECONDS)

    def release(self):
        if self.cache.get(self.key) == self.token:
            self.cache.delete(self.key)


def is_busy(run_id):
    """A step of this run is under way somewhere."""
    return caches[dynchat_settings.CACHE_ALIAS].get(f"dynchat:marketo:sync:{run_id}") is not None


def step(run_id, *, client=None, on_progress=None):
    """Advance the initial sync ``run_id`` by one step; seconds until the next step is due
    (0: at once), or None when the run is over (done, failed or cancelled).
    ``on_progress(run)`` is called after every committed chunk."""
    lock = _Lock(run_id)
    if not lock.acquire():
        return bulk.poll_seconds()  # another worker is on it; look again later
    try:
        run = SyncRun.objects.filter(pk=run_id).first()
        if run is None or run.status != SyncRun.STATUS_RUNNING:
            return None
        try:
            return _Step(run, client or make_client(), lock, on_progress).advance()
        except Cancelled:
            return None
        except (Transient, RateLimited) as error:
            return _transient(run, error)
        except (AuthError, MarketoError, NotConfigured) as error:
            _fail(run, str(error))
            return None
    finally:
        lock.release()


def _transient(run, error):
    failures = int(run.state.get("transient", 0)) + 1
    wait = min(TRANSIENT_WAIT_MAX, TRANSIENT_WAIT * 2 ** (failures - 1))
    run.state["transient"] = failures
    run.last_error = str(error)
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.STATUS_RUNNING).update(
        state=run.state, last_error=run.last_error, updated_at=timezone.now()
    )
    logger.warning("Marketo sync %s: %s; next try in %s s", run.pk, error, wait)
    return wait


def _fail(run, message):
    logger.error("Marketo sync %s failed: %s", run.pk, message)
    SyncRun.objects.filter(pk=run.pk, status=SyncRun.STATUS_RUNNING).update(
        status=SyncRun.STATUS_FAILED,
        last_error=message,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


class _Step:
    def __init__(self, run, client, lock, on_progress):
        self.run = run
        self.extract = bulk.BulkLeadExtract(client)
        self.lock = lock
        self.on_progress = on_progress
        self.config = _config()
        self.state = run.state
        self.state.setdefault("jobs", {})

    # persistence: every write is conditional on the run still running (cancel wins)
    def save(self, **fields):
        fields.setdefault("state", self.state)
        fields["updated_at"] = timezone.now()
        for name, value in fields.items():
            setattr(self.run, name, value)
        updated = SyncRun.objects.filter(pk=self.run.pk, status=SyncRun.STATUS_RUNNING).update(
            **fields
        )
        if not updated:
            raise Cancelled

    def advance(self):
        run, now = self.run, timezone.now()
        if run.windows_done >= run.windows_total:
            self.state["until"] = bulk.iso(run.range_end)
            self.state.pop("wait_until", None)
            self.save(status=SyncRun.STATUS_DONE, finished_at=now, cursor=run.range_end)
            return None
        waiting = self._fill_pipeline(now)
        job = self.state["jobs"].get(str(run.windows_done))
        if job is None or job["status"] == "Created":
            return waiting if waiting is not None else bulk.poll_seconds()
        if job["status"] != "Completed":
            due = bulk.poll_due(_when(job.get("polled_at")), now)
            if due > 0:
                return due
            status = self.extract.status(job["id"])
            job.update(status=status.get("status", ""), polled_at=now.isoformat())
            if job["status"] in ("Failed", "Cancelled", "Canceled"):
                return self._recreate(job, status)
            if job["status"] == "Completed":
                job.update(
                    size=int(status.get("fileSize") or 0),
                    records=status.get("numberOfRecords"),
                    checksum=status.get("fileChecksum", ""),
                )
            self.state.pop("transient", None)
            self.save(export_id=job["id"], export_status=job["status"])
            if job["status"] != "Completed":
                return bulk.poll_seconds()
        try:
            self._load(job)
        except MarketoError as error:
            if error.code != "HTTP 404":
                raise
            return self._expired(job, error)
        self._next_window(job)
        return 0

    def _fill_pipeline(self, now):
        """Create and enqueue the jobs of the next windows; the seconds to wait when the
        current window's job cannot be queued yet, else None."""
        run = self.run
        ahead = max(1, int(self.config.get("BULK_JOBS_AHEAD") or 1))
        last = min(run.windows_total, run.windows_done + ahead)
        blocked = _when(self.state.get("wait_until"))
        for index in range(run.windows_done, last):
            job = self.state["jobs"].get(str(index))
            if job is None:
                start, end = window(run, index)
                created = self.extract.create(
                    mapping.read_fields(), column="createdAt", start=start, end=end
                )
                job = {"id": created["exportId"], "status": created.get("status", "Created")}
                self.state["jobs"][str(index)] = job
                self.save()
            if job["status"] != "Created":
                continue
            if blocked and blocked > now:
                break
            try:
                queued = self.extract.enqueue(job["id"], now=now)
            except (bulk.QueueFull, bulk.ExportQuotaExceeded) as error:
                reason = "quota" if isinstance(error, bulk.ExportQuotaExceeded) else "queue"
                retry_at = error.retry_at.astimezone(datetime.UTC)
                self.state.update(wait_until=retry_at.isoformat(), wait_reason=reason)
                self.save(last_error=str(error))
                blocked = error.retry_at
                break
            job["status"] = queued.get("status") or "Queued"
            self.state.pop("wait_until", None)
            self.state.pop("wait_reason", None)
            self.save(export_id=self.state["jobs"][str(run.windows_done)]["id"])
        if blocked and blocked > now:
            return (blocked - now).total_seconds()
        return None

    def _recreate(self, job, status):
        index = str(self.run.windows_done)
        failures = self.state.setdefault("failures", {})
        failures[index] = failures.get(index, 0) + 1
        message = status.get("errorMsg") or job["status"]
        if failures[index] > MAX_JOB_FAILURES:
            raise MarketoError(
                "export",
                _("The export of window %(n)s failed %(times)s times: %(error)s")
                % {"n": self.run.windows_done + 1, "times": failures[index], "error": message},
            )
        del self.state["jobs"][index]
        self.save(last_error=f"Export {job['id']} {job['status']}: {message}; created again.")
        return 0

    def _expired(self, job, error):
        """The file is gone (retention over): export the window again from its start."""
        del self.state["jobs"][str(self.run.windows_done)]
        self.state.pop("columns", None)
        self.save(
            rows=self.run.rows - self.run.rows_in_window,
            rows_in_window=0,
            bytes_done=0,
            last_error=f"Export {job['id']} file not found ({error.message}); exported again.",
        )
        return 0

    def _load(self, job):
        """Load the job's file from ``bytes_done`` to its end, chunk by committed chunk."""
        run = self.run
        # fileSize comes with Completed; without it the first range tells.
        offset, size = run.bytes_done, job.get("size") or None
        digest = hashlib.sha256() if offset == 0 else None
        range_bytes = max(1024, int(self.config.get("BULK_RANGE_BYTES") or 8 * 1024 * 1024))
        chunk_rows = max(1, int(self.config.get("SYNC_CHUNK_ROWS") or 5000))
        while size is None or offset < size:
            data, total = self.extract.read_range(job["id"], offset, range_bytes)
            if total is not None and total != size:
                size = job["size"] = total
            if size is None:
                raise MarketoError("range", "Marketo gave no size for the export file")
            final = offset + len(data) >= size
            records, consumed = lead_loader.split_records(data, final)
            if not records:
                if not data:
                    raise MarketoError("range", f"empty answer at byte {offset} of {size}")
                range_bytes *= 2  # one record longer than a range
                continue
            if digest is not None:
                digest.update(data[:consumed])
            if "columns" not in self.state:
                header = records.pop(0)
                self.state["columns"] = lead_loader.parse_header(header)
                offset += len(header)
                self.save(bytes_done=offset)
            for start in range(0, len(records), chunk_rows):
                batch = records[start : start + chunk_rows]
                offset += sum(len(record) for record in batch)
                self._commit(batch, offset)
        checksum = job.get("checksum", "")
        if (
            digest is not None
            and checksum.startswith("sha256:")
            and "sha256:" + digest.hexdigest() != checksum
        ):
            self.save(last_error=f"Export {job['id']}: checksum mismatch.")
        records = job.get("records")
        if records is not None and int(records) != run.rows_in_window:
            logger.warning(
                "Marketo sync %s: export %s has %s records, %s loaded",
                run.pk,
                job["id"],
                records,
                run.rows_in_window,
            )

    def _commit(self, records, offset):
        leads = lead_loader.parse_records(records, self.state["columns"])
        with transaction.atomic():
            stats = lead_loader.load_leads(leads)
            self.state["linked"] = self.state.get("linked", 0) + stats.linked
            self.state["without_email"] = self.state.get("without_email", 0) + stats.without_email
            self.save(
                bytes_done=offset,
                rows=self.run.rows + stats.rows,
                rows_in_window=self.run.rows_in_window + stats.rows,
            )
        self.lock.renew()
        if self.on_progress is not None:
            self.on_progress(self.run)

    def _next_window(self, job):
        run = self.run
        self.state["jobs"].pop(str(run.windows_done), None)
        self.state.pop("columns", None)
        self.state.pop("transient", None)
        done = run.windows_done + 1
        self.save(
            windows_done=done,
            cursor=window(run, done)[0] if done < run.windows_total else run.range_end,
            bytes_done=0,
            rows_in_window=0,
            export_id="",
            export_status="",
        )
        if self.on_progress is not None:
            self.on_progress(run)


def _when(value):
    return parse_datetime(value) if value else None


# -- incremental sync ------------------------------------------------------------------------


def last_finished():
    """The latest finished sync (initial or incremental) that says up to when it synced."""
    for run in SyncRun.objects.filter(status=SyncRun.STATUS_DONE).order_by("-finished_at")[:20]:
        if run.state.get("until"):
            return run
    return None


def sync_changes(*, client=None):
    """Upsert the leads changed since the last finished sync; returns the SyncRun, or None
    when there is nothing to start from (no finished sync) or an initial sync is running."""
    client = client or make_client()
    if _running(SyncRun.KIND_INITIAL) is not None:
        return None
    run = _running(SyncRun.KIND_INCREMENTAL)
    if run is None:
        previous = last_finished()
        if previous is None:
            return None
        overlap = datetime.timedelta(seconds=int(_config().get("SYNC_OVERLAP_SECONDS") or 0))
        since = _aware(previous.state["until"]) - overlap
        now = timezone.now()
        try:
            with transaction.atomic():
                run = SyncRun.objects.create(
                    kind=SyncRun.KIND_INCREMENTAL,
                    since=since,
                    range_start=since,
                    range_end=now,
                    state={"until": bulk.iso(now)},
                )
        except IntegrityError:
            return None  # another worker runs it
    lock = _Lock(run.pk)
    if not lock.acquire():
        return run
    try:
        _changes(run, client, lock)
    except (Transient, RateLimited) as error:
        # The run stays running with its paging token: the next beat continues from there.
        run.last_error = str(error)
        run.save(update_fields=["last_error", "updated_at"])
        raise
    except MarketoError as error:
        _fail(run, str(error))
        run.refresh_from_db()
    finally:
        lock.release()
    return run


def _changes(run, client, lock):
    fields = mapping.read_fields()
    watched = [name for name in fields if name not in mapping.SYSTEM_FIELDS]
    token = run.paging_token
    if not token:
        body = client.get(
            "/rest/v1/activities/pagingtoken.json", {"sinceDatetime": bulk.iso(run.since)}
        )
        token = body["nextPageToken"]
        run.paging_token = token
        run.save(update_fields=["paging_token", "updated_at"])
    params = {"fields": ",".join(watched), "batchSize": 300}
    while True:
        body = client.get(
            "/rest/v1/activities/leadchanges.json", {**params, "nextPageToken": token}
        )
        ids = list(dict.fromkeys(item["leadId"] for item in body.get("result") or []))
        stats = lead_loader.LoadStats()
        if ids:
            leads = client.get_leads_by_filter("id", ids, fields=fields)
            with transaction.atomic():
                stats = lead_loader.load_leads(leads)
        token = body.get("nextPageToken") or token
        run.paging_token = token
        run.rows += stats.rows
        run.state["linked"] = run.state.get("linked", 0) + stats.linked
        run.state["without_email"] = run.state.get("without_email", 0) + stats.without_email
        run.save(update_fields=["paging_token", "rows", "state", "updated_at"])
        lock.renew()
        if not body.get("moreResult"):
            break
    run.status = SyncRun.STATUS_DONE
    run.finished_at = timezone.now()
    run.last_error = ""
    run.save(update_fields=["status", "finished_at", "last_error", "updated_at"])
