"""Today's figures are computed from raw events and kept in the cache for
``REPORT_LIVE_CACHE_SECONDS``: reports show them that far behind, never more, and a fixed clock
or a zero timeout always reads the events."""

import datetime

import pytest
from django.core.cache import cache
from django.utils import timezone

from wagtail_dynchat.reports import tasks
from wagtail_dynchat.reports.metrics import Report, ReportFilters

from .builders import Story, card_ids, days_ago

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(simple_dialogue, pages):
    return Story(simple_dialogue, pages["pricing"])


def visit_today(story):
    """A visitor shown the dialogue early today (today has begun whenever the suite runs)."""
    at = days_ago(0, 0, 1)
    conversation = story.conversation(story.visitor(), at=at)
    story.event(conversation, "triggered", at=at)
    return conversation


def triggered_today(**kwargs):
    return Report(ReportFilters.for_preset("today"), **kwargs).totals()["triggered"]


def test_today_is_read_from_the_cache_until_it_expires(story):
    visit_today(story)
    assert triggered_today() == 1
    visit_today(story)
    # Another report (another page view) within the timeout shows the cached figures …
    assert triggered_today() == 1
    # … until the entry goes (expiry, simulated by emptying the cache).
    cache.clear()
    assert triggered_today() == 2


def test_the_cache_serves_every_filter_and_metric(story, simple_dialogue):
    visit_today(story)
    key = simple_dialogue.translation_key
    assert triggered_today() == 1
    visit_today(story)
    # Other filters read the same cached rows of the day, narrowed in Python.
    filters = ReportFilters.for_preset("7d").with_dialogue(key)
    assert Report(filters).by_day()[-1]["triggered"] == 1
    anonymous = ReportFilters.for_preset("today", known=False)
    assert Report(anonymous).totals()["triggered"] == 1


def test_a_fixed_clock_or_no_timeout_always_reads_the_events(story, settings):
    visit_today(story)
    assert triggered_today() == 1
    visit_today(story)
    assert triggered_today(now=timezone.now()) == 2
    settings.WAGTAIL_DYNCHAT = {"REPORT_LIVE_CACHE_SECONDS": 0}
    assert triggered_today() == 2
    visit_today(story)
    assert triggered_today() == 3


def test_the_funnel_of_today_is_cached_too(story, simple_dialogue):
    question = card_ids(simple_dialogue)["question"][0]
    conversation = visit_today(story)
    at = days_ago(0, 0, 2)
    answer = {"value": "yes", "label": "Yes"}
    story.event(conversation, "answered", card=question, at=at, data=answer)
    filters = ReportFilters.for_preset("today").with_dialogue(simple_dialogue)
    first = Report(filters).funnel()["cards"][0]
    assert (first["card"], first["answered"], first["choices"][0]["count"]) == (question, 1, 1)
    other = visit_today(story)
    story.event(
        other, "answered", card=question, at=at + datetime.timedelta(minutes=1), data=answer
    )
    assert Report(filters).funnel()["cards"][0]["answered"] == 1
    cache.clear()
    again = Report(filters).funnel()["cards"][0]
    assert (again["answered"], again["choices"][0]["count"]) == (2, 2)


def test_the_refresh_task_computes_today_ahead_of_the_views(story, django_assert_num_queries):
    visit_today(story)
    assert tasks.refresh_live_reports() > 0
    visit_today(story)
    # The report reads what the task cached, without a query; the second visit shows once the
    # task runs again.
    with django_assert_num_queries(0):
        assert triggered_today() == 1
    tasks.refresh_live_reports()
    assert triggered_today() == 2


def test_no_timeout_no_refresh(story, settings):
    visit_today(story)
    settings.WAGTAIL_DYNCHAT = {"REPORT_LIVE_CACHE_SECONDS": 0}
    assert tasks.refresh_live_reports() == 0
    visit_today(story)
    assert triggered_today() == 2
