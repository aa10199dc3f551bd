"""A dialogue's report through the admin: totals, goals, the funnel on the flow (SVG) and as a
table, filters, CSV/XLSX exports, permissions and the "Report" buttons.

Events are hand-built (tests/reports/builders.py) and yesterday is rolled up, as the nightly
task does; the page reads the rollups through the reports query API.
"""

import csv
import datetime
import io
import uuid

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import Locale
from wagtail.test.utils import WagtailTestUtils

from wagtail_dynchat.models import Conversation
from wagtail_dynchat.reports.rollup import local_today, rollup_day
from wagtail_dynchat.snippets.blueprints import branch, capture, goal, message, question

from ..conftest import make_dialogue
from .builders import Story, card_ids, days_ago, make_user

pytestmark = pytest.mark.django_db

COMPLETED = Conversation.STATUS_COMPLETED
YES = "Yes <script>alert('choice')</script>"
SNIPPETS = "wagtailsnippets_wagtail_dynchat_dialogue"

FLOW = [
    branch(
        "start",
        "Opening",
        message("<p>Hello!</p>"),
        question(
            "<p>Can we help with &lt;script&gt;alert('card')&lt;/script&gt;?</p>",
            [(YES, "yes", "help"), ("No", "no", "bye")],
        ),
    ),
    branch(
        "help",
        "Helps",
        capture("email", "<p>Your e-mail?</p>", "email"),
        goal("Lead", 2),
        message("<p>Thanks!</p>"),
    ),
    branch("bye", "Leaves", message("<p>Bye!</p>")),
]


def report_url(dialogue, **params):
    url = reverse("wagtail_dynchat_dialogue_report:index", args=[dialogue.translation_key])
    if params:
        url += "?" + "&".join(f"{name}={value}" for name, value in params.items())
    return url


def soup(response):
    return WagtailTestUtils.get_soup(response.content)


@pytest.fixture
def dialogue(pages):
    return make_dialogue(FLOW, name="Help desk", targets=[(pages["pricing"], "page")])


@pytest.fixture
def cards(dialogue):
    ids = card_ids(dialogue)
    return {"q": ids["question"][0], "email": ids["capture"][0], "goal": ids["goal"][0]}


def visit(story, cards, days, *, answer=None, email=None, known=None, stop_at=None, hour=9):
    """One conversation ``days`` ago: answers the question (``"yes"``/``"no"``), gives an
    e-mail, reaches the goal and completes, or waits at ``stop_at`` (and is dropped there)."""

    def at(minute):
        return days_ago(days, hour, minute)

    visitor = story.visitor(known)
    waiting = stop_at and cards[stop_at]
    conversation = story.conversation(
        visitor,
        at=at(0),
        status=Conversation.STATUS_ACTIVE if stop_at else COMPLETED,
        awaiting=waiting,
        engaged=answer is not None,
    )
    story.event(conversation, "triggered", at=at(0))
    if answer is None:
        return conversation
    label = YES if answer == "yes" else "No"
    story.event(conversation, "engaged", card=cards["q"], at=at(1))
    story.event(
        conversation,
        "answered",
        card=cards["q"],
        at=at(1),
        data={"value": answer, "label": label},
    )
    if stop_at == "email" or answer == "no":
        if answer == "no":
            story.event(conversation, "completed", at=at(2))
        return conversation
    new = {"field": "email", "value": email, "new": True}
    story.event(conversation, "captured", card=cards["email"], at=at(2), data=new)
    story.event(conversation, "answered", card=cards["email"], at=at(2), data={"value": email})
    story.event(conversation, "goal", card=cards["goal"], at=at(3), data={"name": "Lead"})
    story.event(conversation, "completed", at=at(3))
    return conversation


def roll_up(*days):
    for days_back in days:
        rollup_day(local_today() - datetime.timedelta(days=days_back))


@pytest.fixture
def traffic(dialogue, cards, pages):
    """Yesterday: four conversations (see the figures in the tests); 20 days ago: one more."""
    story = Story(dialogue, pages["pricing"])
    first = visit(story, cards, 1, answer="yes", email="ada@client.example")
    first.person.email = "ada@client.example"
    first.person.save()
    visit(story, cards, 1, stop_at="q", hour=10)
    visit(story, cards, 1, answer="no", known="bob@client.example", hour=11)
    visit(story, cards, 1, answer="yes", stop_at="email", hour=12)
    visit(story, cards, 20, answer="no", known="cy@client.example")
    roll_up(1, 20)
    return story


def table_row(page, card):
    row = page.select_one(f'table[data-funnel] tr[data-card="{card}"]:not([data-choice])')
    return {cell["data-col"]: cell.get_text(strip=True) for cell in row.select("td[data-col]")}


def choice_rows(page, card):
    return {
        row["data-choice"]: (
            row.select_one('td[data-col="count"]').get_text(strip=True),
            row.select_one('td[data-col="share"]').get_text(strip=True),
        )
        for row in page.select(f'table[data-funnel] tr[data-card="{card}"][data-choice]')
    }


def svg_card(page, card):
    group = page.select_one(f'svg[role="img"] g[data-card="{card}"]')
    return {
        "reached": group.select_one("text.dynchat-flow-reached").get_text(),
        "numbers": group.select_one("text.dynchat-flow-numbers").get_text(),
        "ports": [
            (
                port.select_one("text.dynchat-flow-port-label").get_text(),
                port.select_one("text.dynchat-flow-port-count").get_text(),
            )
            for port in group.select("g.dynchat-flow-port")
        ],
    }


# ---- numbers ----------------------------------------------------------------------------------


def test_the_page_shows_the_funnel_in_the_picture_and_the_table(admin_client, traffic, cards):
    response = admin_client.get(report_url(traffic.dialogue, range="7d"))
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("title").get_text().startswith("Report: Help desk")
    # Breadcrumbs lead back to the dashboard and the dialogues' report, filters kept.
    dashboard = reverse("wagtail_dynchat_dashboard:index")
    dialogues = reverse("wagtail_dynchat_reports:dialogues")
    assert page.select_one(f'a[href="{dashboard}?range=7d"]') is not None
    assert page.select_one(f'a[href="{dialogues}?range=7d"]') is not None

    figures = {
        item["data-figure"]: item.select_one("dd").get_text()
        for item in page.select("[data-figure]")
    }
    assert figures["triggered"] == "4"
    assert figures["engaged"] == "3"
    assert figures["completed"] == "2"
    assert figures["engagement_rate"] == "75.0%"
    assert [
        (row.th.get_text(strip=True), row.td.get_text(strip=True))
        for row in page.select("table[data-goals] tbody tr")
    ] == [("Lead", "1")]

    # The table: reached, answered, dropped and drop rate per card; choices with count and share.
    assert table_row(page, cards["q"]) == {
        "reached": "4",
        "answered": "3",
        "dropped": "1",
        "drop_rate": "25%",
    }
    assert choice_rows(page, cards["q"]) == {"yes": ("2", "67%"), "no": ("1", "33%")}
    assert table_row(page, cards["email"]) == {
        "reached": "2",
        "answered": "1",
        "dropped": "1",
        "drop_rate": "50%",
    }
    # Goals are passed, never answered or dropped at.
    assert table_row(page, cards["goal"]) == {
        "reached": "1",
        "answered": "—",
        "dropped": "—",
        "drop_rate": "—",
    }

    # The same numbers on the flow, with arrows from the choices to their branches.
    svg = page.select_one('svg[role="img"]')
    assert svg.select_one("title").get_text() == "The funnel of “Help desk” on its flow"
    assert "The table below lists every number." in svg.select_one("desc").get_text()
    question = svg_card(page, cards["q"])
    assert question["reached"] == "4 reached"
    assert question["numbers"] == "3 answered · 1 dropped (25%)"
    assert [count for _label, count in question["ports"]] == ["2 · 67%", "1 · 33%"]
    assert question["ports"][1][0] == "No → bye"
    email = svg_card(page, cards["email"])
    assert (email["reached"], email["numbers"]) == ("2 reached", "1 answered · 1 dropped (50%)")
    assert [lane["data-branch"] for lane in svg.select("g.dynchat-flow-lane")] == [
        "start",
        "help",
        "bye",
    ]
    arrows = [
        arrow.select_one("title").get_text() for arrow in svg.select("path.dynchat-flow-arrow")
    ]
    assert len(arrows) == 2
    assert any("goes to branch “bye” (1 · 33%)" in title for title in arrows)


def test_filters_change_the_numbers(admin_client, traffic, cards):
    anonymous = soup(
        admin_client.get(report_url(traffic.dialogue, range="7d", visitors="anonymous"))
    )
    assert table_row(anonymous, cards["q"])["reached"] == "2"
    assert choice_rows(anonymous, cards["q"]) == {"yes": ("1", "100%"), "no": ("0", "0%")}
    assert svg_card(anonymous, cards["q"])["reached"] == "2 reached"

    # The conversation of 20 days ago is in the last 30 days only.
    month = soup(admin_client.get(report_url(traffic.dialogue, range="30d")))
    assert table_row(month, cards["q"])["reached"] == "5"
    assert choice_rows(month, cards["q"])["no"] == ("2", "50%")
    day = (local_today() - datetime.timedelta(days=20)).isoformat()
    one_day = soup(
        admin_client.get(report_url(traffic.dialogue, range="custom", start=day, end=day))
    )
    assert table_row(one_day, cards["q"]) == {
        "reached": "1",
        "answered": "1",
        "dropped": "0",
        "drop_rate": "0%",
    }
    # Links inside the page keep the filters.
    assert "visitors=anonymous" in anonymous.select_one("a[download]")["href"]
    assert anonymous.select_one("[data-funnel-ignores-page]") is None


def test_a_page_filter_says_the_funnel_counts_every_page(admin_client, traffic, cards, pages):
    # Card and choice rollups have no page: the funnel stays whole, and the page says so.
    other = soup(
        admin_client.get(report_url(traffic.dialogue, range="30d", page=pages["contact"].pk))
    )
    assert other.select_one("[data-funnel-ignores-page]") is not None
    assert table_row(other, cards["q"])["reached"] == "5"


def test_translations_are_counted_together(admin_client, traffic, cards, pages):
    german = Locale.objects.create(language_code="de")
    translation = traffic.dialogue.copy_for_translation(german)
    translation.save()
    translation.save_revision().publish()
    translation.refresh_from_db()
    assert card_ids(translation)["question"][0] == cards["q"]
    visit(Story(translation, pages["pricing"]), cards, 1, answer="no", hour=15)
    roll_up(1)

    both = soup(admin_client.get(report_url(traffic.dialogue, range="7d")))
    assert table_row(both, cards["q"])["reached"] == "5"
    assert choice_rows(both, cards["q"])["no"] == ("2", "50%")
    assert "and of its translation" in both.select_one(".help").get_text()
    # The translation's address is the same report; a language narrows it.
    assert report_url(translation) == report_url(traffic.dialogue)
    only_german = soup(admin_client.get(report_url(traffic.dialogue, range="7d", locale=german.pk)))
    assert table_row(only_german, cards["q"])["reached"] == "1"


def test_cards_removed_from_the_flow_are_still_listed(admin_client, traffic, cards):
    conversation = Conversation.objects.filter(dialogue=traffic.dialogue).first()
    traffic.event(
        conversation,
        "answered",
        card="an-old-card",
        at=days_ago(1, 16),
        data={"value": "old", "label": "Old answer"},
    )
    roll_up(1)
    page = soup(admin_client.get(report_url(traffic.dialogue, range="7d")))
    row = page.select_one('table[data-funnel] tr[data-card="an-old-card"]:not([data-choice])')
    assert "No longer in the flow" in row.get_text()
    assert table_row(page, "an-old-card")["reached"] == "1"
    assert choice_rows(page, "an-old-card") == {"old": ("1", "100%")}
    # Last in the table, and in a lane of its own on the picture.
    rows = page.select("table[data-funnel] tbody tr:not([data-choice])")
    assert rows[-1]["data-card"] == "an-old-card"
    lane = page.select("svg g.dynchat-flow-lane")[-1]
    assert "dynchat-flow-lane--removed" in lane["class"]
    assert lane.select_one('g[data-card="an-old-card"]') is not None


def test_a_dialogue_without_data_shows_an_empty_state(admin_client, dialogue):
    response = admin_client.get(report_url(dialogue))
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("[data-empty-report]") is not None
    assert page.select_one("table[data-funnel]") is None
    assert page.select_one("svg.dynchat-flow-picture") is None


def test_visitor_and_editor_text_is_escaped(admin_client, traffic, cards):
    response = admin_client.get(report_url(traffic.dialogue, range="7d"))
    html = response.content.decode()
    assert "<script>alert" not in html
    assert (
        "&lt;script&gt;alert(&#x27;choice&#x27;)" in html
        or "&lt;script&gt;alert(&#39;choice" in html
    )
    page = soup(response)
    card_text = page.select_one(f'table[data-funnel] tr[data-card="{cards["q"]}"] th').get_text()
    assert "<script>alert('card')</script>" in card_text
    yes = page.select_one(f'tr[data-card="{cards["q"]}"][data-choice="yes"] th').get_text()
    assert YES in yes
    svg_label = svg_card(page, cards["q"])
    assert svg_label["ports"][0][0].startswith("Yes <script>")


# ---- exports ----------------------------------------------------------------------------------


def number(value):
    """A cell as text, numbers alike whether a CSV wrote "25.0" or a workbook holds 25."""
    if value is None:
        return ""
    try:
        return f"{float(value):g}"
    except ValueError:
        return str(value)


def expected_rows(cards):
    return [
        (cards["q"], "", "4", "3", "1", "0.25", "", ""),
        (cards["q"], "yes", "", "", "", "", "2", "0.6667"),
        (cards["q"], "no", "", "", "", "", "1", "0.3333"),
        (cards["email"], "", "2", "1", "1", "0.5", "", ""),
        (cards["goal"], "", "1", "", "", "", "", ""),
    ]


def test_csv_export_has_every_card_and_choice(admin_client, traffic, cards):
    response = admin_client.get(report_url(traffic.dialogue, range="7d", export="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "dialogue-report-help-desk-" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "Branch",
        "Card id",
        "Type",
        "Card",
        "Choice",
        "Stored value",
        "Goes to branch",
        "Reached",
        "Answered",
        "Dropped",
        "Drop rate",
        "Times chosen",
        "Share of answers",
    ]
    columns = ["Reached", "Answered", "Dropped", "Drop rate"]
    columns += ["Times chosen", "Share of answers"]
    got = [
        (row["Card id"], row["Stored value"], *(number(row[name]) for name in columns))
        for row in rows
    ]
    assert got == expected_rows(cards)
    assert rows[1]["Choice"] == YES
    assert (rows[1]["Goes to branch"], rows[2]["Goes to branch"]) == ("help", "bye")
    assert rows[0]["Type"] == "Question"
    assert rows[3]["Card"] == "Your e-mail?"


def test_xlsx_export_has_every_card_and_choice(admin_client, traffic, cards):
    response = admin_client.get(report_url(traffic.dialogue, range="7d", export="xlsx"))
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    header, *rows = list(workbook.active.iter_rows(values_only=True))
    assert header[1] == "Card id" and header[11] == "Times chosen"

    got = [tuple(number(row[index]) for index in (1, 5, 7, 8, 9, 10, 11, 12)) for row in rows]
    assert got == expected_rows(cards)
    assert rows[1][4] == YES
    sheet = workbook.active
    assert sheet.cell(row=2, column=11).number_format == "0.0%"  # the drop rate
    assert sheet.cell(row=3, column=13).number_format == "0.0%"  # a choice's share


# ---- bad input, permissions and links ---------------------------------------------------------


def test_an_unknown_dialogue_is_not_found(admin_client, db):
    response = admin_client.get(
        reverse("wagtail_dynchat_dialogue_report:index", args=[uuid.uuid4()])
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "params, message",
    [
        ({"range": "custom", "start": "2026-02-05", "end": "2026-02-01"}, "must not be after"),
        ({"range": "custom", "start": "2026-02-05"}, "Enter a date for a custom range"),
        ({"range": "1y"}, "Select a valid choice"),
        ({"visitors": "robots"}, "Select a valid choice"),
        ({"range": "custom", "start": "yesterday", "end": "x"}, "Enter a valid date"),
        ({"site": "999999"}, "Select a valid choice"),
    ],
)
def test_invalid_filters_show_the_form_error(admin_client, dialogue, params, message):
    response = admin_client.get(report_url(dialogue, **params))
    assert response.status_code == 400
    assert message in response.content.decode()
    page = soup(response)
    assert page.select_one("form.dynchat-report-filters") is not None
    assert page.select_one("table[data-funnel]") is None
    # Exports are refused the same way.
    export = admin_client.get(report_url(dialogue, export="csv", **params))
    assert export.status_code == 400


def test_reports_need_the_permission(dialogue, traffic):
    editor = make_user("editor", "change_dialogue", "view_dialogue")
    response = editor.get(report_url(dialogue))
    assert response.status_code == 403
    assert "permission to view chat reports" in response.content.decode()
    assert editor.get(report_url(dialogue, export="csv")).status_code == 403
    # A key that does not exist is refused the same way: nothing leaks.
    unknown = reverse("wagtail_dynchat_dialogue_report:index", args=[uuid.uuid4()])
    assert editor.get(unknown).status_code == 403
    # No "Report" in the listing's or the edit view's menus.
    listing = editor.get(reverse(f"{SNIPPETS}:list"))
    assert report_url(dialogue) not in listing.content.decode()
    edit = editor.get(reverse(f"{SNIPPETS}:edit", args=[dialogue.pk]))
    assert edit.status_code == 200
    assert report_url(dialogue) not in edit.content.decode()


def test_report_buttons_for_users_with_the_permission(dialogue, traffic):
    analyst = make_user("analyst", "view_reports", "change_dialogue", "view_dialogue")
    assert analyst.get(report_url(dialogue)).status_code == 200
    link = report_url(dialogue)
    listing = soup(analyst.get(reverse(f"{SNIPPETS}:list")))
    assert [a.get_text(strip=True) for a in listing.select(f'a[href="{link}"]')] == ["Report"]
    edit = soup(analyst.get(reverse(f"{SNIPPETS}:edit", args=[dialogue.pk])))
    assert [a.get_text(strip=True) for a in edit.select(f'a[href="{link}"]')] == ["Report"]
    inspect = soup(analyst.get(reverse(f"{SNIPPETS}:inspect", args=[dialogue.pk])))
    assert [a.get_text(strip=True) for a in inspect.select(f'a[href="{link}"]')] == ["Report"]
    # And the report links back to editing the dialogue.
    report = soup(analyst.get(link))
    edit_url = reverse(f"{SNIPPETS}:edit", args=[dialogue.pk])
    assert report.select_one(f'a[href="{edit_url}"]') is not None


def test_reports_only_users_see_the_report_without_the_edit_link(dialogue, traffic):
    analyst = make_user("viewer", "view_reports")
    report = soup(analyst.get(report_url(dialogue)))
    edit_url = reverse(f"{SNIPPETS}:edit", args=[dialogue.pk])
    assert report.select_one(f'a[href="{edit_url}"]') is None


# ---- cost ---------------------------------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_the_page_costs_a_constant_number_of_queries(
    admin_client, traffic, cards, django_assert_max_num_queries
):
    url = report_url(traffic.dialogue, range="30d")
    admin_client.get(url)  # sessions, permissions and content types are cached from here on
    before = count_queries(admin_client, url)
    # Many more days, conversations, cards and choices: the same queries.
    story = traffic
    for days in range(2, 12):
        visit(story, cards, days, answer="yes", email=f"p{days}@client.example")
        visit(story, cards, days, answer="no", hour=10)
        conversation = visit(story, cards, days, stop_at="q", hour=11)
        for index in range(5):
            story.event(
                conversation,
                "answered",
                card=f"old-{index}",
                at=days_ago(days, 12),
                data={"value": f"v{index}", "label": f"Old {index}"},
            )
    roll_up(*range(2, 12))
    assert count_queries(admin_client, url) == before
    with django_assert_max_num_queries(30):
        admin_client.get(url)
    with django_assert_max_num_queries(30):
        admin_client.get(url + "&export=xlsx")
