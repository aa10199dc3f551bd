"""The admin's Marketo page in a real browser: axe-core finds no WCAG 2.2 A/AA violation with
every section filled (outbox, API usage with the quota warning, sync progress, activity types)."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.fakes import marketo as marketo_fakes
from wagtail_dynchat.marketo.client import MarketoClient
from wagtail_dynchat.models import MarketoActivityType, OutboxItem, SyncRun

from .conftest import assert_accessible

pytestmark = pytest.mark.browser

marketo_fake = marketo_fakes.marketo_fake


def test_the_marketo_page_passes_axe(demo_site, page, marketo_fake, settings):
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    settings.WAGTAIL_DYNCHAT = {
        **settings.WAGTAIL_DYNCHAT,
        "MARKETO": {**settings.WAGTAIL_DYNCHAT["MARKETO"], "DAILY_QUOTA": 2},
    }
    MarketoClient().describe_leads()
    MarketoClient().describe_leads()  # 100 % of the quota: the warning shows
    for n, status in enumerate(("pending", "failed", "dead", "dead", "done")):
        OutboxItem.objects.create(
            kind="lead",
            dedupe_key=f"lead:{n}",
            payload={"email": f"{n}@example.com"},
            status=status,
            last_error="" if status in ("pending", "done") else f"HTTP 503 ({status})",
        )
    SyncRun.objects.create(
        kind="initial",
        windows_total=12,
        windows_done=3,
        rows=4500,
        started_at=timezone.now() - datetime.timedelta(minutes=10),
    )
    MarketoActivityType.objects.create(
        key="engaged", api_name="dynchat_engaged", name="Engaged in chat", type_id=100001
    )
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "password")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": demo_site.url}]
    )
    page.goto(demo_site.url + reverse("wagtail_dynchat_marketo_sync:index"))
    assert page.locator("[data-quota-warning]").is_visible()
    assert page.locator("[data-outbox-item]").count() == 3
    assert_accessible(page, "the Marketo page")

    run = SyncRun.objects.get()
    page.goto(demo_site.url + reverse("wagtail_dynchat_marketo_sync:cancel_sync", args=[run.pk]))
    assert_accessible(page, "the confirmation of Cancel")
    run.status = "cancelled"
    run.save()
    page.goto(demo_site.url + reverse("wagtail_dynchat_marketo_sync:start_sync"))
    page.fill("input[name=since]", "2999-01-01")
    page.click("button[type=submit]:has-text('Start initial sync')")
    expect(page.locator(".error-message")).to_contain_text("in the future")
    assert_accessible(page, "the Start form with an error")
