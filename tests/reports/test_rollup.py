"""Daily rollups: idempotent, re-runnable for any kept day, local-day boundaries, the task and
the management command; and the events the visitor API writes carry what rollups count."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from wagtail_dynchat.models import (
    ConversationEvent,
    DailyCardStats,
    DailyChoiceStats,
    DailyGoalStats,
    DailyStats,
    RollupDay,
)
from wagtail_dynchat.reports import metrics, tasks
from wagtail_dynchat.reports.metrics import Report, ReportFilters
from wagtail_dynchat.reports.rollup import ROLLUP_MODELS, day_bounds, local_today, rollup_day

from .builders import Story, card_ids, days_ago

pytestmark = pytest.mark.django_db


def yesterday():
    return local_today() - datetime.timedelta(days=1)


def stored():
    """Every stored rollup row, without ids, per table."""
    return {
        model.__name__: sorted(
            (tuple(sorted(row.items())) for row in model.objects.values()),
            key=repr,
        )
        for model in ROLLUP_MODELS
    }


def strip_ids(rows):
    return {
        name: sorted((tuple(item for item in row if item[0] != "id") for row in table), key=repr)
        for name, table in rows.items()
    }


@pytest.fixture
def story(simple_dialogue, pages):
    return Story(simple_dialogue, pages["pricing"])


@pytest.fixture
def cards(simple_dialogue):
    ids = card_ids(simple_dialogue)
    return {"q": ids["question"][0], "goal": ids["goal"][0]}


def some_traffic(story, cards, days, visitors=3):
    for number in range(visitors):
        visitor = story.visitor()
        at = days_ago(days, 8 + number)
        conversation = story.conversation(visitor, at=at, awaiting=cards["q"])
        story.event(conversation, "triggered", at=at)
        story.event(conversation, "engaged", card=cards["q"], at=at)
        story.event(
            conversation, "answered", card=cards["q"], at=at, data={"value": "yes", "label": "Yes"}
        )
        story.event(conversation, "goal", card=cards["goal"], at=at, data={"name": "Lead"})


def test_rolling_a_day_up_twice_gives_the_same_rows(story, cards):
    some_traffic(story, cards, 1)
    first = rollup_day(yesterday())
    rows = strip_ids(stored())
    assert first["events"] == 12
    assert DailyStats.objects.get().triggered == 3
    assert DailyGoalStats.objects.get().count == 3
    assert DailyChoiceStats.objects.get().count == 3
    assert DailyCardStats.objects.filter(card=cards["q"]).get().answered == 3

    again = rollup_day(yesterday())
    assert strip_ids(stored()) == rows
    assert (again["events"], again["rows"]) == (first["events"], first["rows"])
    assert RollupDay.objects.get().events == 12


def test_re_running_a_day_picks_up_late_events_and_leaves_other_days_alone(story, cards):
    some_traffic(story, cards, 2, visitors=2)
    some_traffic(story, cards, 1)
    rollup_day(yesterday() - datetime.timedelta(days=1))
    rollup_day(yesterday())
    day_before = list(DailyStats.objects.filter(day__lt=yesterday()).values())

    late = story.conversation(story.visitor(), at=days_ago(1, 22))
    story.event(late, "triggered", at=days_ago(1, 22))
    rollup_day(yesterday())

    assert DailyStats.objects.get(day=yesterday()).triggered == 4
    assert list(DailyStats.objects.filter(day__lt=yesterday()).values()) == day_before
    filters = ReportFilters(start=yesterday() - datetime.timedelta(days=1), end=yesterday())
    assert metrics.totals(filters)["triggered"] == 6


def test_a_day_with_no_events_clears_what_was_stored(story, cards):
    some_traffic(story, cards, 1)
    rollup_day(yesterday())
    ConversationEvent.objects.all().delete()
    assert rollup_day(yesterday())["rows"] == 0
    assert not any(model.objects.exists() for model in ROLLUP_MODELS)
    assert RollupDay.objects.get().events == 0


def test_days_are_local_days(story, cards, settings):
    settings.WAGTAIL_DYNCHAT = {"TIME_ZONE": "America/New_York"}
    start, end = day_bounds(yesterday())
    assert start.utcoffset() in (datetime.timedelta(hours=-5), datetime.timedelta(hours=-4))
    for at in (
        start - datetime.timedelta(seconds=1),
        start,
        end - datetime.timedelta(seconds=1),
        end,
    ):
        conversation = story.conversation(story.visitor(), at=at)
        story.event(conversation, "triggered", at=at)
    rollup_day(yesterday())
    assert DailyStats.objects.get(day=yesterday()).triggered == 2


def test_days_whose_events_are_purged_are_refused(db):
    too_old = local_today() - datetime.timedelta(days=91)
    with pytest.raises(ValueError, match="older than the event retention"):
        rollup_day(too_old)
    rollup_day(local_today() - datetime.timedelta(days=90))


def test_the_task_rolls_yesterday_up_by_default(story, cards):
    some_traffic(story, cards, 1)
    result = tasks.rollup_day.delay().get()
    assert result["day"] == yesterday().isoformat()
    assert DailyStats.objects.get().triggered == 3
    tasks.rollup_day.delay(yesterday().isoformat()).get()
    assert DailyStats.objects.count() == 1
    assert tasks.rollup_day.acks_late


def test_the_command_rolls_up_a_day_or_a_range(story, cards):
    some_traffic(story, cards, 3)
    some_traffic(story, cards, 1)
    out = io.StringIO()
    call_command("dynchat_rollup", "--day", yesterday().isoformat(), stdout=out)
    assert f"{yesterday()}: 12 events" in out.getvalue()
    out = io.StringIO()
    start = yesterday() - datetime.timedelta(days=3)
    call_command("dynchat_rollup", "--from", start.isoformat(), stdout=out)
    assert len(out.getvalue().splitlines()) == 4
    assert sorted(RollupDay.objects.values_list("day", flat=True)) == [
        start + datetime.timedelta(days=offset) for offset in range(4)
    ]
    assert sum(DailyStats.objects.values_list("triggered", flat=True)) == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--day", "yesterday"], "--day must be a date"),
        (["--day", "2026-01-01", "--from", "2026-01-01"], "either --day or --from/--to"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "must not be after"),
        (["--to", "2026-01-01"], "--to needs --from"),
        (["--day", "2000-01-01"], "older than the event retention"),
        (["--from", "1990-01-01"], "at most 731 days"),
    ],
)
def test_the_command_explains_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("dynchat_rollup", *args)


def converse(chat, dialogue, page, email):
    conversation = chat.start(dialogue, page).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]
    response = chat.answer(conversation, email)
    assert response.status_code == 200
    return response.json()["conversation"]


def test_the_visitor_api_flags_new_e_mails_and_reports_count_them(simple_dialogue, pages):
    from ..conftest import ChatClient

    converse(ChatClient(), simple_dialogue, pages["pricing"], "Ada@Example.com")
    # Another browser giving the same address is someone we already know.
    converse(ChatClient(), simple_dialogue, pages["pricing"], "ada@example.com")
    captures = ConversationEvent.objects.filter(kind="captured", data__field="email")
    assert sorted(event.data["new"] for event in captures) == [False, True]

    today = Report(ReportFilters.for_preset("today")).totals()
    assert (today["triggered"], today["engaged"], today["completed"]) == (2, 2, 2)
    assert today["people_acquired"] == 1
    assert today["conversion_rate"] == 0.5
