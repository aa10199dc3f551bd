"""The fake Marketo's bulk lead extract: create, enqueue, status, file with Range, cancel, list
jobs; quotas (1029); and the lead-change feed used by incremental syncs (paging tokens, lead
changes).

A mixin of :class:`tests.fakes.marketo.FakeMarketo`: its routes are listed in ``ROUTES`` and
its state is made by ``_init_bulk()``; handlers run under the fake's lock and use its
``guard()`` and ``envelope()``.

Wire behaviour (integrations.md §2.9, §2.7):

- ``POST /bulk/v1/leads/export/create.json`` ``{"fields", "format", "columnHeaderNames",
  "filter"}``: exactly one filter; only ``createdAt``/``updatedAt`` are served (other filter
  types answer 1035); dates ISO-8601 *without* milliseconds and a range of at most 31 days, else
  1003. The filter takes leads with ``startAt <= value < endAt``.
- ``POST …/{id}/enqueue.json``: 1029 "Job already queued" unless the job is Created, 1029 "Too
  many jobs (10) in queue" with ``max_queued`` jobs queued or processing, 1029 "Export daily
  quota exceeded" once ``export_quota_bytes`` were exported today.
- Jobs move Created → Queued → Processing → Completed (or Failed), at most ``max_processing``
  processing at once, after ``queue_seconds`` and ``process_seconds`` (read at each request);
  ``paused = True`` holds them where they are. On completion the CSV is written to a temporary
  file, and ``GET …/{id}/file.json`` serves it in chunks (``Range: bytes=a-b`` → 206 with
  ``Content-Range``); before completion it answers HTTP 404 with a plain-text body.
- ``POST …/{id}/cancel.json``; ``GET /bulk/v1/leads/export.json?status=A,B`` lists jobs.
- ``GET /rest/v1/activities/pagingtoken.json?sinceDatetime=…`` and
  ``GET /rest/v1/activities/leadchanges.json?nextPageToken=…&fields=…[&batchSize=…]``: the
  changes made through :meth:`new_lead` / :meth:`change_lead` (activity types 12 "New Lead" and
  13 "Change Data Value"), paged with ``nextPageToken``/``moreResult``.

A large lead database is *generated* rather than stored (:meth:`generate_leads`): lead ``i``
has id ``first_id + i`` and ``createdAt`` spread evenly over a time range, so an export finds
its leads by arithmetic and writes them straight to its file, never holding them in memory.

Test helpers::

    fake.generate_leads(1_000_000, start, end)   # a generated database
    fake.process_seconds = 5; fake.paused = True # timing of jobs
    fake.finish_exports()                        # every waiting job runs to its end now
    fake.fail_next_exports(1)                    # the next job to finish Fails
    fake.export_quota_bytes = 1000; fake.reset_export_quota()
    fake.change_lead(lead_id, firstName="Ann"); fake.new_lead(email="x@example.com")
"""

from __future__ import annotations

import base64
import bisect
import csv
import datetime
import hashlib
import os
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass

from . import Reply

UTC = datetime.UTC
EXPORT = r"/bulk/v1/leads/export"
JOB = EXPORT + r"/(?P<export_id>[^/]+)"
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})$")
DELIMITERS = {"CSV": ",", "TSV": "\t", "SSV": " "}
FILTERS = {"createdAt", "updatedAt", "staticListId", "staticListName", "smartListId"}
FILTERS |= {"smartListName"}
MAX_DAYS = 31
CHUNK = 256 * 1024
ACTIVE = ("Queued", "Processing")


def _stamp(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _epoch(value):
    """Seconds since the epoch of an ISO-8601 date (``Z`` or an offset)."""
    text = str(value).replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class Generated:
    """``count`` leads with ids from ``first_id`` and createdAt spread over [start, end)."""

    count: int
    start: int
    end: int
    first_id: int

    def created(self, index):
        return self.start + (index * (self.end - self.start)) // self.count

    def indexes(self, since, until):
        """Indexes of the leads created in [since, until)."""
        key = self.created
        low = bisect.bisect_left(range(self.count), since, key=key)
        high = bisect.bisect_left(range(self.count), until, key=key)
        return range(low, high)

    def lead(self, index):
        stamp = _stamp(self.created(index))
        lead = {
            "id": self.first_id + index,
            "email": f"lead{index}@company{index % 9973}.example",
            "firstName": None if index % 10 == 3 else f"First{index}",
            "lastName": f"Last{index}",
            "company": None if index % 7 == 5 else f"Company {index % 50000}",
            "title": ("CEO", "CTO", "Engineer", None)[index % 4],
            "phone": f"+1 555 {index % 10000:04d}",
            "postalCode": f"{index % 100000:05d}",
            "leadScore": index % 100,
            "cookies": None,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        return lead


class BulkExtractMixin:
    #: (method, regex on the raw path, route name, handler method name)
    ROUTES: list[tuple[str, str, str, str]] = [
        ("POST", EXPORT + r"/create\.json", "bulk.create", "export_create"),
        ("POST", JOB + r"/enqueue\.json", "bulk.enqueue", "export_enqueue"),
        ("GET", JOB + r"/status\.json", "bulk.status", "export_status"),
        ("GET", JOB + r"/file\.json", "bulk.file", "export_file"),
        ("POST", JOB + r"/cancel\.json", "bulk.cancel", "export_cancel"),
        ("GET", EXPORT + r"\.json", "bulk.list", "export_list"),
        ("GET", r"/rest/v1/activities/pagingtoken\.json", "changes.token", "changes_token"),
        ("GET", r"/rest/v1/activities/leadchanges\.json", "changes.leads", "changes_leads"),
    ]

    def _init_bulk(self):
        self.exports: dict[str, dict] = {}
        self.generated: Generated | None = None
        self.max_processing = 2
        self.max_queued = 10
        self.export_quota_bytes = 500 * 1024 * 1024
        self.exported_today = 0
        self.queue_seconds = 0.0
        self.process_seconds = 0.0
        self.paused = False
        self._export_failures = 0
        self._export_dir = tempfile.mkdtemp(prefix="dynchat-fake-bulk-")
        self.lead_changes: list[dict] = []

    def stop(self):
        super().stop()
        shutil.rmtree(self._export_dir, ignore_errors=True)

    # -- test helpers ----------------------------------------------------------------------

    def generate_leads(self, count, start, end, *, first_id=1_000_001):
        """Serve ``count`` generated leads created evenly over ``[start, end)`` (datetimes)."""
        with self.lock:
            self.generated = Generated(
                int(count), int(start.timestamp()), int(end.timestamp()), int(first_id)
            )
        return self.generated

    def finish_exports(self):
        """Run every queued or processing job to its end now (ignoring the timings)."""
        with self.lock:
            paused, self.paused = self.paused, False
            queue, process = self.queue_seconds, self.process_seconds
            self.queue_seconds = self.process_seconds = 0
            try:
                while any(job["status"] in ACTIVE for job in self.exports.values()):
                    self._advance_exports()
            finally:
                self.paused, self.queue_seconds, self.process_seconds = paused, queue, process

    def fail_next_exports(self, times=1):
        """The next ``times`` jobs to finish processing end as Failed."""
        with self.lock:
            self._export_failures += times

    def reset_export_quota(self):
        """Marketo's daily reset (00:00 US Central): the export quota is whole again."""
        with self.lock:
            self.exported_today = 0

    def queue_foreign_export(self):
        """Another integration's job, queued (it takes a place in the queue)."""
        with self.lock:
            job = self._new_job(["id"], "createdAt", 0, 1, "CSV", {})
            now = time.time()
            job.update(status="Queued", queuedAt=_stamp(now), _queued=now)
            return job["exportId"]

    def new_lead(self, **fields):
        """Add a lead and its "New Lead" activity."""
        lead = self.add_lead(**fields)
        self._record_change(lead["id"], 12, [])
        return lead

    def change_lead(self, lead_id, **fields):
        """Change a lead's fields and record a "Change Data Value" activity per field."""
        with self.lock:
            lead = self.leads[lead_id]
            changed = []
            for name, value in fields.items():
                if lead.get(name) != value:
                    changed.append({"name": name, "newValue": value, "oldValue": lead.get(name)})
                    lead[name] = value
            lead["updatedAt"] = _stamp(time.time())
            self._record_change(lead_id, 13, changed)
            return lead

    def _record_change(self, lead_id, type_id, fields):
        with self.lock:
            number = len(self.lead_changes) + 1
            self.lead_changes.append(
                {
                    "id": number,
                    "marketoGUID": str(number),
                    "leadId": lead_id,
                    "activityDate": _stamp(time.time()),
                    "activityTypeId": type_id,
                    "fields": [{"id": i, **f} for i, f in enumerate(fields, 1)],
                    "attributes": [{"name": "Source", "value": "Web service API"}],
                }
            )

    # -- jobs ------------------------------------------------------------------------------

    def _new_job(self, fields, column, since, until, format_, headers):
        export_id = str(uuid.uuid4())
        job = {
            "exportId": export_id,
            "status": "Created",
            "createdAt": _stamp(time.time()),
            "format": format_,
            "_fields": fields,
            "_filter": (column, since, until),
            "_headers": headers,
        }
        self.exports[export_id] = job
        return job

    def _public(self, job):
        return {key: value for key, value in job.items() if not key.startswith("_")}

    def _advance_exports(self):
        """Move jobs on by the clock: finish processing ones, then start queued ones."""
        if self.paused:
            return
        now = time.time()
        for job in list(self.exports.values()):
            if job["status"] == "Processing" and now - job["_started"] >= self.process_seconds:
                self._finish(job, now)
        processing = sum(1 for job in self.exports.values() if job["status"] == "Processing")
        queued = sorted(
            (job for job in self.exports.values() if job["status"] == "Queued"),
            key=lambda job: job["_queued"],
        )
        for job in queued:
            if processing >= self.max_processing or now - job["_queued"] < self.queue_seconds:
                break
            job.update(status="Processing", startedAt=_stamp(now), _started=now)
            processing += 1
            if self.process_seconds <= 0:
                self._finish(job, now)
                processing -= 1

    def _finish(self, job, now):
        job["finishedAt"] = _stamp(now)
        if self._export_failures > 0:
            self._export_failures -= 1
            job["status"] = "Failed"
            job["errorMsg"] = "Export failed (injected by the fake)"
            return
        path = os.path.join(self._export_dir, job["exportId"] + ".csv")
        rows = self._write_export(job, path)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
        size = os.path.getsize(path)
        self.exported_today += size
        job.update(
            status="Completed",
            numberOfRecords=rows,
            fileSize=size,
            fileChecksum="sha256:" + digest.hexdigest(),
            _path=path,
        )

    def _matching(self, column, since, until):
        """The leads of the filter, one at a time: stored ones, then generated ones."""
        for lead in list(self.leads.values()):
            value = lead.get(column)
            if value and since <= _epoch(value) < until:
                yield lead
        generated = self.generated
        if generated is not None:
            for index in generated.indexes(since, until):
                yield generated.lead(index)

    def _write_export(self, job, path):
        fields, headers = job["_fields"], job["_headers"]
        rows = 0
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter=DELIMITERS[job["format"]], lineterminator="\n")
            writer.writerow([headers.get(name, name) for name in fields])
            for lead in self._matching(*job["_filter"]):
                writer.writerow(
                    ["null" if lead.get(name) in (None, "") else lead[name] for name in fields]
                )
                rows += 1
        return rows

    # -- handlers --------------------------------------------------------------------------

    def export_create(self, request):
        if reply := self.guard(request):
            return reply
        body = request.json
        if not isinstance(body, dict):
            return self.envelope(errors=[("609", None)])
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields:
            return self.envelope(errors=[("1003", "fields is required")])
        from .marketo import FIELD_NAMES

        known = FIELD_NAMES | {"externalCompanyId", "ecids"}
        for lead in self.leads.values():
            known = known | set(lead)
        unknown = [name for name in fields if name not in known]
        if unknown:
            return self.envelope(errors=[("1003", f"Invalid field '{unknown[0]}'")])
        format_ = str(body.get("format") or "CSV").upper()
        if format_ not in DELIMITERS:
            return self.envelope(errors=[("1003", f"Invalid format '{format_}'")])
        filter_ = body.get("filter")
        if not isinstance(filter_, dict) or len(filter_) != 1:
            return self.envelope(errors=[("1003", "Exactly one filter type is required")])
        [(column, value)] = filter_.items()
        if column not in FILTERS:
            return self.envelope(errors=[("1003", f"Invalid filter type '{column}'")])
        if column not in ("createdAt", "updatedAt"):
            return self.envelope(errors=[("1035", "Unsupported filter type for target")])
        bounds = value if isinstance(value, dict) else {}
        start, end = bounds.get("startAt"), bounds.get("endAt")
        if not all(isinstance(v, str) and ISO_SECONDS.match(v) for v in (start, end)):
            return self.envelope(errors=[("1003", "Invalid date format for startAt/endAt")])
        since, until = _epoch(start), _epoch(end)
        if until <= since or until - since > MAX_DAYS * 86400:
            return self.envelope(errors=[("1003", "Date range must be 1 second to 31 days")])
        headers = body.get("columnHeaderNames") or {}
        job = self._new_job(fields, column, since, until, format_, headers)
        return self.envelope([self._public(job)])

    def _job(self, request, export_id):
        if reply := self.guard(request):
            return None, reply
        job = self.exports.get(export_id)
        if job is None:
            return None, self.envelope(errors=[("1003", f"Export id '{export_id}' not found")])
        self._advance_exports()
        return job, None

    def export_enqueue(self, request, export_id):
        job, reply = self._job(request, export_id)
        if reply:
            return reply
        if job["status"] != "Created":
            return self.envelope(errors=[("1029", "Job already queued")])
        active = sum(1 for other in self.exports.values() if other["status"] in ACTIVE)
        if active >= self.max_queued:
            return self.envelope(errors=[("1029", f"Too many jobs ({self.max_queued}) in queue")])
        if self.exported_today >= self.export_quota_bytes:
            return self.envelope(errors=[("1029", "Export daily quota exceeded")])
        now = time.time()
        job.update(status="Queued", queuedAt=_stamp(now), _queued=now)
        answer = self._public(job)  # Marketo answers "Queued", whatever happens next
        self._advance_exports()
        return self.envelope([answer])

    def export_status(self, request, export_id):
        job, reply = self._job(request, export_id)
        return reply or self.envelope([self._public(job)])

    def export_cancel(self, request, export_id):
        job, reply = self._job(request, export_id)
        if reply:
            return reply
        if job["status"] in ("Created", *ACTIVE):
            job["status"] = "Cancelled"
        return self.envelope([self._public(job)])

    def export_list(self, request):
        if reply := self.guard(request):
            return reply
        self._advance_exports()
        wanted = {s.strip().lower() for s in request.query.get("status", "").split(",") if s}
        jobs = [
            self._public(job)
            for job in self.exports.values()
            if not wanted or job["status"].lower() in wanted
        ]
        return self.envelope(jobs)

    def export_file(self, request, export_id):
        if reply := self.guard(request):
            return reply
        job = self.exports.get(export_id)
        if job is not None:
            self._advance_exports()
        if job is None or job["status"] != "Completed":
            return Reply(404, "Export job not completed or not found")
        size = job["fileSize"]
        start, end, status = 0, size - 1, 200
        header = request.headers.get("range")
        if header:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
            if not match or int(match[1]) >= max(size, 1):
                return Reply(416, "Requested range not satisfiable", {"Content-Range": f"*/{size}"})
            start = int(match[1])
            end = min(size - 1, int(match[2])) if match[2] else size - 1
            status = 206
        handle = open(job["_path"], "rb")  # noqa: SIM115 (closed by _send once streamed)
        handle.seek(start)
        headers = {
            "Content-Type": "text/csv; charset=utf-8",
            "Accept-Ranges": "bytes",
            "Content-Length": str(end - start + 1),
        }
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Reply(status, handle, headers)

    # -- lead changes ----------------------------------------------------------------------

    @staticmethod
    def _token(position):
        return base64.b32encode(f"changes:{position}".encode()).decode()

    @staticmethod
    def _position(token):
        try:
            text = base64.b32decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        kind, _, number = text.partition(":")
        return int(number) if kind == "changes" and number.isdigit() else None

    def changes_token(self, request):
        if reply := self.guard(request):
            return reply
        since = request.query.get("sinceDatetime")
        try:
            moment = _epoch(since)
        except (TypeError, ValueError):
            return self.envelope(errors=[("1003", "Invalid sinceDatetime")])
        dates = [_epoch(change["activityDate"]) for change in self.lead_changes]
        body = self.envelope()
        body.payload.pop("result")  # the documented answer has no result
        body.payload["nextPageToken"] = self._token(bisect.bisect_left(dates, moment))
        return body

    def changes_leads(self, request):
        if reply := self.guard(request):
            return reply
        position = self._position(request.query.get("nextPageToken") or "")
        if position is None:
            return self.envelope(errors=[("1003", "Invalid nextPageToken")])
        fields = {name for name in request.query.get("fields", "").split(",") if name}
        if not fields:
            return self.envelope(errors=[("1003", "fields is required")])
        batch_size = min(300, int(request.query.get("batchSize") or 300))
        result = []
        while position < len(self.lead_changes) and len(result) < batch_size:
            change = self.lead_changes[position]
            position += 1
            watched = [f for f in change["fields"] if f["name"] in fields]
            if change["activityTypeId"] == 12 or watched:
                result.append({**change, "fields": watched})
        more = position < len(self.lead_changes)
        return self.envelope(result, nextPageToken=self._token(position), moreResult=more)
