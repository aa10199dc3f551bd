"""Metric definitions and counting rules against hand-built event sequences, read from rollups
(past days) and live from today's events, through the reports query API."""

import datetime

import pytest

from wagtail_dynchat.models import Agent, Conversation, Meeting
from wagtail_dynchat.reports import metrics
from wagtail_dynchat.reports.metrics import InvalidFilters, Report, ReportFilters
from wagtail_dynchat.reports.rollup import day_bounds, local_today, rollup_day

from ..conftest import SIMPLE_FLOW, make_dialogue
from .builders import Story, book, card_ids, days_ago, make_agent

YESTERDAY = 1
COMPLETED = Conversation.STATUS_COMPLETED


@pytest.fixture
def story(simple_dialogue, pages):
    return Story(simple_dialogue, pages["pricing"])


@pytest.fixture
def cards(simple_dialogue):
    ids = card_ids(simple_dialogue)
    return {"q": ids["question"][0], "email": ids["capture"][0], "goal": ids["goal"][0]}


def build_day(story, cards, days):
    """Four visitors on one day (see the expected figures in the tests)."""

    def at(hour, minute=0):
        return days_ago(days, hour, minute)

    # 1: anonymous, answers, gives a new e-mail (and so becomes known), reaches the goal.
    v1 = story.visitor()
    c1 = story.conversation(v1, at=at(9), status=COMPLETED, engaged=True)
    story.event(c1, "triggered", at=at(9))
    story.event(c1, "engaged", card=cards["q"], at=at(9, 1))
    story.event(c1, "answered", card=cards["q"], at=at(9, 1), data={"value": "yes", "label": "Yes"})
    email = {"field": "email", "value": "new@client.example", "new": True}
    story.event(c1, "captured", card=cards["email"], at=at(9, 2), data=email)
    story.event(c1, "answered", card=cards["email"], at=at(9, 2), data={"value": "x", "text": "x"})
    story.event(c1, "goal", card=cards["goal"], at=at(9, 2), data={"name": "Lead", "score": 2})
    story.event(c1, "completed", at=at(9, 2))
    v1.person.email = "new@client.example"
    v1.person.save()
    # 2: anonymous, shown the dialogue, never answers: dropped at the question.
    v2 = story.visitor()
    c2 = story.conversation(v2, at=at(10), awaiting=cards["q"])
    story.event(c2, "triggered", at=at(10))
    # 3: known already, says no and completes; capturing a known e-mail acquires nobody.
    v3 = story.visitor("known@client.example")
    c3 = story.conversation(v3, at=at(11), status=COMPLETED, engaged=True)
    story.event(c3, "triggered", at=at(11))
    story.event(c3, "engaged", card=cards["q"], at=at(11, 1))
    story.event(c3, "answered", card=cards["q"], at=at(11, 1), data={"value": "no", "label": "No"})
    known = {"field": "email", "value": "known@client.example", "new": False}
    story.event(c3, "captured", card=cards["email"], at=at(11, 2), data=known)
    story.event(c3, "completed", at=at(11, 2))
    # 4: anonymous, says yes, leaves at the e-mail question.
    v4 = story.visitor()
    c4 = story.conversation(v4, at=at(12), awaiting=cards["email"], engaged=True)
    story.event(c4, "triggered", at=at(12))
    story.event(c4, "engaged", card=cards["q"], at=at(12, 1))
    story.event(
        c4, "answered", card=cards["q"], at=at(12, 1), data={"value": "yes", "label": "Yes"}
    )
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4}


EXPECTED_TOTALS = {
    "triggered": 4,
    "engaged": 3,
    "completed": 2,
    "people_acquired": 1,
    "meetings_booked": 1,
    "goals_reached": 1,
    "documents_opened": 0,
    "engagement_rate": 0.75,
    "conversion_rate": 0.3333,
}


def day_filters(days, **dimensions):
    day = local_today() - datetime.timedelta(days=days)
    return ReportFilters(start=day, end=day, **dimensions)


def end_of(days):
    """A clock just before midnight at the end of that day: the day is "today" for it."""
    return day_bounds(local_today() - datetime.timedelta(days=days))[1] - datetime.timedelta(
        seconds=1
    )


@pytest.fixture
def yesterday(story, cards):
    conversations = build_day(story, cards, YESTERDAY)
    book(conversations["c1"], make_agent(), at=days_ago(YESTERDAY, 9, 3))
    return conversations


@pytest.mark.parametrize("source", ["rollup", "live"])
def test_totals_follow_the_products_definitions(yesterday, source):
    if source == "rollup":
        rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
        report = Report(day_filters(YESTERDAY))
    else:
        # With the clock on that day, the day is today and is read from its raw events.
        report = Report(day_filters(YESTERDAY), now=end_of(YESTERDAY))
    assert report.totals() == EXPECTED_TOTALS


def test_rollup_and_live_agree_on_everything(yesterday, simple_dialogue):
    live = Report(day_filters(YESTERDAY), now=end_of(YESTERDAY))
    expected = (
        live.totals(),
        live.funnel(simple_dialogue),
        live.goals(),
        live.meetings_by_agent(),
        live.top_pages(),
        live.by_dialogue(),
    )
    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
    stored = Report(day_filters(YESTERDAY))
    assert (
        stored.totals(),
        stored.funnel(simple_dialogue),
        stored.goals(),
        stored.meetings_by_agent(),
        stored.top_pages(),
        stored.by_dialogue(),
    ) == expected


def test_known_and_anonymous_visitors_split_the_totals(yesterday):
    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
    known = metrics.totals(day_filters(YESTERDAY, known=True))
    anonymous = metrics.totals(day_filters(YESTERDAY, known=False))
    assert (known["triggered"], known["engaged"], known["completed"]) == (2, 2, 2)
    assert (known["people_acquired"], known["meetings_booked"]) == (1, 1)
    assert (anonymous["triggered"], anonymous["engaged"], anonymous["completed"]) == (2, 1, 0)
    assert anonymous["engagement_rate"] == 0.5
    assert anonymous["conversion_rate"] == 0.0


def test_funnel_counts_reached_answered_and_dropped_per_card(yesterday, simple_dialogue, cards):
    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
    funnel = metrics.funnel(simple_dialogue, day_filters(YESTERDAY))
    by_card = {card["card"]: card for card in funnel["cards"]}
    # In the flow's order: question, e-mail, goal.
    assert [card["card"] for card in funnel["cards"]] == [cards["q"], cards["email"], cards["goal"]]
    question = by_card[cards["q"]]
    assert (question["reached"], question["answered"], question["dropped"]) == (4, 3, 1)
    assert question["type"] == "question"
    # Labels are the cards' texts without markup (question and capture cards keep theirs as HTML).
    assert question["label"] == "Want to hear more?"
    assert by_card[cards["email"]]["label"] == "Your e-mail?"
    assert by_card[cards["goal"]]["label"] == "Lead"
    assert question["drop_rate"] == 0.25
    assert question["choices"] == [
        {"value": "yes", "label": "Yes", "count": 2},
        {"value": "no", "label": "No", "count": 1},
    ]
    email = by_card[cards["email"]]
    assert (email["reached"], email["answered"], email["dropped"]) == (2, 1, 1)
    assert by_card[cards["goal"]]["reached"] == 1


def test_a_conversation_still_going_is_reached_but_not_dropped(story, cards, simple_dialogue):
    visitor = story.visitor()
    at = days_ago(YESTERDAY, 23, 40)
    conversation = story.conversation(visitor, at=at, awaiting=cards["q"])
    story.event(conversation, "triggered", at=at)
    # Ten minutes later the visitor may still answer (SESSION_IDLE_SECONDS is 30 minutes).
    report = Report(day_filters(YESTERDAY), now=at + datetime.timedelta(minutes=10))
    card = report.funnel(simple_dialogue)["cards"][0]
    assert (card["reached"], card["dropped"]) == (1, 0)
    # Taken up again the next day, it was not dropped yesterday either.
    story.event(conversation, "closed", at=days_ago(0, 0, 5))
    card = Report(day_filters(YESTERDAY)).funnel(simple_dialogue)["cards"]
    assert card == []


def test_people_acquired_once_per_visitor_per_session(story, cards):
    visitor = story.visitor()
    new = {"field": "email", "value": "a@client.example", "new": True}
    first = story.conversation(visitor, at=days_ago(YESTERDAY, 9))
    story.event(first, "captured", card=cards["email"], at=days_ago(YESTERDAY, 9), data=new)
    story.event(first, "captured", card=cards["email"], at=days_ago(YESTERDAY, 9, 5), data=new)
    # Another session of the same visitor counts again; a non-email field never counts.
    story.event(
        first, "captured", card=cards["email"], at=days_ago(YESTERDAY, 18), data=new, session="s2"
    )
    phone = {"field": "phone", "value": "+33 1", "new": True}
    story.event(
        first, "captured", card=cards["email"], at=days_ago(YESTERDAY, 19), data=phone, session="s3"
    )
    report = Report(day_filters(YESTERDAY), now=end_of(YESTERDAY))
    assert report.totals()["people_acquired"] == 2


def test_goals_meetings_and_pages(yesterday, story, cards, pages):
    other = Story(story.dialogue, pages["contact"])
    visitor = other.visitor("b@client.example")
    conversation = other.conversation(visitor, at=days_ago(YESTERDAY, 14), engaged=True)
    other.event(conversation, "triggered", at=days_ago(YESTERDAY, 14))
    other.event(conversation, "engaged", card=cards["q"], at=days_ago(YESTERDAY, 14))
    for name in ("Lead", "Demo", "Demo"):
        other.event(
            conversation,
            "goal",
            card=cards["goal"],
            at=days_ago(YESTERDAY, 14),
            data={"name": name},
        )
    agent = Agent.objects.get()
    bob = make_agent("bob")
    book(conversation, bob, at=days_ago(YESTERDAY, 14))
    book(conversation, bob, at=days_ago(YESTERDAY, 15), status=Meeting.CANCELLED)
    book(conversation, bob, at=days_ago(YESTERDAY, 16), status=Meeting.FAILED)
    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
    filters = day_filters(YESTERDAY)
    assert metrics.goals(filters) == [{"goal": "Demo", "count": 2}, {"goal": "Lead", "count": 2}]
    assert metrics.meetings_by_agent(filters) == [
        {"agent_id": bob.pk, "agent": str(bob), "booked": 2, "cancelled": 1},
        {"agent_id": agent.pk, "agent": str(agent), "booked": 1, "cancelled": 0},
    ]
    top = metrics.top_pages(filters)
    assert [(page["page_id"], page["triggered"], page["engaged"]) for page in top] == [
        (pages["pricing"].pk, 4, 3),
        (pages["contact"].pk, 1, 1),
    ]
    assert top[0]["title"] == pages["pricing"].title
    only_contact = day_filters(YESTERDAY, page_id=pages["contact"].pk)
    assert metrics.totals(only_contact)["meetings_booked"] == 2
    assert metrics.goals(only_contact) == [
        {"goal": "Demo", "count": 2},
        {"goal": "Lead", "count": 1},
    ]


def test_by_day_reads_rollups_for_past_days_and_events_for_today(story, cards):
    for days in (2, 1, 0):
        visitor = story.visitor()
        # Early enough today that "today" has begun whenever the suite runs.
        at = days_ago(days, 0, 1)
        conversation = story.conversation(visitor, at=at)
        story.event(conversation, "triggered", at=at)
    rollup_day(local_today() - datetime.timedelta(days=2))
    # Day 1 is not rolled up: it reads as zero and coverage says so; today is live.
    report = Report(ReportFilters.for_preset("7d"))
    rows = report.by_day()
    assert [row["triggered"] for row in rows] == [0, 0, 0, 0, 1, 0, 1]
    assert rows[-1]["day"] == local_today()
    rolled_up = local_today() - datetime.timedelta(days=2)
    past = [day for day in report.filters.days if day < local_today()]
    assert report.coverage() == {"missing_days": [day for day in past if day != rolled_up]}
    assert report.totals()["triggered"] == 2


def test_translations_are_reported_together(story, cards, simple_dialogue, pages):
    from wagtail.models import Locale

    german = Locale.objects.create(language_code="de")
    translation = simple_dialogue.copy_for_translation(german)
    translation.save()
    translation.save_revision().publish()
    translation.refresh_from_db()
    german_story = Story(translation, pages["pricing"])
    for builder in (story, german_story):
        visitor = builder.visitor()
        conversation = builder.conversation(visitor, at=days_ago(YESTERDAY, 9))
        builder.event(conversation, "triggered", at=days_ago(YESTERDAY, 9))
    other = make_dialogue(SIMPLE_FLOW, name="Other")
    other_story = Story(other, pages["pricing"])
    conversation = other_story.conversation(other_story.visitor(), at=days_ago(YESTERDAY, 9))
    other_story.event(conversation, "triggered", at=days_ago(YESTERDAY, 9))
    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))

    filters = day_filters(YESTERDAY)
    both = metrics.by_dialogue(filters)
    assert [(entry["name"], entry["triggered"]) for entry in both] == [("Simple", 2), ("Other", 1)]
    assert both[0]["dialogue_ids"] == sorted([simple_dialogue.pk, translation.pk])
    assert metrics.totals(filters.with_dialogue(simple_dialogue))["triggered"] == 2
    german_only = filters.with_dialogue(simple_dialogue)
    german_only = ReportFilters(
        start=german_only.start,
        end=german_only.end,
        dialogue=german_only.dialogue,
        locale_id=german.pk,
    )
    assert metrics.totals(german_only)["triggered"] == 1


def test_filters_from_query_parameters():
    today = datetime.date(2026, 3, 10)
    filters = ReportFilters.from_params(
        {"range": "7d", "visitors": "known", "site": "2"}, today=today
    )
    assert (filters.start, filters.end, filters.known, filters.site_id) == (
        datetime.date(2026, 3, 4),
        today,
        True,
        2,
    )
    custom = ReportFilters.from_params(
        {
            "range": "custom",
            "start": "2026-01-01",
            "end": "2026-01-31",
            "visitors": "anonymous",
            "dialogue": "0b8f4c1e-3b9a-4c1e-9f3e-2a1b5c6d7e8f",
        },
        today=today,
    )
    assert (custom.start, custom.end, custom.known) == (
        datetime.date(2026, 1, 1),
        datetime.date(2026, 1, 31),
        False,
    )
    assert len(ReportFilters.for_preset("today", today=today).days) == 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({"range": "1y"}, "Unknown date range"),
        ({"range": "custom", "start": "2026-02-01"}, "end date as YYYY-MM-DD"),
        ({"range": "custom", "start": "2026-02-05", "end": "2026-02-01"}, "must not be after"),
        ({"range": "custom", "start": "2026-02-05", "end": "2026-04-01"}, "in the future"),
        ({"range": "custom", "start": "2020-01-01", "end": "2026-03-01"}, "at most 731 days"),
        ({"visitors": "robots"}, "known or anonymous"),
        ({"site": "x"}, "must be an id"),
        ({"dialogue": "not-a-uuid"}, "is not a dialogue"),
    ],
)
def test_invalid_filters_say_what_is_wrong(params, message):
    with pytest.raises(InvalidFilters) as error:
        ReportFilters.from_params(params, today=datetime.date(2026, 3, 10))
    assert message in error.value.message


def test_a_funnel_needs_a_dialogue(db):
    with pytest.raises(InvalidFilters):
        Report(ReportFilters.for_preset("7d")).funnel()


def test_past_ranges_never_read_raw_events(yesterday, simple_dialogue):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rollup_day(local_today() - datetime.timedelta(days=YESTERDAY))
    end = local_today() - datetime.timedelta(days=1)
    report = Report(ReportFilters(start=end - datetime.timedelta(days=89), end=end))
    with CaptureQueriesContext(connection) as queries:
        report.totals()
        report.by_day()
        report.by_dialogue()
        report.funnel(simple_dialogue)
        report.goals()
        report.meetings_by_agent()
        report.top_pages()
    assert queries.captured_queries
    assert not [q for q in queries.captured_queries if "conversationevent" in q["sql"]]
