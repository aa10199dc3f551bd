"""The meetings admin (wagtail-modeladmin, "Sales" menu): the listing with its filters, search and
exports, a meeting's page with its routing decision and transcript, the actions on a meeting,
and who may see all this ("Sales admin" yes, "Calendar agent" no).

Meetings are booked through the booking service where the routing log matters. Free/busy is fed
through the cache, so no provider is called; the calendar tasks the services enqueue are replaced
by recorders, which shows the provider sync is enqueued once the change commits.
"""

import csv
import datetime
import importlib
import io
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils import WagtailTestUtils
from wagtail.users.models import UserProfile

from tests.conftest import SIMPLE_FLOW, ensure_wagtail_base_rows, make_dialogue
from tests.fakes import fixtures as fakes
from tests.fakes.fixtures import connect_google
from tests.test_admin_dialogues import sidebar_menu, submenu
from wagtail_dynchat.meetings import availability, booking, connections, tasks
from wagtail_dynchat.meetings import tokens as token_store
from wagtail_dynchat.models import (
    Agent,
    CalendarConnection,
    Conversation,
    FlowSnapshot,
    Meeting,
    MeetingQueue,
    Person,
    QueueMember,
    Visitor,
)

pytestmark = pytest.mark.django_db

# The loopback provider fakes (tests/fakes/fixtures.py), for the end-to-end sync test.
google_fake = fakes.google_fake
block_network = fakes.block_network

UTC = datetime.UTC
NEW_YORK = "America/New_York"
NY = ZoneInfo(NEW_YORK)
SCRIPT = "<script>alert('booked')</script>"
SALES_ADMIN, CALENDAR_AGENT = "Sales admin", "Calendar agent"


def url(action, *args):
    return reverse(f"dynchat_meetings_modeladmin_{action}", args=args)


# ---- helpers ----------------------------------------------------------------------------------


def role(name):
    """The group migration 0005 created (made again if a transactional test flushed it)."""
    if not Group.objects.filter(name=name).exists():
        migration = importlib.import_module("wagtail_dynchat.migrations.0005_sales_roles")
        migration.create_groups(apps, None)
    return Group.objects.get(name=name)


def member_of(group_name, username, time_zone=""):
    """A logged-in client for a new user in the group (a time zone set in their profile)."""
    user = get_user_model().objects.create_user(username, f"{username}@ourco.example", "pw")
    user.groups.add(role(group_name))
    if time_zone:
        profile = UserProfile.get_for_user(user)
        profile.current_time_zone = time_zone
        profile.save()
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def make_agent(username, *, connected=True, **fields):
    user = get_user_model().objects.create_user(
        username, f"{username}@ourco.example", first_name=username.title()
    )
    fields.setdefault("min_notice_hours", 0)
    agent = Agent.objects.create(user=user, **fields)
    if connected:
        CalendarConnection.objects.create(
            agent=agent, provider="google", account=user.email, encrypted_tokens=b""
        )
    return Agent.objects.select_related("user").get(pk=agent.pk)


def free(*agents):
    """Every agent's calendar reads as free (seeded where free/busy is cached, for a request made
    now or a few minutes later)."""
    now = timezone.now()
    for moment in (now, now + datetime.timedelta(minutes=5)):
        window = availability.fetch_window(agents, moment)
        for agent in agents:
            key = availability.busy_cache_key("google", agent.user.email, *window)
            cache.set(key, [], 600)


def weekday_at(days, hour, minute=0):
    """``days`` or more days ahead (negative: back), on a Monday to Friday, at hour:minute UTC."""
    day = timezone.now().astimezone(UTC).date() + datetime.timedelta(days=days)
    step = datetime.timedelta(days=1 if days >= 0 else -1)
    while day.weekday() >= 5:
        day += step
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=UTC)


def meeting(agent, email, starts_at, status=Meeting.SCHEDULED, **fields):
    return Meeting.objects.create(
        agent=agent,
        email=email,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        status=status,
        **fields,
    )


def conversation_with(*items):
    person = Person.objects.create(email="vic@visitor.example", first_name="Vic")
    snapshot = FlowSnapshot.objects.create(revision_id=990001, flow={})
    return Conversation.objects.create(
        snapshot=snapshot,
        visitor=Visitor.objects.create(person=person),
        person=person,
        transcript=list(items),
    )


def rows(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in soup.select(".result-list tbody tr")
    ]


def emails(response):
    return sorted(row[0].split()[0] for row in rows(response))


def shown_messages(response):
    return [str(message).strip() for message in response.context["messages"]]


class Recorder:
    """Stands in for a Celery task: records ``delay`` calls."""

    def __init__(self):
        self.calls = []

    def delay(self, *args):
        self.calls.append(args)


@pytest.fixture
def synced(monkeypatch):
    """The calendar tasks, recorded instead of calling providers."""
    recorders = {}
    for name in ("create_calendar_event", "update_calendar_event", "cancel_calendar_event"):
        recorders[name] = Recorder()
        monkeypatch.setattr(tasks, name, recorders[name])
    return recorders


@pytest.fixture
def sales():
    return member_of(SALES_ADMIN, "sally", time_zone=NEW_YORK)


@pytest.fixture
def agents():
    return {name: make_agent(name) for name in ("ann", "bob", "cid")}


@pytest.fixture
def listing(agents):
    """Ann's upcoming meeting (booked on a dialogue and page), Bob's past completed one, and
    Cid's cancelled upcoming one."""
    ensure_wagtail_base_rows()
    dialogue = make_dialogue(SIMPLE_FLOW, name="Pricing helper")
    return {
        "upcoming": meeting(
            agents["ann"],
            "uma@upcoming.example",
            weekday_at(3, 14),
            dialogue=dialogue,
            page_url="http://testserver/pricing/",
        ),
        "past": meeting(agents["bob"], "pat@past.example", weekday_at(-3, 15), Meeting.COMPLETED),
        "cancelled": meeting(
            agents["cid"], "cal@cancelled.example", weekday_at(4, 10), Meeting.CANCELLED
        ),
    }


# ---- the listing ------------------------------------------------------------------------------


def test_listing_shows_meetings_in_the_admins_time_zone(sales, listing):
    response = sales.get(url("index"))
    assert response.status_code == 200
    by_email = {row[0].split()[0]: row for row in rows(response)}
    assert set(by_email) == {"uma@upcoming.example", "pat@past.example", "cal@cancelled.example"}
    uma = by_email["uma@upcoming.example"]
    assert uma[1] == "Ann"
    assert uma[2] == "Pricing helper"
    assert uma[3] == "/pricing/"
    # 14:00 UTC shown in New York time (9 or 10 a.m.), with the zone's abbreviation.
    new_york = listing["upcoming"].starts_at.astimezone(NY)
    assert uma[4].endswith(
        f"{new_york.hour - 12 if new_york.hour > 12 else new_york.hour} a.m. {new_york.tzname()}"
    )
    assert uma[5] == "Scheduled"
    assert by_email["pat@past.example"][5] == "Completed"
    assert by_email["cal@cancelled.example"][5] == "Cancelled"
    # Meetings come from visitors: no "add" anywhere, and no add/edit/delete views at all.
    content = response.content.decode()
    assert "Add meeting" not in content
    assert sales.get("/admin/dynchat/meetings/create/").status_code == 404
    meeting_pk = listing["upcoming"].pk
    assert sales.get(f"/admin/dynchat/meetings/edit/{meeting_pk}/").status_code == 404
    assert sales.get(f"/admin/dynchat/meetings/delete/{meeting_pk}/").status_code == 404
    # Each row leads to the meeting's page.
    links = {a["href"] for a in WagtailTestUtils.get_soup(response.content).select("tbody a")}
    assert url("inspect", meeting_pk) in links


def test_filters_upcoming_past_status_and_agent(sales, listing, agents):
    assert emails(sales.get(url("index"), {"when": "upcoming"})) == [
        "cal@cancelled.example",
        "uma@upcoming.example",
    ]
    assert emails(sales.get(url("index"), {"when": "past"})) == ["pat@past.example"]
    assert emails(sales.get(url("index"), {"status__exact": "cancelled"})) == [
        "cal@cancelled.example"
    ]
    assert emails(sales.get(url("index"), {"agent__id__exact": agents["bob"].pk})) == [
        "pat@past.example"
    ]
    both = sales.get(url("index"), {"when": "upcoming", "status__exact": "scheduled"})
    assert emails(both) == ["uma@upcoming.example"]
    # The filters are offered in the sidebar.
    filters = WagtailTestUtils.get_soup(sales.get(url("index")).content).select_one(
        ".changelist-filter"
    )
    text = filters.get_text(" ", strip=True)
    assert "Upcoming" in text and "Past" in text and "No-show" in text and "Bob" in text


def test_search_by_email_and_agent(sales, listing):
    assert emails(sales.get(url("index"), {"q": "uma@"})) == ["uma@upcoming.example"]
    assert emails(sales.get(url("index"), {"q": "Bob"})) == ["pat@past.example"]
    # The agent's e-mail address finds their meetings too.
    assert emails(sales.get(url("index"), {"q": "cid@ourco"})) == ["cal@cancelled.example"]
    assert rows(sales.get(url("index"), {"q": "nobody-at-all"})) == []


def test_csv_export_in_the_admins_time_zone(sales, listing):
    response = sales.get(url("index"), {"export": "csv", "when": "upcoming"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="meetings.csv"'
    text = b"".join(response.streaming_content).decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "Booked by",
        "Agent",
        "Dialogue",
        "Page",
        f"Scheduled for ({NEW_YORK})",
        "Status",
    ]
    body = sorted(table[1:])
    new_york = listing["upcoming"].starts_at.astimezone(NY)
    assert body[1] == [
        "uma@upcoming.example",
        "Ann",
        "Pricing helper",
        "http://testserver/pricing/",
        f"{new_york:%Y-%m-%d %H:%M}",
        "Scheduled",
    ]
    assert body[0][0] == "cal@cancelled.example" and body[0][5] == "Cancelled"


def test_csv_export_neutralises_formulas(sales, agents):
    meeting(agents["ann"], "=cmd@evil.example", weekday_at(2, 10))
    text = b"".join(sales.get(url("index"), {"export": "csv"}).streaming_content).decode()
    assert list(csv.reader(io.StringIO(text)))[1][0] == "'=cmd@evil.example"


def test_xlsx_export(sales, listing):
    from openpyxl import load_workbook

    response = sales.get(url("index"), {"export": "xlsx", "status__exact": "scheduled"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="meetings.xlsx"'
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = list(workbook.active.iter_rows(values_only=True))
    assert values[0] == (
        "Booked by",
        "Agent",
        "Dialogue",
        "Page",
        f"Scheduled for ({NEW_YORK})",
        "Status",
    )
    new_york = listing["upcoming"].starts_at.astimezone(NY)
    assert values[1] == (
        "uma@upcoming.example",
        "Ann",
        "Pricing helper",
        "http://testserver/pricing/",
        new_york.replace(tzinfo=None),
        "Scheduled",
    )
    assert len(values) == 2


# ---- the meeting's page -----------------------------------------------------------------------


@pytest.fixture
def booked(agents, synced):
    """Vic books through the service: the queue tries Ann (off), then Dan (no calendar), and
    books Bob; Vic's answers included a script tag."""
    dan = make_agent("dan", connected=False)
    Agent.objects.filter(pk=agents["ann"].pk).update(active=False)
    queue = MeetingQueue.objects.create(name="Inbound")
    for index, agent in enumerate((agents["ann"], dan, agents["bob"])):
        QueueMember.objects.create(queue=queue, agent=agent, sort_order=index)
    free(agents["bob"])
    conversation = conversation_with(
        {"kind": "capture", "card": "c1", "html": "<p>Your <b>name</b>?</p>", "label": "Name"},
        {"kind": "answer", "card": "c1", "text": SCRIPT},
        {"kind": "end", "text": "Thanks!"},
    )
    return booking.book(
        start=weekday_at(2, 10),
        email="vic@visitor.example",
        person=conversation.person,
        facts={},
        queue_id=queue.pk,
        conversation=conversation,
        page_url="http://testserver/pricing/",
        answers=[["Name", SCRIPT]],
    )


def test_meeting_page_shows_details_routing_log_and_transcript(sales, booked):
    response = sales.get(url("inspect", booked.pk))
    assert response.status_code == 200
    content = response.content.decode()
    soup = WagtailTestUtils.get_soup(response.content)
    text = soup.get_text(" ", strip=True)
    assert "vic@visitor.example" in text and "Bob" in text
    new_york = booked.starts_at.astimezone(NY)
    assert f"your time zone, {NEW_YORK}" in text and new_york.tzname() in text
    # The routing decision: the queue decided; each agent considered with why they were skipped.
    assert "Decided by: The meeting card's queue" in text
    considered = {
        row.select("td")[0].get_text(strip=True): row.select("td")[1].get_text(" ", strip=True)
        for row in soup.select("table[aria-label='Agents considered'] tbody tr")
    }
    assert considered == {
        "Ann": "Skipped: does not take meetings (inactive)",
        "Dan": "Skipped: calendar not connected",
        "Bob": "Free",
    }
    assert "This step decided." in text
    # The transcript: the visitor's answer is text, never markup.
    assert SCRIPT not in content
    answer = next(row.select("td")[1] for row in soup.select("tr") if "Visitor" in row.get_text())
    assert answer.get_text() == SCRIPT
    assert "Your name?" in text
    # Sales admins may not read conversations otherwise: no link to the conversation's page.
    assert "Open the conversation" not in text


def test_meeting_page_links_the_conversation_for_those_allowed(admin_client, booked):
    soup = WagtailTestUtils.get_soup(admin_client.get(url("inspect", booked.pk)).content)
    link = soup.find("a", string="Open the conversation")
    assert link["href"] == reverse(
        "wagtail_dynchat_conversations:inspect", args=[booked.conversation_id]
    )
    # Links to a meeting elsewhere in the admin (audit log, reports) lead to its page.
    from wagtail.admin.admin_url_finder import AdminURLFinder

    assert AdminURLFinder(None).get_edit_url(booked) == url("inspect", booked.pk)


def test_meeting_page_offers_the_actions_that_apply(sales, listing, booked):
    soup = WagtailTestUtils.get_soup(sales.get(url("inspect", booked.pk)).content)
    forms = {form["action"]: form for form in soup.select("form[method='post']")}
    assert set(forms) == {
        url("cancel", booked.pk),
        url("reschedule", booked.pk),
        url("reassign", booked.pk),
    }
    assert all(form.select_one("input[name='csrfmiddlewaretoken']") for form in forms.values())
    # Reassigning offers the other active agents: not Ann (inactive), not Bob (has it).
    options = [o.get_text(strip=True) for o in forms[url("reassign", booked.pk)].select("option")]
    assert options[1:] == ["Cid", "Dan"]
    # A past meeting can be marked; a cancelled one has no actions left.
    past = WagtailTestUtils.get_soup(sales.get(url("inspect", listing["past"].pk)).content)
    actions = {form["action"] for form in past.select("form[method='post']")}
    assert actions == {url("no_show", listing["past"].pk)}
    cancelled = sales.get(url("inspect", listing["cancelled"].pk))
    assert not WagtailTestUtils.get_soup(cancelled.content).select("form[method='post']")
    assert "No routing decision was recorded" in cancelled.content.decode()


# ---- actions ----------------------------------------------------------------------------------


def post(client, action, target, data=None, capture=None):
    with capture(execute=True):
        response = client.post(url(action, target.pk), data or {}, follow=True)
    assert response.redirect_chain == [(url("inspect", target.pk), 302)]
    target.refresh_from_db()
    return response


def test_cancel(sales, booked, synced, django_capture_on_commit_callbacks):
    response = post(sales, "cancel", booked, capture=django_capture_on_commit_callbacks)
    assert booked.status == Meeting.CANCELLED
    assert shown_messages(response) == ["The meeting with vic@visitor.example was cancelled."]
    assert synced["cancel_calendar_event"].calls == [(booked.pk,)]
    assert booked.routing_log["history"][-1]["by"] == "sally"
    # Shown in the meeting's history and in its routing log's changes.
    soup = WagtailTestUtils.get_soup(response.content)
    changes = soup.select("table[aria-label='Changes since booking'] tbody tr")
    assert [cell.get_text(strip=True) for cell in changes[-1].select("td")][1:] == [
        "Cancelled",
        "sally",
    ]
    history = sales.get(url("history", booked.pk)).content.decode()
    assert "Cancelled the meeting" in history


def test_reschedule_in_the_admins_time_zone(
    sales, booked, agents, synced, django_capture_on_commit_callbacks
):
    free(agents["bob"])
    new_start = weekday_at(3, 15)
    local = new_start.astimezone(NY)
    response = post(
        sales,
        "reschedule",
        booked,
        {"starts_at": f"{local:%Y-%m-%dT%H:%M}"},
        capture=django_capture_on_commit_callbacks,
    )
    assert booked.starts_at == new_start
    assert booked.status == Meeting.PENDING  # still being created in the calendar
    assert shown_messages(response)[0].startswith("The meeting with vic@visitor.example was moved")
    assert synced["update_calendar_event"].calls == [(booked.pk,)]
    soup = WagtailTestUtils.get_soup(response.content)
    change = soup.select("table[aria-label='Changes since booking'] tbody tr")[-1]
    assert f"to {local:%b}" in change.get_text(" ", strip=True)
    assert local.tzname() in change.get_text(" ", strip=True)


def test_reschedule_to_a_taken_slot_is_an_error_message(
    sales, booked, agents, synced, django_capture_on_commit_callbacks
):
    free(agents["bob"])
    taken = weekday_at(3, 15)
    meeting(agents["bob"], "other@visitor.example", taken)
    before = booked.starts_at
    local = taken.astimezone(NY)
    response = post(
        sales,
        "reschedule",
        booked,
        {"starts_at": f"{local:%Y-%m-%dT%H:%M}"},
        capture=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200
    assert booked.starts_at == before
    [message] = shown_messages(response)
    assert message.startswith("Reschedule failed: Bob is not free then")
    assert synced["update_calendar_event"].calls == []


def test_reschedule_without_a_time_is_an_error_message(
    sales, booked, django_capture_on_commit_callbacks
):
    response = post(
        sales,
        "reschedule",
        booked,
        {"starts_at": "soon"},
        capture=django_capture_on_commit_callbacks,
    )
    [message] = shown_messages(response)
    assert message.startswith("New time:")
    assert booked.status == Meeting.PENDING


def test_mark_completed_and_no_show(sales, listing, django_capture_on_commit_callbacks):
    past = listing["past"]
    post(sales, "no_show", past, capture=django_capture_on_commit_callbacks)
    assert past.status == Meeting.NO_SHOW
    response = post(sales, "complete", past, capture=django_capture_on_commit_callbacks)
    assert past.status == Meeting.COMPLETED
    assert shown_messages(response) == [
        "The meeting with pat@past.example was marked as completed."
    ]
    # A cancelled meeting can't be marked: the service refuses, the admin says so.
    cancelled = listing["cancelled"]
    response = post(sales, "complete", cancelled, capture=django_capture_on_commit_callbacks)
    assert cancelled.status == Meeting.CANCELLED
    assert shown_messages(response) == [
        "Mark completed failed: A cancelled or failed meeting cannot be marked so."
    ]


def test_reassign(sales, booked, agents, synced, django_capture_on_commit_callbacks):
    Meeting.objects.filter(pk=booked.pk).update(status=Meeting.SCHEDULED, provider_event_id="evt-1")
    free(agents["cid"])
    response = post(
        sales,
        "reassign",
        booked,
        {"agent": agents["cid"].pk},
        capture=django_capture_on_commit_callbacks,
    )
    assert booked.agent == agents["cid"]
    assert booked.status == Meeting.PENDING
    assert shown_messages(response) == ["The meeting with vic@visitor.example now is with Cid."]
    # The event leaves Bob's calendar and is created in Cid's.
    assert synced["cancel_calendar_event"].calls == [(booked.pk, agents["bob"].pk, "evt-1")]
    assert synced["create_calendar_event"].calls[-1] == (booked.pk,)


def test_reassign_to_an_agent_without_calendar_is_an_error_message(
    sales, booked, agents, django_capture_on_commit_callbacks
):
    dan = Agent.objects.get(user__username="dan")
    response = post(
        sales, "reassign", booked, {"agent": dan.pk}, capture=django_capture_on_commit_callbacks
    )
    assert booked.agent == agents["bob"]
    [message] = shown_messages(response)
    assert message.startswith("Reassign failed: Dan is not free then (calendar not connected)")


@pytest.fixture
def google(google_fake, settings, block_network):
    """The Google fake, and a key to keep tokens with."""
    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "CALENDAR_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    return google_fake


def connected(username, fake):
    """An agent whose Google calendar is connected through the fake's OAuth round trip."""
    agent = make_agent(username, connected=False)
    bundle = connect_google(fake, agent.user.email)
    CalendarConnection.objects.create(
        agent=agent,
        provider="google",
        account=bundle.account,
        encrypted_tokens=token_store.encrypt(bundle),
    )
    return Agent.objects.select_related("user", "connection").get(pk=agent.pk)


def test_actions_sync_the_agents_calendars(sales, google, django_capture_on_commit_callbacks):
    """Through the real tasks (Celery runs eagerly) against the Google fake."""
    ann, bob = connected("ann", google), connected("bob", google)
    queue = MeetingQueue.objects.create(name="Inbound")
    QueueMember.objects.create(queue=queue, agent=ann, sort_order=0)
    QueueMember.objects.create(queue=queue, agent=bob, sort_order=1)
    with django_capture_on_commit_callbacks(execute=True):
        booked = booking.book(
            start=weekday_at(2, 10),
            email="vic@visitor.example",
            person=None,
            facts={},
            queue_id=queue.pk,
        )
    booked.refresh_from_db()
    assert (booked.agent, booked.status) == (ann, Meeting.SCHEDULED)
    event_id = booked.provider_event_id

    later = weekday_at(2, 14)
    post(
        sales,
        "reschedule",
        booked,
        {"starts_at": f"{later.astimezone(NY):%Y-%m-%dT%H:%M}"},
        capture=django_capture_on_commit_callbacks,
    )
    assert booked.status == Meeting.RESCHEDULED
    event = google.event(ann.user.email, event_id)
    assert event["start"]["dateTime"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")

    post(sales, "reassign", booked, {"agent": bob.pk}, capture=django_capture_on_commit_callbacks)
    assert (booked.agent, booked.status) == (bob, Meeting.SCHEDULED)
    assert google.event(ann.user.email, event_id)["status"] == "cancelled"
    (moved,) = google.events(bob.user.email)
    assert moved["id"] == booked.provider_event_id

    post(sales, "cancel", booked, capture=django_capture_on_commit_callbacks)
    assert booked.status == Meeting.CANCELLED
    assert google.events(bob.user.email) == []


def test_actions_are_post_only_with_csrf(booked):
    user = get_user_model().objects.create_user("sam", "sam@ourco.example", "pw")
    user.groups.add(role(SALES_ADMIN))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(url("cancel", booked.pk)).status_code == 405
    assert client.post(url("cancel", booked.pk)).status_code == 403
    booked.refresh_from_db()
    assert booked.status == Meeting.PENDING


# ---- who sees it ------------------------------------------------------------------------------


def test_sales_admins_get_the_sales_menu(sales):
    menu = submenu(sidebar_menu(sales.get(reverse("wagtailadmin_home"))), "Sales")
    assert menu == [
        ("Meetings", url("index")),
        ("Queues", reverse("dynchat_queues_modeladmin_index")),
        ("Routing rules", reverse("dynchat_routing-rules_modeladmin_index")),
        ("Accounts", reverse("dynchat_accounts_modeladmin_index")),
        ("Calendars", reverse(connections.AGENTS_URL_NAME)),
    ]


def test_calendar_agents_see_none_of_it(listing, synced):
    agent = member_of(CALENDAR_AGENT, "carla")
    menu = sidebar_menu(agent.get(reverse("wagtailadmin_home")))
    labels = [item["_args"][0]["label"] for item in menu]
    assert "Sales" not in labels
    target = listing["upcoming"]
    for path in (url("index"), url("inspect", target.pk), url("index") + "?export=csv"):
        # Wagtail answers a refused admin page with the dashboard and a message, and a script
        # with 403.
        response = agent.get(path, follow=True)
        assert response.redirect_chain == [(reverse("wagtailadmin_home"), 302)]
        assert "Sorry, you do not have permission to access this area." in shown_messages(response)
        assert agent.get(path, headers={"x-requested-with": "XMLHttpRequest"}).status_code == 403
    for action in ("cancel", "complete", "reassign"):
        response = agent.post(
            url(action, target.pk), headers={"x-requested-with": "XMLHttpRequest"}
        )
        assert response.status_code == 403
    target.refresh_from_db()
    assert target.status == Meeting.SCHEDULED
    assert synced["cancel_calendar_event"].calls == []


def test_the_groups_come_from_the_migration():
    """What the two tests above rely on: sales admins hold the sales models' permissions, and
    calendar agents none of them."""
    sales_models = ("meeting", "meetingqueue", "routingrule", "account")
    for group, expected in ((SALES_ADMIN, True), (CALENDAR_AGENT, False)):
        held = set(
            role(group)
            .permissions.filter(
                content_type__app_label="wagtail_dynchat",
                content_type__model__in=sales_models,
            )
            .values_list("codename", flat=True)
        )
        all_of_them = {
            f"{action}_{model}"
            for action in ("add", "change", "delete", "view")
            for model in sales_models
        }
        assert held == (all_of_them if expected else set())
