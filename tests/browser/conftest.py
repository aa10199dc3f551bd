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


@pytest.fixture
def new_context(browser):
    """Opens more browser contexts (a later visit, a touch device); all closed after the test."""
    contexts = []

    def open_context(**options):
        options.setdefault("reduced_motion", "reduce")
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


@pytest.fixture
def requested(page):
    """Every URL ``page`` requests, in order."""
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


@pytest.fixture
def set_triggers(demo_site):
    """Publish new triggers on a demo dialogue (by slug), e.g. ``[("scroll", {"percent": 50})]``."""
    from wagtail_dynchat.models import Dialogue

    def publish(slug, triggers):
        dialogue = Dialogue.objects.get(slug=slug)
        dialogue.triggers = triggers
        dialogue.save_revision().publish()
        return dialogue

    return publish


# Playwright's fake clock replays its whole history in every new document, so its
# performance.now() keeps counting across page loads, where a browser's restarts with each
# document (the loader's time-on-page trigger relies on that). The first script, added before the
# clock, keeps the real performance.now(); the second, added after it, rebases the fake one on
# the document's start (the clock's history is replayed by then; the test jumps ahead later).
REAL_PERFORMANCE_NOW = "globalThis.__realPerformanceNow = performance.now.bind(performance);"
PER_DOCUMENT_PERFORMANCE_NOW = """(() => {
    const real = globalThis.__realPerformanceNow;
    const fake = performance.now.bind(performance);
    let offset;
    const rebase = () => (offset ??= fake() - real());
    performance.now = () => fake() - rebase();
    addEventListener("DOMContentLoaded", rebase, {once: true, capture: true});
})();"""


def install_clock(page):
    """Install a fake clock in ``page``'s context, before its first page load.

    Time still flows as usual; ``clock.fast_forward("00:30")`` jumps ahead, firing the timers
    due on the way, so no test waits for the seconds a trigger counts.
    """
    page.context.add_init_script(REAL_PERFORMANCE_NOW)
    page.clock.install()
    page.context.add_init_script(PER_DOCUMENT_PERFORMANCE_NOW)
    return page.clock


@pytest.fixture
def clock(page):
    """``page``'s fake clock (see ``install_clock``)."""
    return install_clock(page)
