"""The demo's made-up history: visitors played through the chat API, moved back in time and
rolled up, so the demo's reports have numbers; played once."""

import datetime

import pytest
from django.core.management import call_command

from example_site.home.demo_history import play_history
from wagtail_dynchat.models import Conversation, ConversationEvent, DailyStats, RollupDay
from wagtail_dynchat.reports.metrics import Report, ReportFilters
from wagtail_dynchat.reports.rollup import local_today

pytestmark = pytest.mark.django_db


def test_the_demo_history_fills_past_days_and_their_rollups():
    call_command("load_dynchat_demo", verbosity=0)
    played = play_history(days=3, log=lambda line: None)

    assert played > 10
    today = local_today()
    past = {today - datetime.timedelta(days=offset) for offset in (1, 2, 3)}
    assert set(RollupDay.objects.values_list("day", flat=True)) == past
    started = {c.started_at.date() for c in Conversation.objects.all()}
    assert started <= past | {day - datetime.timedelta(days=1) for day in past}
    # Real conversations: transcripts and the events the engine writes.
    assert Conversation.objects.exclude(transcript=[]).count() == played
    assert ConversationEvent.objects.filter(kind="engaged").exists()
    totals = Report(ReportFilters.for_preset("7d")).totals()
    assert totals["triggered"] == played
    assert 0 < totals["engaged"] <= played
    assert totals["people_acquired"] > 0

    # Once only: loading the demo again adds nothing.
    rows = DailyStats.objects.count()
    assert play_history(days=3, log=lambda line: None) == 0
    assert DailyStats.objects.count() == rows
