"""Headless Chromium (Debian's package) driven by Playwright against a live example site."""

import os
import shutil

import pytest
from django.core.management import call_command

from tests.conftest import ensure_wagtail_base_rows, require_service

CHROMIUM = os.environ.get("DYNCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_service("Playwright", "pip install playwright (the test extras include it)")
    if not shutil.which(CHROMIUM):
        require_service("Chromium", f"no browser at {CHROMIUM}; apt-get install chromium")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo_site(transactional_db, live_server):
    """The example site with its demo pages and dialogues, served by a live server."""
    ensure_wagtail_base_rows()
    call_command("load_dynchat_demo", verbosity=0)
    return live_server


@pytest.fixture
def page(browser):
    context = browser.new_context(reduced_motion="reduce")
    page = context.new_page()
    yield page
    context.close()
