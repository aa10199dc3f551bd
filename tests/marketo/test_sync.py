"""Initial and incremental lead sync from Marketo (issue 6) against the loopback fake: windows,
streaming loads, duplicates, resuming, Marketo's limits, the Celery tasks and the command."""

import datetime
import io
import itertools
import zoneinfo

import pytest
from django.core.management import CommandError, call_command

from tests.fakes import marketo as fake_marketo
from wagtail_dynchat.marketo import sync, sync_tasks
from wagtail_dynchat.models import Company, MarketoField, Person, SyncRun

marketo_fake = fake_marketo.marketo_fake

UTC = datetime.UTC
SINCE = "2026-01-01"
JAN = datetime.datetime(2026, 1, 1, tzinfo=UTC)


class Crash(Exception):
    """The worker dies here (after the chunk it was told about was committed)."""


@pytest.fixture
def fake(marketo_fake, settings, db):
    settings.WAGTAIL_DYNCHAT = {
        "MARKETO": {
            **marketo_fake.settings(),
            "BULK_POLL_SECONDS": 60,
            "BULK_RANGE_BYTES": 1024,
            "SYNC_CHUNK_ROWS": 7,
            # The fake's own limit: these tests make many small calls.
            "RATE_CALLS": 100,
        }
    }
    return marketo_fake


def add(fake, when, **fields):
    """A lead created at ``when`` (a datetime)."""
    return fake.add_lead(createdAt=when.strftime("%Y-%m-%dT%H:%M:%SZ"), **fields)


def many(fake, count, *, day=3, prefix="lead"):
    return [
        add(
            fake,
            JAN + datetime.timedelta(days=day, minutes=index),
            email=f"{prefix}{index}@example.com",
            firstName=f"First {index}",
            lastName='Lovelace, "the" Countess' if index == 1 else f"L{index}",
            company=f"Company {index % 3}",
        )
        for index in range(count)
    ]


def run_to_end(run, **kwargs):
    """Step until the run is over, as the task chain would (waits are skipped)."""
    for _ in range(200):
        if sync.step(run.pk, **kwargs) is None:
            run.refresh_from_db()
            return run
        _unwait(run)
    raise AssertionError("the sync did not finish")


def _unwait(run):
    """Time passes: every poll and wait of ``run`` is due now."""
    run.refresh_from_db()
    past = (datetime.datetime.now(UTC) - datetime.timedelta(hours=1)).isoformat()
    for job in run.state.get("jobs", {}).values():
        if job.get("polled_at"):
            job["polled_at"] = past
    if run.state.get("wait_until"):
        run.state["wait_until"] = past
    SyncRun.objects.filter(pk=run.pk).update(state=run.state)


def snapshot():
    return sorted(
        Person.objects.values_list(
            "marketo_id", "email", "first_name", "last_name", "company", "company_record__key"
        ),
        key=repr,
    )


# -- windows ---------------------------------------------------------------------------------


def test_windows_are_31_days_contiguous_whole_seconds_and_end_at_the_range_end():
    start = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime.datetime(2025, 4, 15, 13, 14, 15, 987654, tzinfo=UTC)
    windows = sync.plan_windows(start, end)
    assert len(windows) == 4
    assert windows[0] == (start, start + datetime.timedelta(days=31))
    assert all(a_end == b_start for (_a, a_end), (b_start, _b) in itertools.pairwise(windows))
    assert all(high - low <= datetime.timedelta(days=31) for low, high in windows)
    assert windows[-1][1] == end.replace(microsecond=0)
    assert sync.plan_windows(start, start) == []


def test_export_filters_carry_no_milliseconds_and_cover_the_range(fake):
    many(fake, 3)
    run = sync.start_initial_sync("2025-11-01", enqueue=False)
    run = run_to_end(run)
    filters = [call.json["filter"]["createdAt"] for call in fake.calls("bulk.create")]
    assert len(filters) == run.windows_total == sync.windows_total(run.range_start, run.range_end)
    assert filters[0]["startAt"] == "2025-11-01T00:00:00Z"
    assert filters[-1]["endAt"] == run.range_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    for before, after in itertools.pairwise(filters):
        assert before["endAt"] == after["startAt"]
    assert all("." not in value for f in filters for value in f.values())


# -- loading ---------------------------------------------------------------------------------


def test_initial_sync_loads_people_and_companies_streaming_null_as_empty(fake):
    MarketoField.objects.create(
        object="lead", rest_name="postalCode", name="postal_code", label="Zip", data_type="string"
    )
    leads = many(fake, 20)
    add(fake, JAN + datetime.timedelta(days=40), email="NoName@Example.com", company=None)
    run = run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    assert run.status == SyncRun.STATUS_DONE and run.rows == 21
    assert run.windows_done == run.windows_total
    assert Person.objects.count() == 21
    ada = Person.objects.get(marketo_id=leads[1]["id"])
    assert (ada.email, ada.first_name, ada.last_name) == (
        "lead1@example.com",
        "First 1",
        'Lovelace, "the" Countess',
    )
    assert ada.company_record.name == "Company 1" and ada.company_record.key == "name:company 1"
    nameless = Person.objects.get(email="noname@example.com")
    assert nameless.first_name == "" and nameless.company == "" and nameless.company_record is None
    assert "postal_code" not in nameless.attributes  # "null" is no value
    assert Company.objects.count() == 3
    assert Company.objects.get(key="name:company 0").people.count() == 7
    assert nameless.marketo_synced_at is not None
    # The files were read in several ranges, each from where the previous one stopped.
    ranges = [call.headers["range"] for call in fake.calls("bulk.file")]
    assert len(ranges) > 2 and ranges[0].startswith("bytes=0-")


def test_chat_people_are_linked_and_taken_e_mails_left_out(fake):
    chat = Person.objects.create(email="ann@example.com", first_name="Annie", phone="+49 1")
    chat.attributes = {"favourite": "tea"}
    chat.save()
    first = add(fake, JAN, email="ANN@example.com", firstName=None, lastName="Smith")
    second = add(fake, JAN + datetime.timedelta(hours=1), email="ann@example.com", lastName="Twin")
    run = run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    assert run.status == SyncRun.STATUS_DONE
    chat.refresh_from_db()
    assert chat.marketo_id == first["id"]
    # Marketo knows no first name or phone: those captured in chat stay; its last name wins.
    assert (chat.first_name, chat.last_name, chat.phone) == ("Annie", "Smith", "+49 1")
    assert chat.attributes == {"favourite": "tea"}
    twin = Person.objects.get(marketo_id=second["id"])
    assert twin.email is None and twin.last_name == "Twin"
    assert Person.objects.count() == 2
    assert sync.progress(run)["linked"] == 1 and sync.progress(run)["without_email"] == 1

    # Again (a second initial sync): nothing duplicated, nothing changed hands.
    before = snapshot()
    run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    assert snapshot() == before


# -- resuming --------------------------------------------------------------------------------


def test_a_crash_mid_file_resumes_at_the_saved_byte_without_loss_or_duplicate(fake):
    leads = many(fake, 60)
    run = sync.start_initial_sync(SINCE, enqueue=False)
    commits = []

    def die_after_three(current):
        commits.append(current.bytes_done)
        if len(commits) == 3:
            raise Crash

    with pytest.raises(Crash):
        run_to_end(run, on_progress=die_after_three)
    run.refresh_from_db()
    saved = run.bytes_done
    assert saved == commits[-1] > 0
    assert 0 < run.rows == run.rows_in_window == Person.objects.count() < 60
    fake.clear_requests()

    run = run_to_end(run)
    assert fake.calls("bulk.file")[0].headers["range"].startswith(f"bytes={saved}-")
    starts = [call.json["filter"]["createdAt"]["startAt"] for call in fake.calls("bulk.create")]
    assert "2026-01-01T00:00:00Z" not in starts  # the same export, not a new one
    assert run.status == SyncRun.STATUS_DONE and run.rows == 60
    assert sorted(Person.objects.values_list("marketo_id", flat=True)) == [
        lead["id"] for lead in leads
    ]


def test_a_restart_resumes_at_the_window_it_reached(fake):
    many(fake, 5, day=3, prefix="jan")
    many(fake, 5, day=40, prefix="feb")
    run = sync.start_initial_sync(SINCE, enqueue=False)

    def stop_after_first_window(current):
        if current.windows_done == 1:
            raise Crash

    with pytest.raises(Crash):
        run_to_end(run, on_progress=stop_after_first_window)
    run.refresh_from_db()
    assert run.windows_done == 1 and run.rows == 5
    assert run.cursor == JAN + datetime.timedelta(days=31)
    created = len(fake.calls("bulk.create"))
    fake.clear_requests()

    # "Start" again from the command: the running sync goes on where it was.
    out = io.StringIO()
    call_command("dynchat_marketo_sync", "--initial", stdout=out, stderr=io.StringIO())
    run.refresh_from_db()
    assert run.status == SyncRun.STATUS_DONE and run.rows == 10
    starts = [call.json["filter"]["createdAt"]["startAt"] for call in fake.calls("bulk.create")]
    assert "2026-01-01T00:00:00Z" not in starts
    assert len(starts) == run.windows_total - created  # only the windows not created yet
    assert SyncRun.objects.count() == 1


# -- Marketo's limits ------------------------------------------------------------------------


def test_a_full_export_queue_waits_and_retries_later(fake):
    many(fake, 4)
    foreign = [fake.queue_foreign_export() for _ in range(10)]
    fake.paused = True
    run = sync.start_initial_sync(SINCE, enqueue=False)
    wait = sync.step(run.pk)
    assert 290 <= wait <= 300
    run.refresh_from_db()
    info = sync.progress(run)
    assert info["waiting_for"] == "queue" and info["waiting_until"] is not None
    assert "1029" in info["last_error"]
    enqueues = len(fake.calls("bulk.enqueue"))
    assert sync.step(run.pk) > 0
    assert len(fake.calls("bulk.enqueue")) == enqueues  # no retry before the wait is over

    for export_id in foreign:
        fake.exports[export_id]["status"] = "Cancelled"
    fake.paused = False
    run = run_to_end(run)
    assert run.status == SyncRun.STATUS_DONE and Person.objects.count() == 4


def test_the_daily_export_quota_waits_for_the_reset_at_midnight_central(fake):
    many(fake, 3, day=2, prefix="a")
    many(fake, 3, day=35, prefix="b")
    fake.export_quota_bytes = 100  # spent by the first file (the second one is queued)
    run = sync.start_initial_sync(SINCE, enqueue=False)
    delays = [sync.step(run.pk) for _ in range(3)]
    run.refresh_from_db()
    assert run.windows_done == 1 and Person.objects.count() == 3
    assert delays[-1] > 60  # waiting for the reset, not polling
    info = sync.progress(run)
    assert info["waiting_for"] == "quota"
    reset = info["waiting_until"].astimezone(zoneinfo.ZoneInfo("America/Chicago"))
    assert (reset.hour, reset.minute) == (0, 1)
    assert reset - datetime.datetime.now(UTC) <= datetime.timedelta(days=1, minutes=1)

    fake.reset_export_quota()  # midnight in Chicago
    fake.export_quota_bytes = 500 * 1024 * 1024
    run = run_to_end(run)
    assert run.status == SyncRun.STATUS_DONE and Person.objects.count() == 6


def test_a_failed_export_is_created_again(fake):
    many(fake, 3)
    fake.fail_next_exports(1)
    run = run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    assert run.status == SyncRun.STATUS_DONE and Person.objects.count() == 3
    creates = [call.json["filter"]["createdAt"]["startAt"] for call in fake.calls("bulk.create")]
    assert creates.count("2026-01-01T00:00:00Z") == 2
    assert "created again" in run.last_error


def test_an_export_failing_again_and_again_fails_the_run(fake):
    many(fake, 3)
    fake.fail_next_exports(10)
    run = run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    assert run.status == SyncRun.STATUS_FAILED
    assert "failed 4 times" in run.last_error
    assert sync.progress(run)["eta_seconds"] == 0


def test_the_file_is_asked_for_only_once_the_job_completed_and_polls_are_spaced(fake):
    many(fake, 3)
    fake.paused = True
    run = sync.start_initial_sync(SINCE, enqueue=False)
    assert sync.step(run.pk) == 60  # polled once: Queued
    assert len(fake.calls("bulk.status")) == 1
    wait = sync.step(run.pk)
    assert 0 < wait <= 60 and len(fake.calls("bulk.status")) == 1  # too soon to poll again
    assert not fake.calls("bulk.file")
    fake.finish_exports()
    fake.paused = False
    run = run_to_end(run)
    assert run.status == SyncRun.STATUS_DONE
    assert all(call.status == 206 for call in fake.calls("bulk.file"))


def test_an_expired_file_exports_the_window_again_without_counting_twice(fake):
    many(fake, 30)
    run = sync.start_initial_sync(SINCE, enqueue=False)

    expired = []

    def expire_after_first_chunk(current):
        if current.rows_in_window and not expired:
            job = current.state["jobs"]["0"]
            expired.append(job["id"])
            fake.exports[job["id"]]["status"] = "Failed"  # the file is gone
            raise Crash

    with pytest.raises(Crash):
        run_to_end(run, on_progress=expire_after_first_chunk)
    run = run_to_end(run)
    assert run.status == SyncRun.STATUS_DONE and run.rows == 30 == Person.objects.count()
    assert "exported again" in run.last_error
    starts = [call.json["filter"]["createdAt"]["startAt"] for call in fake.calls("bulk.create")]
    assert starts.count("2026-01-01T00:00:00Z") == 2


# -- tasks, cancel, progress -----------------------------------------------------------------


def test_start_enqueues_the_task_on_commit_and_a_second_start_resumes(
    fake, django_capture_on_commit_callbacks
):
    many(fake, 5)
    with django_capture_on_commit_callbacks() as callbacks:
        run = sync.start_initial_sync(SINCE)
    assert len(callbacks) == 1
    assert sync.start_initial_sync(SINCE, enqueue=False).pk == run.pk
    callbacks[0]()  # eager: runs every step that needs no waiting
    run.refresh_from_db()
    assert run.status == SyncRun.STATUS_DONE and Person.objects.count() == 5
    info = sync.progress(run)
    assert info["windows_done"] == info["windows_total"] and info["rows"] == 5
    assert info["eta_seconds"] == 0 and info["rows_per_second"] > 0


def test_the_task_re_enqueues_itself_with_the_steps_countdown(fake, monkeypatch):
    many(fake, 2)
    fake.paused = True
    run = sync.start_initial_sync(SINCE, enqueue=False)
    sent = []
    monkeypatch.setattr(
        sync_tasks.run_initial_sync, "apply_async", lambda args, countdown: sent.append(countdown)
    )
    sync_tasks.run_initial_sync.run(run.pk)  # as a worker runs it (not eager)
    assert sent == [60]


def test_cancel_stops_the_run_and_its_export_jobs(fake):
    many(fake, 2)
    fake.paused = True
    run = sync.start_initial_sync(SINCE, enqueue=False)
    sync.step(run.pk)
    run.refresh_from_db()
    export_id = run.state["jobs"]["0"]["id"]
    sync.cancel_sync(run)
    run.refresh_from_db()
    assert run.status == SyncRun.STATUS_CANCELLED and run.finished_at
    assert fake.exports[export_id]["status"] == "Cancelled"
    assert sync.step(run.pk) is None
    assert sync.start_initial_sync(SINCE, enqueue=False).pk != run.pk  # a new one


# -- incremental -----------------------------------------------------------------------------


def test_incremental_sync_is_idempotent(fake):
    leads = many(fake, 4)
    run_to_end(sync.start_initial_sync(SINCE, enqueue=False))
    fake.change_lead(leads[0]["id"], firstName="Changed", company="New Co")
    fake.change_lead(leads[1]["id"], postalCode="99999")  # not a synced field
    fake.new_lead(email="new@example.com", firstName="Newbie")
    assert sync_tasks.sync_changed_leads() is not None
    run = SyncRun.objects.filter(kind=SyncRun.KIND_INCREMENTAL).get()
    assert run.status == SyncRun.STATUS_DONE and run.rows == 2
    changed = Person.objects.get(marketo_id=leads[0]["id"])
    assert changed.first_name == "Changed" and changed.company_record.name == "New Co"
    assert Person.objects.get(email="new@example.com").first_name == "Newbie"
    before = snapshot()

    out = io.StringIO()
    call_command("dynchat_marketo_sync", "--incremental", stdout=out)
    assert "2 leads" in out.getvalue()  # the overlap sees the same changes again …
    assert snapshot() == before  # … and changes nothing
    assert Person.objects.count() == 5
    assert SyncRun.objects.filter(kind=SyncRun.KIND_INCREMENTAL).count() == 2


def test_incremental_sync_waits_for_the_initial_one(fake):
    assert sync.sync_changes() is None  # nothing to start from
    with pytest.raises(CommandError, match="run --initial first"):
        call_command("dynchat_marketo_sync", "--incremental")
    sync.start_initial_sync(SINCE, enqueue=False)
    assert sync_tasks.sync_changed_leads() is None
    assert not SyncRun.objects.filter(kind=SyncRun.KIND_INCREMENTAL).exists()


# -- command ---------------------------------------------------------------------------------


def test_the_command_shows_progress_and_status(fake):
    many(fake, 12)
    out, err = io.StringIO(), io.StringIO()
    call_command("dynchat_marketo_sync", "--initial", "--since", SINCE, stdout=out, stderr=err)
    assert "Initial sync #" in out.getvalue()
    assert "Done: 12 leads" in out.getvalue()
    assert "windows 11/11 rows 12" in err.getvalue() and "100.0%" in err.getvalue()
    status = io.StringIO()
    call_command("dynchat_marketo_sync", "--status", stdout=status)
    assert "initial done" in status.getvalue() and "rows 12" in status.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--initial", "--since", "yesterday"], "not a date"),
        (["--incremental", "--since", "2026-01-01"], "only goes with --initial"),
        (["--initial", "--since", "2999-01-01"], "must be in the past"),
    ],
)
def test_the_command_rejects_bad_arguments(fake, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("dynchat_marketo_sync", *args)


def test_without_marketo_configured_the_error_says_what_to_set(settings, db):
    settings.WAGTAIL_DYNCHAT = {}
    with pytest.raises(CommandError, match=r"Marketo is not configured.*BASE_URL"):
        call_command("dynchat_marketo_sync", "--initial")
    with pytest.raises(sync.NotConfigured):
        sync.start_initial_sync()
    assert sync_tasks.sync_changed_leads() is None
    assert not SyncRun.objects.exists()
    out = io.StringIO()
    call_command("dynchat_marketo_sync", "--status", stdout=out)
    assert "No Marketo sync has run yet" in out.getvalue()
