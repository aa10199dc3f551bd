"""The chat dashboard and its home page panel in a real browser: axe-core finds no WCAG 2.2 A/AA
violation, in the light and the dark theme, and at 320 CSS pixels wide (a 1280 px window at
400 % zoom) nothing makes the page scroll sideways."""

import datetime
import os

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.reports.builders import Story, card_ids, days_ago
from wagtail_dynchat.models import Conversation, Dialogue
from wagtail_dynchat.reports.rollup import local_today, rollup_day

from .conftest import assert_accessible

pytestmark = pytest.mark.browser

#: Set to a folder to keep screenshots of each state (to look at the chart).
SCREENSHOTS = os.environ.get("DYNCHAT_SCREENSHOTS", "")


def fill_history(days=30):
    """A few conversations a day on the demo's first dialogue, every day rolled up."""
    dialogue = Dialogue.objects.filter(live=True).order_by("pk").first()
    question = card_ids(dialogue)["question"][0]
    story = Story(dialogue)
    for ago in range(days, -1, -1):
        for number in range(ago % 5 + 1):
            at = days_ago(ago, 0, number + 1)
            visitor = story.visitor(f"v{ago}-{number}@client.example" if number % 2 else None)
            status = Conversation.STATUS_COMPLETED if number % 3 == 0 else "active"
            conversation = story.conversation(visitor, at=at, engaged=True, status=status)
            story.event(conversation, "triggered", at=at)
            story.event(conversation, "engaged", card=question, at=at)
            if status == Conversation.STATUS_COMPLETED:
                story.event(conversation, "completed", at=at)
        if ago:
            rollup_day(local_today() - datetime.timedelta(days=ago))


def log_in(page, demo_site):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "password")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": demo_site.url}]
    )


def snapshot(page, name):
    if SCREENSHOTS:
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": 2400})
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"))
        page.set_viewport_size(size)


def scrolls_sideways(page):
    return page.evaluate(
        "() => document.scrollingElement.scrollWidth > document.scrollingElement.clientWidth"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_dashboard_and_the_home_panel_pass_axe(demo_site, page, scheme):
    fill_history()
    log_in(page, demo_site)
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(demo_site.url + reverse("wagtail_dynchat_dashboard:index"))
    assert page.locator("svg[role=img]").is_visible()
    snapshot(page, f"dashboard-{scheme}")
    page.locator(".dynchat-chart__data summary").click()
    assert page.locator("[data-chart-table] tbody tr").count() == 30
    assert_accessible(page, f"the dashboard ({scheme})")

    page.goto(demo_site.url + reverse("wagtailadmin_home"))
    assert page.locator("#dynchat-reports-section svg[role=img]").is_visible()
    snapshot(page, f"home-{scheme}")
    assert_accessible(page, f"the home page ({scheme})")


def test_at_400_percent_zoom_nothing_scrolls_sideways(demo_site, page):
    fill_history(days=90)
    log_in(page, demo_site)
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(demo_site.url + reverse("wagtail_dynchat_dashboard:index") + "?range=90d")
    assert page.locator("svg[role=img]").is_visible()
    snapshot(page, "dashboard-320")
    assert not scrolls_sideways(page)
    # The chart scrolls in its own box, keeping its text legible.
    box = page.locator(".dynchat-chart__scroll").bounding_box()
    assert box["width"] <= 320
    assert page.locator("svg[role=img]").bounding_box()["width"] >= 500
    assert_accessible(page, "the dashboard at 320 pixels")

    page.goto(demo_site.url + reverse("wagtail_dynchat_dashboard:index") + "?range=custom")
    assert page.locator("[data-dashboard-errors]").is_visible()
    assert not scrolls_sideways(page)
    assert_accessible(page, "the dashboard with invalid filters")
