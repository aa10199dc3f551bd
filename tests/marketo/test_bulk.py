"""Bulk Lead Extract (issue 6, initial sync): the fake's wire behaviour, our bulk client against
it, and the streaming CSV reader."""

import datetime
import hashlib
import zoneinfo

import pytest
import requests

from tests.fakes import marketo as fake_marketo
from wagtail_dynchat.marketo import MarketoClient, MarketoError
from wagtail_dynchat.marketo import bulk as bulk_module
from wagtail_dynchat.marketo.bulk import BulkLeadExtract, ExportQuotaExceeded, QueueFull
from wagtail_dynchat.marketo.lead_loader import parse_header, parse_records, split_records

marketo_fake = fake_marketo.marketo_fake

UTC = datetime.UTC
JAN = datetime.datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = ["id", "email", "firstName", "company", "createdAt"]


@pytest.fixture
def extract(marketo_fake):
    return BulkLeadExtract(MarketoClient(backoff_base=0.01, backoff_max=0.05))


def raw(fake, method, path, **kwargs):
    """A request straight to the fake with a valid token (to see Marketo's own answers)."""
    token = MarketoClient().token()
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, fake.base_url + path, headers=headers, timeout=5, **kwargs)


def create_body(**filter_):
    return {"fields": FIELDS, "format": "CSV", "filter": filter_}


def lead(fake, day, **fields):
    return fake.add_lead(createdAt=f"2026-01-{day:02d}T10:00:00Z", **fields)


# -- the fake speaks Marketo -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "code"),
    [
        ({}, "1003"),  # no filter
        (
            {
                "createdAt": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-02T00:00:00Z"},
                "updatedAt": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-02T00:00:00Z"},
            },
            "1003",
        ),  # two filters
        (
            {"createdAt": {"startAt": "2026-01-01T00:00:00.000Z", "endAt": "2026-01-02T00:00:00Z"}},
            "1003",
        ),  # milliseconds
        (
            {"createdAt": {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-02-02T00:00:00Z"}},
            "1003",
        ),  # 32 days
        ({"staticListId": 1001}, "1035"),
    ],
)
def test_create_insists_on_one_filter_of_at_most_31_days_without_milliseconds(
    marketo_fake, filter_, code
):
    body = raw(
        marketo_fake, "POST", "/bulk/v1/leads/export/create.json", json=create_body(**filter_)
    )
    assert body.json()["success"] is False
    assert body.json()["errors"][0]["code"] == code


def test_our_client_refuses_a_window_over_31_days(extract):
    with pytest.raises(ValueError):
        extract.create(
            FIELDS, column="createdAt", start=JAN, end=JAN + datetime.timedelta(days=31, seconds=1)
        )


def test_a_whole_export_round_trip_with_ranges_and_checksum(extract, marketo_fake):
    lead(marketo_fake, 3, email="ann@example.com", firstName="Ann", company="Acme, Inc.")
    lead(marketo_fake, 4, email="bob@example.com")  # no first name, no company: "null"
    lead(marketo_fake, 28, email="late@example.com")  # outside the window
    marketo_fake.paused = True
    job = extract.create(
        FIELDS, column="createdAt", start=JAN, end=JAN + datetime.timedelta(days=10)
    )
    assert job["status"] == "Created"
    filter_ = marketo_fake.calls("bulk.create")[0].json["filter"]["createdAt"]
    assert filter_ == {"startAt": "2026-01-01T00:00:00Z", "endAt": "2026-01-11T00:00:00Z"}
    assert extract.enqueue(job["exportId"])["status"] == "Queued"
    # Enqueued twice: Marketo says 1029 "Job already queued", which means it is queued.
    assert extract.enqueue(job["exportId"])["status"] == "Queued"
    assert marketo_fake.calls("bulk.enqueue")[-1].status == 200

    # Not completed yet: HTTP 404 with a plain-text body, not the JSON envelope.
    answer = raw(marketo_fake, "GET", f"/bulk/v1/leads/export/{job['exportId']}/file.json")
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(MarketoError) as error:
        extract.read_range(job["exportId"], 0, 100)
    assert error.value.code == "HTTP 404"

    marketo_fake.finish_exports()
    status = extract.status(job["exportId"])
    assert status["status"] == "Completed" and status["numberOfRecords"] == 2
    parts, offset = [], 0
    while offset < status["fileSize"]:
        data, total = extract.read_range(job["exportId"], offset, 16)
        assert total == status["fileSize"]
        parts.append(data)
        offset += len(data)
    ranges = [call.headers["range"] for call in marketo_fake.calls("bulk.file")[2:]]
    assert ranges[:2] == ["bytes=0-15", "bytes=16-31"]
    content = b"".join(parts)
    assert status["fileChecksum"] == "sha256:" + hashlib.sha256(content).hexdigest()
    records, used = split_records(content, final=True)
    assert used == len(content)
    columns = parse_header(records[0])
    assert columns == FIELDS
    leads = parse_records(records[1:], columns)
    assert [row["email"] for row in leads] == ["ann@example.com", "bob@example.com"]
    assert leads[0]["company"] == "Acme, Inc." and leads[1]["firstName"] == "null"

    answer = raw(
        marketo_fake,
        "GET",
        f"/bulk/v1/leads/export/{job['exportId']}/file.json",
        headers={"Range": "bytes=5-9"},
    )
    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == f"bytes 5-9/{status['fileSize']}"
    assert answer.content == content[5:10]


def test_two_jobs_process_at_a_time_and_the_queue_holds_ten(extract, marketo_fake):
    marketo_fake.process_seconds = 3600
    ids = []
    for day in range(10):
        start = JAN + datetime.timedelta(days=day)
        job = extract.create(
            FIELDS, column="createdAt", start=start, end=start + datetime.timedelta(days=1)
        )
        extract.enqueue(job["exportId"])
        ids.append(job["exportId"])
    statuses = [extract.status(export_id)["status"] for export_id in ids]
    assert statuses == ["Processing"] * 2 + ["Queued"] * 8
    extra = extract.create(
        FIELDS, column="createdAt", start=JAN, end=JAN + datetime.timedelta(days=1)
    )
    before = datetime.datetime.now(UTC)
    with pytest.raises(QueueFull) as error:
        extract.enqueue(extra["exportId"])
    assert error.value.code == "1029"
    assert error.value.retry_at >= before + datetime.timedelta(seconds=299)
    assert {job["exportId"] for job in extract.jobs(["Processing"])} == set(ids[:2])

    assert extract.cancel(ids[0])["status"] == "Cancelled"
    assert extract.status(ids[2])["status"] == "Processing"  # a place freed up


def test_the_daily_export_quota_waits_for_midnight_in_chicago(extract, marketo_fake):
    lead(marketo_fake, 2, email="ann@example.com")
    marketo_fake.export_quota_bytes = 10
    first = extract.create(
        FIELDS, column="createdAt", start=JAN, end=JAN + datetime.timedelta(days=5)
    )
    extract.enqueue(first["exportId"])
    assert extract.status(first["exportId"])["status"] == "Completed"
    second = extract.create(
        FIELDS, column="createdAt", start=JAN, end=JAN + datetime.timedelta(days=5)
    )
    now = datetime.datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 17:30 in Chicago
    with pytest.raises(ExportQuotaExceeded) as error:
        extract.enqueue(second["exportId"], now=now)
    assert "quota" in error.value.message
    chicago = error.value.retry_at.astimezone(zoneinfo.ZoneInfo("America/Chicago"))
    assert (chicago.date(), chicago.hour, chicago.minute) == (datetime.date(2026, 3, 11), 0, 1)
    marketo_fake.reset_export_quota()
    assert extract.enqueue(second["exportId"])["status"] == "Queued"


def test_poll_due_allows_one_poll_per_interval(settings, marketo_fake):
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {**marketo_fake.settings(), "BULK_POLL_SECONDS": 60}}
    now = datetime.datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert bulk_module.poll_due(None, now) == 0
    assert bulk_module.poll_due(now - datetime.timedelta(seconds=20), now) == 40
    assert bulk_module.poll_due(now - datetime.timedelta(seconds=61), now) == 0


def test_a_generated_database_is_exported_by_window(extract, marketo_fake):
    marketo_fake.generate_leads(3100, JAN, JAN + datetime.timedelta(days=31))
    job = extract.create(
        ["id", "email", "createdAt"],
        column="createdAt",
        start=JAN,
        end=JAN + datetime.timedelta(days=10),
    )
    extract.enqueue(job["exportId"])
    status = extract.status(job["exportId"])
    assert status["numberOfRecords"] == 1000  # 100 leads a day, createdAt spread evenly
    data, _total = extract.read_range(job["exportId"], 0, status["fileSize"])
    records, _used = split_records(data, final=True)
    rows = parse_records(records[1:], parse_header(records[0]))
    assert len(rows) == 1000
    assert (rows[0]["id"], rows[-1]["id"]) == ("1000001", "1001000")
    assert all(row["createdAt"] < "2026-01-11" for row in rows)


def test_split_records_keeps_quoted_newlines_together():
    data = b'id,note\n1,"two\nlines"\n2,"say ""hi"""\n3,par'
    records, used = split_records(data)
    assert records == [b"id,note\n", b'1,"two\nlines"\n', b'2,"say ""hi"""\n']
    assert used == len(data) - len(b"3,par")
    rows = parse_records(records[1:], ["id", "note"])
    assert rows == [{"id": "1", "note": "two\nlines"}, {"id": "2", "note": 'say "hi"'}]
    assert split_records(b"1,a\n2,b", final=True) == ([b"1,a\n", b"2,b"], 7)


# -- lead changes (incremental sync) ---------------------------------------------------------


def test_lead_changes_need_fields_and_page_with_tokens(marketo_fake):
    client = MarketoClient()
    ann = marketo_fake.new_lead(email="ann@example.com")
    for index in range(5):
        marketo_fake.change_lead(ann["id"], firstName=f"Ann{index}")
    marketo_fake.change_lead(ann["id"], postalCode="12345")  # not a watched field
    token = client.get(
        "/rest/v1/activities/pagingtoken.json", {"sinceDatetime": "2020-01-01T00:00:00Z"}
    )["nextPageToken"]
    with pytest.raises(MarketoError) as error:
        client.get("/rest/v1/activities/leadchanges.json", {"nextPageToken": token})
    assert error.value.code == "1003"
    seen = []
    while True:
        body = client.get(
            "/rest/v1/activities/leadchanges.json",
            {"nextPageToken": token, "fields": "firstName", "batchSize": 2},
        )
        seen += body["result"]
        token = body["nextPageToken"]
        if not body["moreResult"]:
            break
    assert [item["activityTypeId"] for item in seen] == [12, 13, 13, 13, 13, 13]
    assert seen[-1]["fields"] == [
        {"id": 1, "name": "firstName", "newValue": "Ann4", "oldValue": "Ann3"}
    ]
