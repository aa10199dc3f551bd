"""The chat dashboard and its home page panel, through the admin as a user sees them: headline
figures of rolled-up days plus today's live events, filters, the chart and its table, the top
lists, readable errors, permissions and a fixed number of queries."""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format
from wagtail.models import Locale, Site
from wagtail.test.utils import WagtailTestUtils

from wagtail_dynchat.models import Conversation, Meeting
from wagtail_dynchat.reports.rollup import local_today, rollup_day

from ..conftest import SIMPLE_FLOW, make_dialogue
from .builders import Story, book, card_ids, days_ago, make_agent, make_user

pytestmark = pytest.mark.django_db

COMPLETED = Conversation.STATUS_COMPLETED
SCRIPT = '<script>alert("x")</script>'
DASHBOARD = "wagtail_dynchat_dashboard:index"


def dashboard(client, **query):
    return client.get(reverse(DASHBOARD), query)


def day(days):
    return local_today() - datetime.timedelta(days=days)


def soup_of(response):
    return WagtailTestUtils.get_soup(response.content)


def figures(response):
    """The headline figures as ``{key: text}``."""
    return {
        item["data-figure"]: item.select_one(".dynchat-figures__value").get_text(strip=True)
        for item in soup_of(response).select("[data-figure]")
    }


def section(response, name):
    """A top list's rows as lists of cell texts (header row left out)."""
    found = soup_of(response).select_one(f"[data-dashboard-section={name}] tbody")
    if found is None:
        return []
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("th, td")]
        for row in found.select("tr")
    ]


def errors(response):
    return [
        item.get_text(strip=True) for item in soup_of(response).select("[data-dashboard-errors] li")
    ]


def menu_items(response):
    """Every item of the sidebar's main menu and its submenus as (label, url) pairs."""
    props = json.loads(soup_of(response).select_one("#wagtail-sidebar-props").text)
    module = next(m for m in props["modules"] if m["_type"] == "wagtail.sidebar.MainMenuModule")

    def walk(items):
        for item in items:
            yield item["_args"][0]["label"], item["_args"][0].get("url")
            if item["_type"] == "wagtail.sidebar.SubMenuItem":
                yield from walk(item["_args"][1])

    return list(walk(module["_args"][0]))


def engage(story, visitor, at, question, **kwargs):
    conversation = story.conversation(visitor, at=at, engaged=True, **kwargs)
    story.event(conversation, "triggered", at=at)
    story.event(conversation, "engaged", card=question, at=at)
    return conversation


@pytest.fixture
def data(simple_dialogue, pages):
    """Two rolled-up days and today's live events, on two dialogues, two pages, two agents.

    - two days ago, "Simple" on pricing: a visitor answers, gives a new e-mail, reaches "Lead"
      and completes; an anonymous visitor only sees it;
    - yesterday, "Other" on contact: a known visitor answers, reaches "Demo" twice and books a
      meeting with Ada and one with Bob, which is cancelled;
    - today (live), "Simple" on pricing: an anonymous visitor answers.

    Totals: triggered 4, engaged 3, completed 1, people acquired 1, meetings 2, goals 3.
    """
    cards = card_ids(simple_dialogue)
    question, email, goal = cards["question"][0], cards["capture"][0], cards["goal"][0]
    simple = Story(simple_dialogue, pages["pricing"])
    other_dialogue = make_dialogue(SIMPLE_FLOW, name="Other")
    other = Story(other_dialogue, pages["contact"])

    at = days_ago(2, 9)
    first = engage(simple, simple.visitor("new@client.example"), at, question, status=COMPLETED)
    new = {"field": "email", "value": "new@client.example", "new": True}
    simple.event(first, "captured", card=email, at=at, data=new)
    simple.event(first, "goal", card=goal, at=at, data={"name": "Lead"})
    simple.event(first, "completed", at=at)
    shown = simple.conversation(simple.visitor(), at=days_ago(2, 10))
    simple.event(shown, "triggered", at=days_ago(2, 10))

    at = days_ago(1, 9)
    known = engage(other, other.visitor("known@client.example"), at, question)
    for _ in range(2):
        other.event(known, "goal", card=goal, at=at, data={"name": "Demo"})
    agents = {"ada": make_agent("ada"), "bob": make_agent("bob")}
    book(known, agents["ada"], at=at)
    book(known, agents["bob"], at=at, status=Meeting.CANCELLED)

    rollup_day(day(2))
    rollup_day(day(1))
    # Early enough today that "today" has begun whenever the suite runs.
    engage(simple, simple.visitor(), days_ago(0, 0, 1), question)
    return {
        "simple": simple_dialogue,
        "other": other_dialogue,
        "agents": agents,
        "cards": cards,
        "stories": (simple, other),
    }


ALL = {
    "triggered": "4",
    "engaged": "3",
    "completed": "1",
    "people_acquired": "1",
    "meetings_booked": "2",
    "goals_reached": "3",
    "engagement_rate": "75.0%",
    "conversion_rate": "33.3%",
}


# ---- numbers -----------------------------------------------------------------------------------


def test_the_dashboard_shows_the_headline_figures(admin_client, data):
    response = dashboard(admin_client)
    assert response.status_code == 200
    assert figures(response) == ALL
    soup = soup_of(response)
    labels = [term.get_text(strip=True) for term in soup.select(".dynchat-figures dt")]
    assert labels == [
        "Total triggered",
        "Engaged",
        "Completed",
        "People acquired",
        "Meetings booked",
        "Goals reached",
        "Engagement rate",
        "Conversion rate",
    ]
    range_label = soup.select_one("[data-dashboard-range]").get_text(strip=True)
    assert range_label == f"{date_format(day(29))} to {date_format(local_today())}"


def test_the_top_lists(admin_client, data, pages):
    response = dashboard(admin_client)
    assert section(response, "dialogues") == [
        ["Simple", "3", "2", "1", "1", "0", "66.7%", "50.0%"],
        ["Other", "1", "1", "0", "0", "2", "100.0%", "0.0%"],
    ]
    assert section(response, "pages") == [
        [
            pages["pricing"].title,
            "2",
            "3",
            "1",
            "66.7%",
            f"View live : {pages['pricing'].title} (opens in a new tab)",
        ],
        [
            pages["contact"].title,
            "1",
            "1",
            "0",
            "100.0%",
            f"View live : {pages['contact'].title} (opens in a new tab)",
        ],
    ]
    assert section(response, "agents") == [
        [str(data["agents"]["ada"]), "1", "0"],
        [str(data["agents"]["bob"]), "1", "1"],
    ]
    assert section(response, "goals") == [["Demo", "2"], ["Lead", "1"]]
    soup = soup_of(response)
    link = soup.find("a", string=pages["contact"].title)
    assert link["href"] == reverse("wagtailadmin_pages:edit", args=[pages["contact"].pk])
    live = soup.select_one("[data-dashboard-section=pages] a[target=_blank]")
    assert live["href"] == pages["pricing"].url


def test_dialogues_link_to_their_report_with_the_same_filters(admin_client, data):
    response = dashboard(admin_client, range="7d", visitors="known")
    soup = soup_of(response)
    link = soup.find("a", string="Other")
    report = reverse("wagtail_dynchat_dialogue_report:index", args=[data["other"].translation_key])
    assert link["href"] == f"{report}?range=7d&visitors=known"
    # Chosen in the filters, the dialogue is dropped from its own report's link.
    response = dashboard(admin_client, range="7d", dialogue=data["other"].translation_key)
    link = soup_of(response).find("a", string="Other")
    assert link["href"] == f"{report}?range=7d"
    all_dialogues = soup.find("a", string="All dialogues")
    assert all_dialogues["href"] == (
        reverse("wagtail_dynchat_reports:dialogues") + "?range=7d&visitors=known"
    )


# ---- filters -----------------------------------------------------------------------------------


def test_the_date_range_changes_the_figures(admin_client, data):
    assert figures(dashboard(admin_client, range="7d")) == ALL
    today = figures(dashboard(admin_client, range="today"))
    assert today == {
        "triggered": "1",
        "engaged": "1",
        "completed": "0",
        "people_acquired": "0",
        "meetings_booked": "0",
        "goals_reached": "0",
        "engagement_rate": "100.0%",
        "conversion_rate": "0.0%",
    }
    one_day = day(2).isoformat()
    custom = figures(dashboard(admin_client, range="custom", start=one_day, end=one_day))
    assert (custom["triggered"], custom["people_acquired"], custom["goals_reached"]) == (
        "2",
        "1",
        "1",
    )


def test_dialogue_visitors_and_page_filters(admin_client, data, pages):
    other = figures(dashboard(admin_client, dialogue=data["other"].translation_key))
    assert (other["triggered"], other["meetings_booked"], other["goals_reached"]) == ("1", "2", "2")
    known = figures(dashboard(admin_client, visitors="known"))
    assert (known["triggered"], known["engaged"], known["people_acquired"]) == ("2", "2", "1")
    anonymous = figures(dashboard(admin_client, visitors="anonymous"))
    assert (anonymous["triggered"], anonymous["engaged"], anonymous["engagement_rate"]) == (
        "2",
        "1",
        "50.0%",
    )
    response = dashboard(admin_client, page=pages["contact"].pk)
    assert figures(response)["triggered"] == "1"
    assert [row[0] for row in section(response, "dialogues")] == ["Other"]


def test_site_and_locale_filters(admin_client, data, pages):
    default_site = Site.objects.get(is_default_site=True)
    assert figures(dashboard(admin_client, site=default_site.pk)) == ALL
    other_site = Site.objects.create(hostname="other.example", root_page=pages["contact"])
    response = dashboard(admin_client, site=other_site.pk)
    assert response.status_code == 200
    assert figures(response)["triggered"] == "0"
    assert soup_of(response).select_one("[data-dashboard-empty]") is not None
    english = Locale.objects.get(language_code="en")
    assert figures(dashboard(admin_client, locale=english.pk)) == ALL
    german = Locale.objects.create(language_code="de")
    assert figures(dashboard(admin_client, locale=german.pk))["triggered"] == "0"


def test_the_filter_form_shows_the_chosen_filters(admin_client, data):
    soup = soup_of(dashboard(admin_client))
    assert soup.select_one("select[name=range] option[selected]")["value"] == "30d"
    options = [
        option.get_text(strip=True) for option in soup.select("select[name=dialogue] option")
    ]
    assert options == ["All dialogues", "Other", "Simple"]
    soup = soup_of(dashboard(admin_client, range="7d", visitors="anonymous"))
    assert soup.select_one("select[name=range] option[selected]")["value"] == "7d"
    assert soup.select_one("select[name=visitors] option[selected]")["value"] == "anonymous"


@pytest.mark.parametrize(
    "query, message",
    [
        ({"range": "custom"}, "Enter a date for a custom range."),
        ({"range": "custom", "start": "2026-02-05", "end": "2026-02-01"}, "must not be after"),
        ({"range": "custom", "start": "2026-02-05", "end": "2999-01-01"}, "in the future"),
        ({"range": "custom", "start": "2020-01-01", "end": "2024-01-01"}, "at most 731 days"),
        ({"range": "custom", "start": "yesterday", "end": "2026-02-01"}, "Enter a valid date"),
        ({"range": "1y"}, "Select a valid choice"),
        ({"dialogue": "not-a-uuid"}, "Select a valid choice"),
        ({"site": "abc"}, "Select a valid choice"),
        ({"locale": "99999"}, "Select a valid choice"),
        ({"visitors": "robots"}, "Select a valid choice"),
        ({"page": "-1"}, "Select a valid choice"),
    ],
)
def test_invalid_filters_say_what_is_wrong(admin_client, data, query, message):
    response = dashboard(admin_client, **query)
    assert response.status_code == 400
    assert any(message in error for error in errors(response)), errors(response)
    # No figures for filters that mean nothing; the form is still there to fix them.
    assert figures(response) == {}
    assert soup_of(response).select_one("form select[name=range]") is not None


# ---- chart and coverage ------------------------------------------------------------------------


def test_the_chart_is_an_image_with_a_description_and_a_table(admin_client, data):
    soup = soup_of(dashboard(admin_client, range="7d"))
    svg = soup.select_one("svg[role=img]")
    title = svg.find("title")
    desc = svg.find("desc")
    assert svg["aria-labelledby"] == title["id"]
    assert svg["aria-describedby"] == desc["id"]
    assert title.get_text() == "Conversations per day"
    assert "Triggered 4 in total" in desc.get_text()
    assert "Meetings booked 2 in total" in desc.get_text()
    table = soup.select_one("[data-chart-table]")
    header = [cell.get_text(strip=True) for cell in table.select("thead th")]
    assert header == [
        "Day",
        "Triggered",
        "Engaged",
        "Completed",
        "People acquired",
        "Meetings booked",
    ]
    body = {
        row.select_one("time")["datetime"]: [cell.get_text(strip=True) for cell in row.select("td")]
        for row in table.select("tbody tr")
    }
    assert len(body) == 7
    assert body[day(2).isoformat()] == ["2", "1", "1", "1", "0"]
    assert body[day(1).isoformat()] == ["1", "1", "0", "0", "2"]
    assert body[local_today().isoformat()] == ["1", "1", "0", "0", "0"]
    totals = [cell.get_text(strip=True) for cell in table.select("tfoot td")]
    assert totals == ["4", "3", "1", "1", "2"]


def test_days_never_rolled_up_are_pointed_out(admin_client, data):
    # Of the 6 past days of the last 7, two were rolled up.
    notice = soup_of(dashboard(admin_client, range="7d")).select_one(
        "[data-dashboard-missing-days]"
    )
    assert notice.get_text(strip=True) == "4 days have not been rolled up yet; run dynchat_rollup."
    for days in (3, 4, 5):
        rollup_day(day(days))
    notice = soup_of(dashboard(admin_client, range="7d")).select_one(
        "[data-dashboard-missing-days]"
    )
    assert notice.get_text(strip=True) == "1 day has not been rolled up yet; run dynchat_rollup."
    rollup_day(day(6))
    response = dashboard(admin_client, range="7d")
    assert soup_of(response).select_one("[data-dashboard-missing-days]") is None


def test_without_data_the_dashboard_says_so(admin_client, pages):
    response = dashboard(admin_client)
    assert response.status_code == 200
    soup = soup_of(response)
    assert soup.select_one("[data-dashboard-empty]") is not None
    assert soup.select_one("svg[role=img]") is None
    assert figures(response)["triggered"] == "0"
    assert figures(response)["engagement_rate"] == "—"


# ---- escaping ----------------------------------------------------------------------------------


def test_names_and_titles_are_escaped(admin_client, data, pages):
    data["other"].name = SCRIPT
    data["other"].save()
    pages["contact"].title = SCRIPT
    pages["contact"].save_revision().publish()
    simple, _other = data["stories"]
    conversation = simple.conversation(simple.visitor(), at=days_ago(0, 0, 2))
    simple.event(
        conversation,
        "goal",
        card=data["cards"]["goal"][0],
        at=days_ago(0, 0, 2),
        data={"name": SCRIPT},
    )
    agent = data["agents"]["ada"]
    agent.user.first_name = SCRIPT
    agent.user.save()
    response = dashboard(admin_client)
    content = response.content.decode()
    assert SCRIPT not in content
    assert "&lt;script&gt;" in content
    assert SCRIPT in [row[0] for row in section(response, "dialogues")]
    assert SCRIPT in [row[0] for row in section(response, "pages")]
    assert SCRIPT in [row[0] for row in section(response, "goals")]
    assert any(SCRIPT in row[0] for row in section(response, "agents"))


# ---- permissions, menu and home page -----------------------------------------------------------


def test_without_the_permission_the_dashboard_is_refused_and_hidden(data):
    client = make_user("editor")
    response = dashboard(client)
    assert response.status_code == 403
    assert "view chat reports" in response.content.decode()
    assert figures(response) == {}
    home = client.get(reverse("wagtailadmin_home"))
    assert home.status_code == 200
    assert "Dashboard" not in [label for label, _url in menu_items(home)]
    soup = soup_of(home)
    assert soup.select_one("#dynchat-reports-section") is None
    assert soup.select_one("[data-dynchat-summary]") is None


def test_the_permission_alone_shows_the_dashboard_menu_panel_and_summary(data):
    client = make_user("analyst", "view_reports")
    assert dashboard(client).status_code == 200
    home = client.get(reverse("wagtailadmin_home"))
    assert ("Dashboard", reverse(DASHBOARD)) in menu_items(home)
    soup = soup_of(home)
    panel = soup.select_one("#dynchat-reports-section")
    panel_figures = {
        item["data-figure"]: item.select_one(".dynchat-figures__value").get_text(strip=True)
        for item in panel.select("[data-figure]")
    }
    assert panel_figures == {
        "triggered": "4",
        "engaged": "3",
        "people_acquired": "1",
        "meetings_booked": "2",
        "engagement_rate": "75.0%",
    }
    assert panel.select_one("svg[role=img] title").get_text() == (
        "Conversations per day, last 7 days"
    )
    assert len(panel.select("[data-chart-table] tbody tr")) == 7
    assert panel.select_one("[data-dashboard-link]")["href"] == reverse(DASHBOARD) + "?range=7d"
    summary = soup.select_one("[data-dynchat-summary] a")
    assert re.sub(r"\s+", " ", summary.get_text(" ", strip=True)) == (
        "1 person acquired by the chat in the last 7 days"
    )
    assert summary["href"] == reverse(DASHBOARD) + "?range=7d"


def test_the_dashboard_comes_before_conversations_in_the_menu(admin_client, data):
    labels = [label for label, _url in menu_items(admin_client.get(reverse(DASHBOARD)))]
    assert labels.index("Dialogues") < labels.index("Dashboard") < labels.index("Conversations")


def test_the_home_page_reads_the_figures_once(admin_client, data, monkeypatch):
    from wagtail_dynchat.admin import report_home

    reports = []

    class CountedReport(report_home.Report):
        def __init__(self, *args, **kwargs):
            reports.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(report_home, "Report", CountedReport)
    response = admin_client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    # The panel and the summary share one report.
    assert len(reports) == 1


# ---- queries -----------------------------------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_rows(
    admin_client, data, pages, settings, django_assert_max_num_queries
):
    # Today computed afresh by every request, so its queries are counted too.
    settings.WAGTAIL_DYNCHAT = {**settings.WAGTAIL_DYNCHAT, "REPORT_LIVE_CACHE_SECONDS": 0}
    dashboard(admin_client)  # warm up caches (site root paths, content types)
    with CaptureQueriesContext(connection) as baseline:
        assert dashboard(admin_client).status_code == 200
    # Three more dialogues on three more pages with three more agents, yesterday and today.
    question = data["cards"]["question"][0]
    for index, page in enumerate(pages["posts"][:3]):
        dialogue = make_dialogue(SIMPLE_FLOW, name=f"Extra {index}")
        story = Story(dialogue, page)
        for days in (1, 0):
            conversation = engage(
                story,
                story.visitor(f"x{index}{days}@client.example"),
                days_ago(days, 0, 5),
                question,
            )
            story.event(
                conversation,
                "goal",
                card=data["cards"]["goal"][0],
                at=days_ago(days, 0, 5),
                data={"name": f"Goal {index}"},
            )
            book(conversation, make_agent(f"agent{index}{days}"), at=days_ago(days, 0, 5))
    rollup_day(day(1))
    with django_assert_max_num_queries(len(baseline)):
        response = dashboard(admin_client)
    assert len(section(response, "dialogues")) == 5
    assert len(section(response, "pages")) == 5
    assert len(section(response, "agents")) == 8
    assert len(section(response, "goals")) == 5
