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
    """The example site with its demo pages and dialogues, served by a live server.

    The default site's Chat settings are the widget's defaults (the demo's branding left out)
    with no response delay, so the tests don't wait for the bot to "type"; tests of branding or
    of the delay change them with ``chat_settings``.
    """
    ensure_wagtail_base_rows()
    ensure_root_collection()
    call_command("load_dynchat_demo", verbosity=0)
    reset_chat_settings(response_delay=0)
    return live_server


def ensure_root_collection():
    """Recreate the root collection (Wagtail's migrations make it; a flush removes it): the
    demo's chatbot avatar is an image, and images belong to a collection."""
    from wagtail.models import Collection

    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")


def default_site():
    from wagtail.models import Site

    return Site.objects.get(is_default_site=True)


def reset_chat_settings(**fields):
    """Replace the default site's Chat settings with a row of defaults plus ``fields``."""
    from wagtail_dynchat.models import ChatSettings

    site = default_site()
    ChatSettings.objects.filter(site=site).delete()
    # Saving a row invalidates the cached appearance and privacy rules (a post_save receiver).
    return ChatSettings.objects.create(site=site, **fields)


@pytest.fixture
def chat_settings(demo_site):
    """Change the default site's Chat settings: ``chat_settings(bot_name="Ava", …)``."""
    from wagtail_dynchat.models import ChatSettings

    def change(**fields):
        row = ChatSettings.objects.get(site=default_site())
        for name, value in fields.items():
            setattr(row, name, value)
        row.full_clean()
        row.save()
        return row

    return change


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


# ---- helpers shared by the branding, accessibility, privacy and language tests ----

CHATBOT = ".dynchat[data-dynchat-mode=chatbot]"
LAUNCHER = f"{CHATBOT} .dynchat-launcher"
PANEL = "#dynchat-panel"
LOG = "#dynchat-log"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def assert_accessible(page, where=""):
    """axe-core finds no WCAG 2.2 A/AA violation on ``page`` (the report is printed if it does)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {
        "runOnly": {"type": "tag", "values": WCAG_TAGS},
        "resultTypes": ["violations"],
    }
    results = Axe().run(page, options=options)
    if results.violations_count:
        print(f"axe violations {where}:\n{results.generate_report()}")
    assert results.violations_count == 0, f"{where}\n{results.generate_report()}"


def focused(page, selector):
    return page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector)


def tab_to(page, selector, limit=80):
    """Press Tab until ``selector`` has focus, as a keyboard-only visitor would."""
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never received focus by Tab")


def rgb(hex_colour):
    """``#rrggbb`` as the browser's computed style writes it."""
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


@pytest.fixture
def demo_pages(demo_site):
    """The demo pages by role: ``{"home", "pricing", "blog", "posts", "contact"}``."""
    from example_site.home.management.commands.load_dynchat_demo import create_demo_pages

    return create_demo_pages()  # idempotent: looks the pages up, saves nothing


def publish_dialogue(flow, *, slug, triggers=(("immediately", {}),), **options):
    """A live dialogue from raw flow data (``tests.conftest.make_dialogue``'s options), with a
    slug and triggers (shown at once by default)."""
    from tests.conftest import make_dialogue

    dialogue = make_dialogue(flow, publish=False, **options)
    dialogue.slug = slug
    dialogue.triggers = list(triggers)
    dialogue.save()
    dialogue.save_revision().publish()
    dialogue.refresh_from_db()
    return dialogue
