"""The chat reports in Wagtail's Reports menu, through the admin as a user sees them: the numbers
of rolled-up days plus today's live events, filters, exports and permissions."""

import csv
import datetime
import io
import json

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from wagtail.models import Locale, Site
from wagtail.test.utils import WagtailTestUtils

from wagtail_dynchat.models import Agent, Conversation, Meeting
from wagtail_dynchat.reports.rollup import local_today, rollup_day

from ..conftest import SIMPLE_FLOW, make_dialogue
from .builders import Story, card_ids, days_ago, make_user

pytestmark = pytest.mark.django_db

REPORTS = ("dialogues", "days", "pages", "goals", "agents")
COMPLETED = Conversation.STATUS_COMPLETED
SCRIPT = '<script>alert("x")</script>'


def url(name, **query):
    address = reverse(f"wagtail_dynchat_reports:{name}")
    if query:
        address += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return address


def day(days):
    return local_today() - datetime.timedelta(days=days)


def table(response):
    """The report's table as a list of rows of cell texts, header first."""
    soup = WagtailTestUtils.get_soup(response.content)
    found = soup.select_one("table.listing")
    if found is None:
        return []
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("th, td")]
        for row in found.select("tr")
    ]


def rows_by_first_cell(response):
    return {row[0]: row[1:] for row in table(response)[1:]}


def link(response, text):
    """The address of the table's link reading ``text``."""
    soup = WagtailTestUtils.get_soup(response.content)
    return next(a["href"] for a in soup.select("table a") if a.get_text(strip=True) == text)


def errors(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return [item.get_text(strip=True) for item in soup.select("[data-report-errors] li")]


def csv_rows(response):
    content = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(content)))


def chat_reports_menu(response):
    """Our items of the sidebar's Reports submenu as (label, url) pairs."""
    soup = WagtailTestUtils.get_soup(response.content)
    props = json.loads(soup.select_one("#wagtail-sidebar-props").text)
    module = next(m for m in props["modules"] if m["_type"] == "wagtail.sidebar.MainMenuModule")
    for item in module["_args"][0]:
        if item["_type"] == "wagtail.sidebar.SubMenuItem" and item["_args"][0]["name"] == "reports":
            return [
                (child["_args"][0]["label"], child["_args"][0]["url"])
                for child in item["_args"][1]
                if child["_args"][0]["label"].startswith("Chat: ")
            ]
    return []


@pytest.fixture
def data(simple_dialogue, pages):
    """Two rolled-up days and today's live events, on two dialogues and two pages.

    - two days ago, "Simple" on pricing: a known visitor answers, gives a new e-mail, reaches
      the goal "Lead" and completes; an anonymous visitor only sees it;
    - yesterday, "Other" on contact: a known visitor answers, reaches "Demo" twice and books
      a meeting with Ada (Bob's meeting is cancelled);
    - today (live), "Simple" on pricing: an anonymous visitor answers.
    """
    cards = card_ids(simple_dialogue)
    question, email, goal = cards["question"][0], cards["capture"][0], cards["goal"][0]
    simple = Story(simple_dialogue, pages["pricing"])
    other_dialogue = make_dialogue(SIMPLE_FLOW, name="Other")
    other = Story(other_dialogue, pages["contact"])

    def engage(story, visitor, at, **kwargs):
        conversation = story.conversation(visitor, at=at, engaged=True, **kwargs)
        story.event(conversation, "triggered", at=at)
        story.event(conversation, "engaged", card=question, at=at)
        return conversation

    at = days_ago(2, 9)
    first = engage(simple, simple.visitor("new@client.example"), at, status=COMPLETED)
    new = {"field": "email", "value": "new@client.example", "new": True}
    simple.event(first, "captured", card=email, at=at, data=new)
    simple.event(first, "goal", card=goal, at=at, data={"name": "Lead"})
    simple.event(first, "completed", at=at)
    shown = simple.conversation(simple.visitor(), at=days_ago(2, 10))
    simple.event(shown, "triggered", at=days_ago(2, 10))

    at = days_ago(1, 9)
    known = engage(other, other.visitor("known@client.example"), at)
    for _ in range(2):
        other.event(known, "goal", card=goal, at=at, data={"name": "Demo"})
    agents = {}
    for name, status in (("ada", Meeting.SCHEDULED), ("bob", Meeting.CANCELLED)):
        user = get_user_model().objects.create_user(
            name, f"{name}@sales.example", first_name=name.title()
        )
        agents[name] = Agent.objects.create(user=user)
        meeting = Meeting.objects.create(
            agent=agents[name],
            person=known.person,
            conversation=known,
            dialogue=other_dialogue,
            email="known@client.example",
            starts_at=at + datetime.timedelta(days=2),
            ends_at=at + datetime.timedelta(days=2, minutes=30),
            status=status,
        )
        Meeting.objects.filter(pk=meeting.pk).update(created_at=at)

    rollup_day(day(2))
    rollup_day(day(1))
    # Early enough today that "today" has begun whenever the suite runs.
    engage(simple, simple.visitor(), days_ago(0, 0, 1))
    return {"simple": simple_dialogue, "other": other_dialogue, "agents": agents}


# ---- numbers -----------------------------------------------------------------------------------


def test_dialogues_report_counts_rollups_and_today(admin_client, data):
    response = admin_client.get(url("dialogues"))
    assert response.status_code == 200
    rows = table(response)
    assert rows[0] == [
        "Dialogue",
        "Triggered",
        "Engaged",
        "Completed",
        "People acquired",
        "Meetings booked",
        "Goals reached",
        "Engagement rate",
        "Conversion rate",
    ]
    assert rows[1:] == [
        ["Simple", "3", "2", "1", "1", "0", "1", "66.7%", "50.0%"],
        ["Other", "1", "1", "0", "0", "2", "2", "100.0%", "0.0%"],
    ]


def test_a_dialogue_links_to_its_report_with_the_same_filters(admin_client, data):
    response = admin_client.get(url("dialogues", range="7d", visitors="known"))
    expected = reverse(
        "wagtail_dynchat_dialogue_report:index", args=[data["simple"].translation_key]
    )
    assert link(response, "Simple") == f"{expected}?range=7d&visitors=known"


def test_days_report_lists_every_day_newest_first(admin_client, data):
    response = admin_client.get(url("days", range="7d"))
    rows = table(response)[1:]
    assert len(rows) == 7
    assert [row[1] for row in rows] == ["1", "1", "2", "0", "0", "0", "0"]
    assert rows[2][-2:] == ["50.0%", "100.0%"]
    # Days with nothing triggered have no rate.
    assert rows[3][-2:] == ["—", "—"]
    # A day leads to the dialogues of that day.
    two_days_ago = day(2).isoformat()
    assert link(response, rows[2][0]) == url(
        "dialogues", range="custom", start=two_days_ago, end=two_days_ago
    )


def test_pages_report_links_pages_to_their_editor(admin_client, data, pages):
    response = admin_client.get(url("pages"))
    rows = table(response)
    assert rows[0][:4] == ["Page", "URL", "Triggered", "Engaged"]
    assert [row[:4] for row in rows[1:]] == [
        [pages["pricing"].title, pages["pricing"].url, "3", "2"],
        [pages["contact"].title, pages["contact"].url, "1", "1"],
    ]
    edit = reverse("wagtailadmin_pages:edit", args=[pages["contact"].pk])
    assert link(response, pages["contact"].title) == edit


def test_goals_and_agents_reports(admin_client, data):
    goals = table(admin_client.get(url("goals")))
    assert goals == [["Goal", "Times reached"], ["Demo", "2"], ["Lead", "1"]]
    agents = table(admin_client.get(url("agents")))
    assert agents == [
        ["Agent", "Meetings booked", "Meetings cancelled"],
        [str(data["agents"]["ada"]), "1", "0"],
        [str(data["agents"]["bob"]), "1", "1"],
    ]


def test_columns_sort(admin_client, data):
    response = admin_client.get(url("dialogues", ordering="-meetings_booked"))
    assert list(rows_by_first_cell(response)) == ["Other", "Simple"]
    response = admin_client.get(url("goals", ordering="goal"))
    assert list(rows_by_first_cell(response)) == ["Demo", "Lead"]


# ---- filters -----------------------------------------------------------------------------------


def test_range_presets_and_custom_range_change_the_rows(admin_client, data):
    today = rows_by_first_cell(admin_client.get(url("dialogues", range="today")))
    assert today == {"Simple": ["1", "1", "0", "0", "0", "0", "100.0%", "0.0%"]}
    one_day = day(2).isoformat()
    custom = admin_client.get(url("dialogues", range="custom", start=one_day, end=one_day))
    assert rows_by_first_cell(custom) == {
        "Simple": ["2", "1", "1", "1", "0", "1", "50.0%", "100.0%"]
    }
    assert table(admin_client.get(url("goals", range="today"))) == []
    assert len(table(admin_client.get(url("days", range="90d")))) == 1 + 50  # first page


def test_dialogue_visitors_and_page_filters(admin_client, data, pages):
    other = admin_client.get(url("goals", dialogue=data["other"].translation_key))
    assert rows_by_first_cell(other) == {"Demo": ["2"]}
    anonymous = rows_by_first_cell(admin_client.get(url("dialogues", visitors="anonymous")))
    assert {name: row[0] for name, row in anonymous.items()} == {"Simple": "2"}
    known = rows_by_first_cell(admin_client.get(url("dialogues", visitors="known")))
    assert {name: row[0] for name, row in known.items()} == {"Simple": "1", "Other": "1"}
    contact = rows_by_first_cell(admin_client.get(url("dialogues", page=pages["contact"].pk)))
    assert list(contact) == ["Other"]


def test_site_and_locale_filters(admin_client, data, pages):
    default_site = Site.objects.get(is_default_site=True)
    other_site = Site.objects.create(hostname="other.example", root_page=pages["contact"])
    assert len(table(admin_client.get(url("dialogues", site=default_site.pk)))) == 3
    response = admin_client.get(url("dialogues", site=other_site.pk))
    assert response.status_code == 200
    assert table(response) == []
    assert b"There are no results." in response.content
    german = Locale.objects.create(language_code="de")
    assert table(admin_client.get(url("dialogues", locale=german.pk))) == []
    english = Locale.get_default()
    assert len(table(admin_client.get(url("dialogues", locale=english.pk)))) == 3


def test_filters_use_wagtails_filter_ui(admin_client, data):
    response = admin_client.get(url("dialogues", range="7d", visitors="known"))
    soup = WagtailTestUtils.get_soup(response.content)
    drilldown = soup.select_one("#filters-drilldown")
    labels = [button.get_text(strip=True) for button in drilldown.select(".w-drilldown__toggle")]
    assert labels == [
        "Date range",
        "From",
        "To",
        "Dialogue",
        "Site",
        "Language",
        "Visitors",
        "Page",
    ]
    pills = [pill.get_text(" ", strip=True) for pill in soup.select(".w-active-filters .w-pill")]
    assert pills == ["Date range: Last 7 days", "Visitors: Known visitors"]
    # The filters' form posts to the results-only view, which renders the table alone.
    form = soup.select_one("form[data-search-form]")
    assert form["action"] == url("dialogues_results")
    results = admin_client.get(url("dialogues_results", range="7d"))
    assert results.status_code == 200
    assert b"<html" not in results.content
    assert rows_by_first_cell(results)


@pytest.mark.parametrize(
    "query, message",
    [
        ({"range": "1y"}, "Date range: Select a valid choice"),
        ({"range": "custom", "start": "2026-02-05"}, "To: Enter a date for a custom range."),
        (
            {"range": "custom", "start": "2026-02-05", "end": "2026-02-01"},
            "The start date must not be after the end date.",
        ),
        ({"range": "custom", "start": "2020-01-01", "end": "2026-01-01"}, "at most 731 days"),
        ({"range": "custom", "start": "2026-02-05", "end": "2099-01-01"}, "in the future"),
        ({"start": "yesterday"}, "From: Enter a valid date."),
        ({"visitors": "robots"}, "Visitors: Select a valid choice"),
        ({"site": "abc"}, "Site: Select a valid choice"),
        ({"dialogue": "not-a-uuid"}, "Dialogue: Select a valid choice"),
        ({"page": "999999"}, "Page: Select a valid choice"),
    ],
)
def test_invalid_filters_say_what_is_wrong(admin_client, query, message):
    for name in REPORTS:
        response = admin_client.get(url(name, **query))
        assert response.status_code == 400
        assert any(message in error for error in errors(response)), errors(response)
        assert table(response) == []
    # Wagtail's filter UI swaps in the results only when they are a success.
    response = admin_client.get(url("dialogues_results", **query))
    assert response.status_code == 200
    assert any(message in error for error in errors(response))
    # An export of invalid filters is the page saying why, not a file.
    response = admin_client.get(url("days", export="csv", **query))
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# ---- exports -----------------------------------------------------------------------------------


def test_csv_export_holds_every_row_of_the_range(admin_client, data):
    response = admin_client.get(url("days", range="90d", export="csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    first, last = day(89).isoformat(), day(0).isoformat()
    assert f'filename="chat-days-{first}-{last}.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == [
        "Day",
        "Triggered",
        "Engaged",
        "Completed",
        "People acquired",
        "Meetings booked",
        "Goals reached",
        "Engagement rate",
        "Conversion rate",
    ]
    assert len(rows) == 1 + 90  # not one page of 50
    by_day = {row[0]: row[1:] for row in rows[1:]}
    assert by_day[day(2).isoformat()] == ["2", "1", "1", "1", "0", "1", "0.5", "1.0"]
    assert by_day[day(0).isoformat()][:2] == ["1", "1"]
    # Rates are numbers; a day without a denominator has an empty rate.
    assert by_day[day(10).isoformat()] == ["0", "0", "0", "0", "0", "0", "", ""]


def test_csv_export_follows_the_filters(admin_client, data, pages):
    response = admin_client.get(url("pages", range="today", export="csv"))
    rows = csv_rows(response)
    assert rows[0][:3] == ["Page ID", "Page", "URL"]
    assert [row[:5] for row in rows[1:]] == [
        [str(pages["pricing"].pk), pages["pricing"].title, pages["pricing"].url, "1", "1"]
    ]
    goals = csv_rows(admin_client.get(url("goals", export="csv")))
    assert goals == [["Goal", "Times reached"], ["Demo", "2"], ["Lead", "1"]]
    agents = csv_rows(admin_client.get(url("agents", export="csv")))
    assert agents[0] == ["Agent", "Meetings booked", "Meetings cancelled"]
    assert agents[1:] == [
        [str(data["agents"]["ada"]), "1", "0"],
        [str(data["agents"]["bob"]), "1", "1"],
    ]


def test_xlsx_export_holds_the_rows(admin_client, data):
    response = admin_client.get(url("dialogues", export="xlsx"))
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "Dialogue" and rows[0][-1] == "Conversion rate"
    assert rows[1:] == [
        ["Simple", 3, 2, 1, 1, 0, 1, 0.6667, 0.5],
        ["Other", 1, 1, 0, 0, 2, 2, 1.0, 0.0],
    ]
    # Rates are numbers shown as percentages.
    assert sheet.cell(row=2, column=8).number_format == "0.0%"
    days = admin_client.get(url("days", range="90d", export="xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(days.streaming_content))).active
    assert sheet.max_row == 1 + 90


def test_the_page_offers_both_exports_with_its_filters(admin_client, data):
    response = admin_client.get(url("goals", range="7d"))
    soup = WagtailTestUtils.get_soup(response.content)
    hrefs = {a.get_text(strip=True): a["href"] for a in soup.select("a[href*='export=']")}
    assert hrefs == {
        "Download XLSX": url("goals", range="7d", export="xlsx"),
        "Download CSV": url("goals", range="7d", export="csv"),
    }


# ---- permissions -------------------------------------------------------------------------------


def test_without_the_permission_every_report_and_export_is_refused(data):
    client = make_user("editor")
    for name in REPORTS:
        for address in (
            url(name),
            url(f"{name}_results"),
            url(name, export="csv"),
            url(name, export="xlsx"),
        ):
            response = client.get(address)
            assert response.status_code == 403, address
            assert b"Simple" not in response.content
    assert chat_reports_menu(client.get(reverse("wagtailadmin_home"))) == []


def test_the_permission_alone_shows_and_opens_the_reports(data):
    client = make_user("analyst", "view_reports")
    menu = chat_reports_menu(client.get(reverse("wagtailadmin_home")))
    assert menu == [
        ("Chat: dialogues", url("dialogues")),
        ("Chat: days", url("days")),
        ("Chat: pages", url("pages")),
        ("Chat: goals", url("goals")),
        ("Chat: meetings by agent", url("agents")),
    ]
    for name in REPORTS:
        assert client.get(url(name)).status_code == 200
        assert client.get(url(name, export="csv")).status_code == 200
    assert list(rows_by_first_cell(client.get(url("dialogues")))) == ["Simple", "Other"]


def test_the_reports_sit_together_in_wagtails_reports_menu(admin_client, data):
    soup = WagtailTestUtils.get_soup(admin_client.get(reverse("wagtailadmin_home")).content)
    props = json.loads(soup.select_one("#wagtail-sidebar-props").text)
    module = next(m for m in props["modules"] if m["_type"] == "wagtail.sidebar.MainMenuModule")
    reports = next(item for item in module["_args"][0] if item["_args"][0]["name"] == "reports")
    labels = [child["_args"][0]["label"] for child in reports["_args"][1]]
    ours = [index for index, label in enumerate(labels) if label.startswith("Chat: ")]
    assert len(ours) == len(REPORTS)
    assert ours == list(range(ours[0], ours[0] + len(REPORTS)))


# ---- escaping ----------------------------------------------------------------------------------


def test_names_and_titles_are_escaped(admin_client, data, pages):
    data["other"].name = SCRIPT
    data["other"].save()
    pages["contact"].title = SCRIPT
    pages["contact"].save()
    story = Story(data["simple"], pages["contact"])
    conversation = story.conversation(story.visitor(), at=days_ago(0, 0, 1))
    story.event(conversation, "triggered", at=days_ago(0, 0, 1))
    story.event(conversation, "goal", at=days_ago(0, 0, 1), data={"name": SCRIPT})
    for name in ("dialogues", "pages", "goals"):
        response = admin_client.get(url(name))
        assert response.status_code == 200
        assert SCRIPT.encode() not in response.content
        assert SCRIPT in rows_by_first_cell(response)
