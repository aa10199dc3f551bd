"""The admin's Marketo page (wagtail_dynchat.admin.marketo_sync): outbox depth, throughput and
errors, API usage against the budget (wagtail_dynchat.marketo.limits.usage), the initial sync's
progress and its Start / Resume / Cancel buttons, and who may see and use it."""

import datetime
import re
import sys
import uuid
import zoneinfo

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.fakes import marketo as marketo_fakes
from wagtail_dynchat.checks import check_marketo
from wagtail_dynchat.marketo import limits
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import MarketoActivityType, OutboxItem, SyncRun

marketo_fake = marketo_fakes.marketo_fake

INDEX = "wagtail_dynchat_marketo_sync:index"
RETRY = "wagtail_dynchat_marketo_sync:retry"
TEST = "wagtail_dynchat_marketo_sync:test_connection"
START = "wagtail_dynchat_marketo_sync:start_sync"
LEGACY = "wagtail_dynchat_outbox:index"
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def cancel_url(pk):
    return reverse("wagtail_dynchat_marketo_sync:cancel_sync", args=[pk])


def row(content, attribute):
    """The inner HTML of the table row carrying ``attribute`` (e.g. 'data-depth="lead"')."""
    match = re.search(rf"<tr {re.escape(attribute)}>(.*?)</tr>", content, re.S)
    assert match, f"no row {attribute}"
    return match.group(1)


def cell(content, row_attribute, cell_attribute):
    """The text of the cell carrying ``cell_attribute`` in the row carrying ``row_attribute``."""
    match = re.search(
        rf"<td {re.escape(cell_attribute)}[^>]*>(.*?)</td>", row(content, row_attribute), re.S
    )
    assert match, f"no cell {cell_attribute} in {row_attribute}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def item(kind="lead", status="pending", error="", **fields):
    return OutboxItem.objects.create(
        kind=kind,
        dedupe_key=f"{kind}:{uuid.uuid4().hex}",
        payload=fields.pop("payload", {}),
        status=status,
        last_error=error,
        **fields,
    )


def backdate(obj, **moments):
    """Set auto_now(_add) timestamps, which ``save`` would overwrite."""
    type(obj).objects.filter(pk=obj.pk).update(**moments)


@pytest.fixture
def sync_service():
    """The initial sync service written alongside this page; these tests need it."""
    return pytest.importorskip("wagtail_dynchat.marketo.sync")


@pytest.fixture
def without_sync_service(monkeypatch):
    """An installation without wagtail_dynchat.marketo.sync (importing it fails)."""
    monkeypatch.setitem(sys.modules, "wagtail_dynchat.marketo.sync", None)


# -- outbox -------------------------------------------------------------------------------


def test_depth_per_kind_and_status_with_the_oldest_waiting_item(admin_client, marketo_fake):
    now = timezone.now()
    for _ in range(3):
        item(status="pending")
    old = item(status="pending")
    backdate(old, created_at=now - datetime.timedelta(hours=2, minutes=1))
    item(status="failed", error="HTTP 503", next_attempt_at=now + datetime.timedelta(hours=1))
    item(status="dead", error="skipped: 1003: invalid email")
    item(status="dead", error="skipped: 1003: invalid email")
    item(kind="activity", status="sending")
    item(kind="associate", status="dead", error="1012: invalid cookie")
    item(status="done")  # not part of the depth

    content = admin_client.get(reverse(INDEX)).content.decode()
    lead = 'data-depth="lead"'
    assert [
        cell(content, lead, f'data-status="{s}"') for s in ("pending", "sending", "failed", "dead")
    ] == ["4", "0", "1", "2"]
    assert cell(content, lead, "data-oldest").startswith("2\xa0hours")
    assert cell(content, 'data-depth="activity"', 'data-status="sending"') == "1"
    assert cell(content, 'data-depth="activity"', "data-oldest") == "—"
    assert cell(content, 'data-depth="associate"', 'data-status="dead"') == "1"
    assert cell(content, 'data-depth="program_member"', 'data-status="pending"') == "0"
    total = 'data-depth="total"'
    assert [
        cell(content, total, f'data-status="{s}"') for s in ("pending", "sending", "failed", "dead")
    ] == ["4", "1", "1", "3"]
    assert "Retry all dead (3 items)" in content


def test_throughput_counts_items_done_per_period(admin_client, marketo_fake):
    now = timezone.now()
    for minutes, count in ((1, 4), (30, 6), (90, 5)):
        for _ in range(count):
            done = item(status="done")
            backdate(done, updated_at=now - datetime.timedelta(minutes=minutes))
    item(status="dead", error="x")  # not done: not throughput

    content = admin_client.get(reverse(INDEX)).content.decode()
    assert cell(content, 'data-throughput="5"', "data-done") == "4"
    assert cell(content, 'data-throughput="5"', "data-per-minute") == "0.8"
    assert cell(content, 'data-throughput="60"', "data-done") == "10"
    assert cell(content, 'data-throughput="60"', "data-per-minute") == "0.2"


def test_last_errors_are_distinct_with_counts_latest_first(admin_client, marketo_fake):
    now = timezone.now()
    for minutes in (50, 40):
        dead = item(status="dead", error="skipped: 1003: invalid email")
        backdate(dead, updated_at=now - datetime.timedelta(minutes=minutes))
    failed = item(status="failed", error="HTTP 503: unavailable")
    backdate(failed, updated_at=now - datetime.timedelta(minutes=5))
    item(status="done")  # done items carry no error

    content = admin_client.get(reverse(INDEX)).content.decode()
    errors = re.findall(
        r"<tr data-error>\s*<td><code>(.*?)</code></td>\s*<td data-count>(\d+)</td>", content
    )
    assert errors == [("HTTP 503: unavailable", "1"), ("skipped: 1003: invalid email", "2")]


def test_retry_all_dead_sends_them_and_leaves_the_rest(
    admin_client, marketo_fake, django_capture_on_commit_callbacks
):
    dead = [
        item(status="dead", error="gave up", payload={"email": f"{n}@example.com"})
        for n in range(3)
    ]
    later = timezone.now() + datetime.timedelta(hours=1)
    failed = item(status="failed", error="503", next_attempt_at=later, payload={"email": "f@x.io"})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(RETRY), {"all": "dead"}, follow=True)
    assert messages_of(response) == ["3 items queued again."]
    for each in dead:
        each.refresh_from_db()
        assert each.status == "done" and each.attempts == 1
    assert {lead["email"] for lead in marketo_fake.leads.values()} == {
        "0@example.com",
        "1@example.com",
        "2@example.com",
    }
    failed.refresh_from_db()
    assert failed.status == "failed"

    again = admin_client.post(reverse(RETRY), {"all": "dead"}, follow=True)
    assert messages_of(again) == ["Nothing to retry."]


def test_retry_selected_items(admin_client, marketo_fake, django_capture_on_commit_callbacks):
    first, second, third = (
        item(status="dead", error="x", payload={"email": f"{n}@example.com"}) for n in range(3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse(RETRY), {"item": [first.pk, third.pk]})
    assert response.status_code == 302 and response.url.endswith("#dead-letters")
    statuses = {i.pk: i.status for i in OutboxItem.objects.all()}
    assert statuses == {first.pk: "done", second.pk: "dead", third.pk: "done"}


def test_retry_refuses_bad_input_with_a_message(admin_client, marketo_fake):
    dead = item(status="dead", error="x")
    unknown = admin_client.post(reverse(RETRY), {"item": [dead.pk, dead.pk + 1000]})
    assert unknown.status_code == 404
    assert f"#{dead.pk + 1000}" in unknown.content.decode()
    assert "data-refused" in unknown.content.decode()
    for value in ("abc", "-1", "1.5", "²", "9" * 30, ""):
        response = admin_client.post(reverse(RETRY), {"only": value})
        assert response.status_code == 400, value
        assert "without a valid id" in response.content.decode()
    assert admin_client.post(reverse(RETRY), {"all": "everything"}).status_code == 400
    too_many = admin_client.post(reverse(RETRY), {"item": list(range(1, 502))})
    assert too_many.status_code == 400 and "At most 500 items" in too_many.content.decode()
    nothing = admin_client.post(reverse(RETRY), {}, follow=True)
    assert messages_of(nothing) == ["Select the items to retry."]
    assert admin_client.get(reverse(RETRY)).status_code == 405
    assert admin_client.get(reverse(TEST)).status_code == 405
    assert admin_client.post(reverse(INDEX)).status_code == 405
    dead.refresh_from_db()
    assert dead.status == "dead"


def test_test_connection_from_the_page(admin_client, marketo_fake):
    response = admin_client.post(reverse(TEST), follow=True)
    [message] = messages_of(response)
    assert message.startswith("Connected to Marketo:")
    assert len(marketo_fake.calls("leads.describe")) == 1


def test_the_outbox_pages_old_address_still_works(
    admin_client, marketo_fake, django_capture_on_commit_callbacks
):
    response = admin_client.get(reverse(LEGACY))
    assert response.status_code == 302 and response.url == reverse(INDEX) + "#outbox"
    dead = item(status="dead", error="x", payload={"email": "old@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        retried = admin_client.post(reverse(LEGACY), {"only": dead.pk}, follow=True)
    assert messages_of(retried) == ["1 item queued again."]
    tested = admin_client.post(reverse(LEGACY), {"test": "1"}, follow=True)
    assert messages_of(tested)[0].startswith("Connected to Marketo:")


# -- API usage ----------------------------------------------------------------------------


def test_api_usage_counts_real_calls_through_the_limiter(admin_client, marketo_fake):
    client = MarketoClient()
    for _ in range(3):
        client.describe_leads()
    rest_calls = [r for r in marketo_fake.requests if not r.path.startswith("/identity")]
    assert len(rest_calls) == 3  # the token call is outside the REST budget and the quota

    content = admin_client.get(reverse(INDEX)).content.decode()
    assert cell(content, 'data-usage="rate"', "data-used") == "3"
    assert cell(content, 'data-usage="rate"', "data-limit") == "50"
    assert "Calls in the last 20 seconds" in content
    assert cell(content, 'data-usage="concurrent"', "data-used") == "0"
    assert cell(content, 'data-usage="concurrent"', "data-limit") == "5"
    assert cell(content, 'data-usage="daily"', "data-used") == "3"
    assert cell(content, 'data-usage="daily"', "data-limit") == "50000"
    assert "data-quota-warning" not in content

    # A call holding its slot is in flight (and counted in the window and the day).
    with limits.call_slot(timeout=5):
        content = admin_client.get(reverse(INDEX)).content.decode()
    assert cell(content, 'data-usage="concurrent"', "data-used") == "1"
    assert cell(content, 'data-usage="rate"', "data-used") == "4"
    assert cell(content, 'data-usage="daily"', "data-used") == "4"


def test_a_warning_from_80_percent_of_the_daily_quota(admin_client, marketo_fake, settings):
    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "MARKETO": {**settings.WAGTAIL_DYNCHAT["MARKETO"], "DAILY_QUOTA": 5},
    }
    client = MarketoClient()
    for _ in range(3):
        client.describe_leads()
    assert "data-quota-warning" not in admin_client.get(reverse(INDEX)).content.decode()
    client.describe_leads()
    content = admin_client.get(reverse(INDEX)).content.decode()
    assert cell(content, 'data-usage="daily"', "data-used") == "4"
    warning = re.search(r"<p data-quota-warning>(.*?)</p>", content, re.S).group(1)
    assert warning.startswith("80 % of the daily Marketo API quota is used.")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_daily_count_restarts_at_midnight_us_central():
    before = datetime.datetime(2026, 11, 25, 23, 59, 50, tzinfo=CHICAGO).timestamp()
    clock = Clock(before)
    limiter = limits.Limiter(
        calls=100,
        window=20,
        max_concurrent=2,
        lease_seconds=30,
        key=uuid.uuid4().hex,
        clock=clock,
        sleep=clock.sleep,
    )
    for _ in range(3):
        with limiter.call_slot():
            pass
    assert limiter.calls_today() == 3
    midnight = datetime.datetime(2026, 11, 26, 0, 0, tzinfo=CHICAGO)
    assert limiter.quota_resets_at() == midnight
    assert limiter.quota_resets_at().tzinfo == datetime.UTC
    # The rejected try of a full budget is not a call: it is not counted.
    full = limits.Limiter(
        calls=1, window=20, max_concurrent=1, lease_seconds=30, key=uuid.uuid4().hex, clock=clock
    )
    with full.call_slot():
        pass
    with pytest.raises(limits.RateLimited), full.call_slot(timeout=0):
        pass
    assert full.calls_today() == 1

    clock.now = midnight.timestamp() + 5  # Marketo's new day (06:00 UTC in winter)
    assert limiter.calls_today() == 0
    with limiter.call_slot():
        pass
    assert limiter.calls_today() == 1
    assert limiter.quota_resets_at() == datetime.datetime(2026, 11, 27, tzinfo=CHICAGO)
    usage = limits.usage(limiter)
    assert (usage.today, usage.rate_used, usage.in_flight) == (1, 4, 0)


def test_daily_quota_setting_is_checked(settings):
    good = {"BASE_URL": "https://123-ABC-456.mktorest.com", "CLIENT_ID": "i", "CLIENT_SECRET": "s"}
    settings.WAGTAIL_DYNCHAT = {"MARKETO": {**good, "DAILY_QUOTA": 0}}
    assert [message.id for message in check_marketo(None)] == ["wagtail_dynchat.E022"]
    settings.WAGTAIL_DYNCHAT = {"MARKETO": good}
    assert check_marketo(None) == []


# -- sync ---------------------------------------------------------------------------------


def test_sync_section_shows_the_latest_run_of_each_kind(admin_client, marketo_fake, sync_service):
    started = timezone.now() - datetime.timedelta(minutes=10)
    SyncRun.objects.create(
        kind="initial",
        status="done",
        windows_total=2,
        windows_done=2,
        started_at=started - datetime.timedelta(days=2),
    )
    SyncRun.objects.create(
        kind="initial",
        status="running",
        windows_total=12,
        windows_done=3,
        rows=4500,
        started_at=started,
        last_error="1029: Export daily quota exceeded",
    )
    content = admin_client.get(reverse(INDEX)).content.decode()
    initial = 'data-sync-run="initial"'
    assert cell(content, initial, "data-windows") == "3 of 12 (25 %)"
    assert cell(content, initial, "data-rows") == "4500"
    assert cell(content, initial, 'data-status="running"') == "Running"
    assert "1029: Export daily quota exceeded" in row(content, initial)
    assert "Never run." in row(content, 'data-sync-run="incremental"')
    assert ">Resume</button>" in content and "Cancel the initial sync" in content


def test_start_resume_and_cancel_the_initial_sync(
    admin_client, marketo_fake, sync_service, django_capture_on_commit_callbacks
):
    content = admin_client.get(reverse(INDEX)).content.decode()
    assert f'href="{reverse(START)}"' in content and "Start initial sync" in content
    confirm = admin_client.get(reverse(START))
    assert confirm.status_code == 200 and 'name="since"' in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        started = admin_client.post(reverse(START), {"since": ""}, follow=True)
    [run] = SyncRun.objects.filter(kind="initial")
    assert run.status == "running"
    assert callbacks, "the sync task is enqueued on commit"
    assert messages_of(started) == [f"Initial sync #{run.pk} started."]

    with django_capture_on_commit_callbacks(execute=False):
        resumed = admin_client.post(reverse(START), follow=True)
    assert SyncRun.objects.filter(kind="initial").count() == 1
    assert messages_of(resumed) == [f"Initial sync #{run.pk} resumed."]

    asked = admin_client.get(cancel_url(run.pk))
    assert asked.status_code == 200 and "Yes, cancel the sync" in asked.content.decode()
    run.refresh_from_db()
    assert run.status == "running"  # a GET only asks
    cancelled = admin_client.post(cancel_url(run.pk), follow=True)
    assert messages_of(cancelled) == [f"Sync #{run.pk} cancelled."]
    run.refresh_from_db()
    assert run.status == "cancelled"
    again = admin_client.post(cancel_url(run.pk), follow=True)
    assert messages_of(again)[0].startswith(f"Sync #{run.pk} is not running")


def test_start_and_cancel_refuse_bad_input(admin_client, marketo_fake, sync_service):
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    for since, error in (("yesterday", "Enter a valid date."), (future, "in the future")):
        response = admin_client.post(reverse(START), {"since": since})
        assert response.status_code == 400 and error in response.content.decode()
    assert not SyncRun.objects.exists()
    for pk in ("999999", "abc", "9" * 40):
        missing = admin_client.post(cancel_url(pk))
        assert missing.status_code == 404, pk
        assert "There is no such sync run." in missing.content.decode()
    assert admin_client.get(cancel_url("999999")).status_code == 404
    assert admin_client.put(reverse(START)).status_code == 405


def test_start_with_a_since_day(admin_client, marketo_fake, sync_service):
    with_day = admin_client.post(reverse(START), {"since": "2026-01-15"})
    assert with_day.status_code == 302
    assert SyncRun.objects.filter(kind="initial", status="running").exists()


def test_without_the_sync_service_the_page_shows_what_runs_recorded(
    admin_client, marketo_fake, without_sync_service
):
    SyncRun.objects.create(kind="incremental", status="done", rows=42)
    content = admin_client.get(reverse(INDEX)).content.decode()
    assert cell(content, 'data-sync-run="incremental"', "data-rows") == "42"
    assert cell(content, 'data-sync-run="incremental"', "data-rate") == "—"
    assert "This installation has no initial sync." in content
    assert "Start initial sync" not in content
    refused = admin_client.post(reverse(START))
    assert refused.status_code == 404 and "no initial sync" in refused.content.decode()


def test_activity_types_and_the_fields_page(admin_client, marketo_fake):
    MarketoActivityType.objects.create(
        key="engaged", api_name="dynchat_engaged", name="Engaged in chat", type_id=100001
    )
    content = admin_client.get(reverse(INDEX)).content.decode()
    engaged = row(content, 'data-activity-type="engaged"')
    assert "Engaged in chat" in engaged and "100001" in engaged
    try:
        fields_url = reverse("wagtail_dynchat_marketo_fields:index")
    except Exception:  # the fields page is another module's, absent in some installations
        fields_url = None
    if fields_url:
        assert f'href="{fields_url}"' in content


# -- who and when -------------------------------------------------------------------------


def test_without_marketo_the_page_explains_the_setup(admin_client, settings, db):
    settings.WAGTAIL_DYNCHAT = {}
    response = admin_client.get(reverse(INDEX))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Connect Marketo" in content and "LaunchPoint" in content and "CLIENT_SECRET" in content
    assert "data-api-usage" not in content and "data-sync-runs" not in content
    home = admin_client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse(INDEX) not in home
    refused = admin_client.post(reverse(START))
    assert refused.status_code == 400 and "not configured" in refused.content.decode()


def test_menu_item_and_access_need_the_outbox_permission(client, django_user_model, marketo_fake):
    run = SyncRun.objects.create(kind="initial", status="running")
    dead = item(status="dead", error="x")
    user = django_user_model.objects.create_user("editor", password="x")
    editors = Group.objects.create(name="Marketo-less editors")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(editors)
    client.force_login(user)
    assert reverse(INDEX) not in client.get(reverse("wagtailadmin_home")).content.decode()
    assert client.get(reverse(INDEX)).status_code == 403
    assert client.post(reverse(RETRY), {"all": "dead"}).status_code == 403
    assert client.post(reverse(TEST)).status_code == 403
    assert client.post(reverse(START)).status_code == 403
    assert client.post(cancel_url(run.pk)).status_code == 403
    assert client.get(reverse(LEGACY)).status_code == 403
    dead.refresh_from_db()
    run.refresh_from_db()
    assert (dead.status, run.status) == ("dead", "running")
    assert len(marketo_fake.requests) == 0

    editors.permissions.add(Permission.objects.get(codename="change_outboxitem"))
    user = django_user_model.objects.get(pk=user.pk)  # no cached permissions
    client.force_login(user)
    assert client.get(reverse(INDEX)).status_code == 200
    assert reverse(INDEX) in client.get(reverse("wagtailadmin_home")).content.decode()


def test_actions_need_the_csrf_token(admin_user, marketo_fake):
    run = SyncRun.objects.create(kind="initial", status="running")
    dead = item(status="dead", error="x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse(RETRY), {"all": "dead"}).status_code == 403
    assert client.post(reverse(LEGACY), {"only": dead.pk}).status_code == 403
    assert client.post(reverse(START)).status_code == 403
    assert client.post(cancel_url(run.pk)).status_code == 403
    dead.refresh_from_db()
    run.refresh_from_db()
    assert (dead.status, run.status) == ("dead", "running")
    # The page's forms carry the token.
    content = client.get(reverse(INDEX)).content.decode()
    assert content.count('name="csrfmiddlewaretoken"') >= 3
