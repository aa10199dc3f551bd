"""WCAG 2.2 AA in a real browser: axe-core at every kind of card, 400 % zoom, keyboard-only use,
the live region and the "latest message" button (docs/api.md, "The widget")."""

import pytest
from playwright.sync_api import expect

from tests.conftest import branch, capture, message, question
from wagtail_dynchat.models import Conversation
from wagtail_dynchat.snippets.blueprints import document, picklist

from .conftest import (
    CHATBOT,
    LAUNCHER,
    LOG,
    PANEL,
    assert_accessible,
    focused,
    publish_dialogue,
    tab_to,
)

pytestmark = pytest.mark.browser

INLINE = "[data-dynchat-inline] > .dynchat[data-dynchat-mode=inline]"


CARDS_FLOW = [
    branch(
        "start",
        "Start",
        message("<p>Hello! Let's try every kind of card.</p>"),
        question("<p>Shall we start?</p>", [("Yes", "yes", ""), ("No", "no", "")]),
        capture("email", "<p>Your e-mail address?</p>", "email", placeholder="you@company.com"),
        picklist(
            "<p>How big is your team?</p>",
            "",
            [("Just me", "1"), ("2 to 50", "2-50"), ("More than 50", "50+")],
            policy="always",
        ),
        capture("date", "<p>When would you like a call?</p>", "", policy="always"),
        document("<p>Here is our price list.</p>", "Price list (PDF)", "https://example.com/p.pdf"),
        question("<p>Anything else?</p>", [("No, that's all", "done", "")]),
        message("<p>Thank you, goodbye!</p>"),
    ),
]


@pytest.fixture
def cards_dialogue(demo_pages):
    """Every card type, shown at once as the contact page's chatbot (above "Book a demo")."""
    return publish_dialogue(
        CARDS_FLOW,
        name="Every card",
        title="Every card",
        slug="every-card",
        priority=90,
        targets=[(demo_pages["contact"], "page")],
    )


def test_every_card_type_passes_axe(demo_site, page, cards_dialogue):
    page.goto(f"{demo_site.url}/contact/")
    page.locator(LAUNCHER).click()
    form = page.locator(f"{CHATBOT} form.dynchat-form")

    # A message and a question.
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_visible()
    expect(page.locator(f"{LOG} [data-kind=message]")).to_have_count(1)
    assert_accessible(page, "message + question")

    page.locator(f"{CHATBOT} .dynchat-choice", has_text="Yes").click()
    expect(form).to_have_attribute("data-input", "email")
    assert_accessible(page, "e-mail capture")

    page.locator(f"{CHATBOT} .dynchat-input").fill("not-an-address")
    page.locator(f"{CHATBOT} .dynchat-send").click()
    expect(page.locator(f"{LOG} [data-kind=retry]")).to_have_count(1)
    expect(page.locator(f"{CHATBOT} .dynchat-input")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "retry")

    page.locator(f"{CHATBOT} .dynchat-input").fill("ada@example.com")
    page.locator(f"{CHATBOT} .dynchat-send").click()
    expect(form).to_have_attribute("data-input", "select")
    expect(page.locator(f"{CHATBOT} select.dynchat-input")).to_be_visible()
    assert_accessible(page, "pick list")

    page.locator(f"{CHATBOT} select.dynchat-input").select_option("2-50")
    page.locator(f"{CHATBOT} .dynchat-send").click()
    expect(form).to_have_attribute("data-input", "date")
    expect(page.locator(f"{CHATBOT} input[type=date]")).to_be_visible()
    assert_accessible(page, "date capture")

    page.locator(f"{CHATBOT} input[type=date]").fill("2030-01-15")
    page.locator(f"{CHATBOT} .dynchat-send").click()
    expect(page.locator(f"{LOG} [data-kind=document] a.dynchat-doc")).to_have_attribute(
        "href", "https://example.com/p.pdf"
    )
    expect(page.locator(f"{CHATBOT} .dynchat-choice")).to_have_text("No, that's all")
    assert_accessible(page, "document card")

    page.locator(f"{CHATBOT} .dynchat-choice").click()
    expect(page.locator(f"{LOG} .dynchat-end")).to_be_visible()
    expect(page.locator(CHATBOT)).to_have_attribute("data-status", "completed")
    assert_accessible(page, "completed")

    conversation = Conversation.objects.get(dialogue__slug="every-card")
    assert conversation.status == Conversation.STATUS_COMPLETED


def test_the_poke_passes_axe(demo_site, page):
    page.goto(f"{demo_site.url}/pricing/")
    expect(page.locator(f"{CHATBOT} .dynchat-poke")).to_be_visible(timeout=10_000)
    assert_accessible(page, "poke")


def test_the_consent_card_passes_axe(demo_site, page, chat_settings):
    chat_settings(consent_required=True, privacy_url="/privacy/")
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    expect(page.locator(f"{LOG} [data-kind=consent]")).to_be_visible()
    assert_accessible(page, "consent card")


def test_the_inline_embed_passes_axe(demo_site, page, set_triggers):
    set_triggers("qualify-a-visitor", [])  # only the embed on the home page
    page.goto(demo_site.url + "/")
    expect(page.locator(f"{INLINE} .dynchat-choice").first).to_be_visible(timeout=10_000)
    assert_accessible(page, "inline embed")
    page.locator(f"{INLINE} .dynchat-choice", has_text="Yes please").click()
    expect(page.locator(f"{INLINE} form.dynchat-form[data-input=email]")).to_be_visible()
    assert_accessible(page, "inline embed, e-mail capture")


# ---- 400 % zoom (WCAG 1.4.10 Reflow): 1280x1024 at 400 % is 320x256 CSS pixels ---------------

ZOOMED = {"viewport": {"width": 320, "height": 256}}


def in_viewport(page, locator):
    box = locator.bounding_box()
    viewport = page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= viewport["width"]
        and box["y"] + box["height"] <= viewport["height"]
    )


def test_the_open_chat_reflows_at_400_percent_zoom(demo_site, new_context):
    page = new_context(**ZOOMED).new_page()
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    choice = page.locator(f"{CHATBOT} .dynchat-choice").first
    expect(choice).to_be_focused()
    page.keyboard.press("Enter")
    field = page.locator(f"{CHATBOT} .dynchat-input")
    expect(field).to_be_focused()

    # No scrolling in two directions: nothing is wider than the viewport.
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 320
    panel_width = page.locator(PANEL).evaluate("(el) => el.scrollWidth")
    assert panel_width <= 320

    # The field and the send button can be reached (scrolled into view) and fit the viewport.
    send = page.locator(f"{CHATBOT} .dynchat-send")
    for control in (field, send):
        control.scroll_into_view_if_needed()
        expect(control).to_be_visible()
        assert in_viewport(page, control), control.bounding_box()
    page.keyboard.press("Tab")
    expect(send).to_be_focused()
    assert in_viewport(page, send)
    assert_accessible(page, "400 % zoom")

    # And the chat works there.
    field.fill("ada@example.com")
    send.click()
    expect(page.locator(f"{CHATBOT} .dynchat-input[placeholder=Ada]")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320


# ---- keyboard only ---------------------------------------------------------------------------


def assert_focus_visible(page):
    """The focused element shows a focus indicator (an outline that is not none)."""
    outline = page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {style: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    visible: el.matches(":focus-visible"), tag: el.outerHTML.slice(0, 80)};
        }"""
    )
    assert outline["visible"], outline
    assert outline["style"] != "none" and outline["width"] >= 2, outline


def test_a_keyboard_only_visitor_consents_and_completes_a_dialogue(demo_site, page, chat_settings):
    chat_settings(consent_required=True, consent_text="May we keep what you tell us?")
    page.goto(f"{demo_site.url}/pricing/")
    expect(page.locator(LAUNCHER)).to_be_visible(timeout=10_000)

    tab_to(page, LAUNCHER)
    assert_focus_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator(PANEL)).to_be_visible()
    expect(page.locator(f"{LOG} [data-kind=consent]")).to_contain_text("May we keep")

    tab_to(page, f"{PANEL} .dynchat-send")
    expect(page.locator(f"{PANEL} .dynchat-send")).to_have_text("Accept and chat")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    # Consent given: the dialogue starts and its first answer has focus.
    choice = page.locator(f"{CHATBOT} .dynchat-choice").first
    expect(choice).to_be_focused()
    expect(choice).to_have_text("Yes, book a demo")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    field = page.locator(f"{CHATBOT} form[data-input=email] .dynchat-input")
    expect(field).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.type("kim@example.com")
    page.keyboard.press("Enter")

    field = page.locator(f"{CHATBOT} .dynchat-input[placeholder=Ada]")
    expect(field).to_be_focused()
    page.keyboard.type("Kim")
    page.keyboard.press("Enter")

    skip = page.locator(f"{CHATBOT} .dynchat-skip")
    expect(skip).to_be_visible()
    expect(page.locator(f"{CHATBOT} .dynchat-input")).to_be_focused()
    # Optional: Tab to Skip and press it.
    tab_to(page, f"{CHATBOT} .dynchat-skip")
    assert_focus_visible(page)
    page.keyboard.press("Enter")

    expect(page.locator(f"{LOG} .dynchat-end")).to_be_visible()
    expect(page.locator(LOG)).to_contain_text("Thanks Kim!")
    # Nothing left to answer: focus stays in the chat, on the log.
    expect(page.locator(LOG)).to_be_focused()
    assert_focus_visible(page)

    page.keyboard.press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_be_focused()
    assert_focus_visible(page)
    conversation = Conversation.objects.get(dialogue__slug="book-a-demo")
    assert conversation.status == Conversation.STATUS_COMPLETED
    assert conversation.person.email == "kim@example.com"


# ---- the live region -------------------------------------------------------------------------

# Records what is added to and removed from every chat log, in order.
RECORD_LOG = """
window.__logChanges = [];
new MutationObserver((mutations) => {
    for (const mutation of mutations) {
        if (!mutation.target.matches?.("[role=log]")) continue;
        const name = (node) => node.dataset?.kind || (node.classList?.contains("dynchat-typing")
            ? "typing" : node.className || node.nodeName);
        for (const node of mutation.addedNodes) {
            window.__logChanges.push(["+", name(node), node.dataset?.card || ""]);
        }
        for (const node of mutation.removedNodes) {
            window.__logChanges.push(["-", name(node), node.dataset?.card || ""]);
        }
    }
}).observe(document, {childList: true, subtree: true});
"""


def log_changes(page):
    return [tuple(change) for change in page.evaluate("window.__logChanges")]


def kinds(page):
    return page.locator(f"{LOG} > [data-kind]").evaluate_all(
        "(items) => items.map((item) => item.dataset.kind)"
    )


def test_each_bot_message_is_added_to_the_live_region_once(demo_site, page):
    page.add_init_script(RECORD_LOG)
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    log = page.locator(LOG)
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_visible()
    assert kinds(page) == ["question"]

    page.locator(f"{CHATBOT} .dynchat-choice", has_text="Yes, book a demo").click()
    expect(page.locator(f"{LOG} [data-kind=capture]")).to_have_count(1)
    assert kinds(page) == ["question", "answer", "message", "capture"]
    # (The log is filled before the chat is attached to the page, so the question is not seen.)
    added = [change for change in log_changes(page) if change[0] == "+" and change[2]]
    assert len(added) == len(set(added)), added  # nothing added twice
    assert [kind for _, kind, _ in added] == ["answer", "message", "capture"]
    # The transcript is never redrawn after an answer: nothing was removed.
    assert not [change for change in log_changes(page) if change[0] == "-"], log_changes(page)

    page.locator(f"{CHATBOT} .dynchat-input").fill("x@example.com")
    page.keyboard.press("Enter")
    expect(page.locator(f"{LOG} [data-kind=capture]")).to_have_count(2)
    assert kinds(page) == ["question", "answer", "message", "capture", "answer", "capture"]


def test_the_typing_indicator_shows_during_the_response_delay(demo_site, page, chat_settings):
    chat_settings(response_delay=400, typing_indicator=True)
    page.add_init_script(RECORD_LOG)
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    page.locator(f"{CHATBOT} .dynchat-choice", has_text="Yes, book a demo").click()

    typing = page.locator(f"{LOG} .dynchat-typing")
    expect(typing).to_be_visible()
    expect(typing).to_have_attribute("aria-hidden", "true")
    expect(page.locator(f"{LOG} [data-kind=message]")).to_have_count(1)
    expect(page.locator(f"{LOG} [data-kind=capture]")).to_have_count(1)
    expect(typing).to_have_count(0)

    # Each bot item came after its own indicator, which was gone before the item appeared.
    changes = [change[:2] for change in log_changes(page)]
    after_answer = changes[changes.index(("+", "answer")) + 1 :]
    assert after_answer == [
        ("+", "typing"),
        ("-", "typing"),
        ("+", "message"),
        ("+", "typing"),
        ("-", "typing"),
        ("+", "capture"),
    ], changes


def test_without_the_typing_indicator_none_ever_shows(demo_site, page, chat_settings):
    chat_settings(response_delay=400, typing_indicator=False)
    page.add_init_script(RECORD_LOG)
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    page.locator(f"{CHATBOT} .dynchat-choice", has_text="Yes, book a demo").click()
    expect(page.locator(f"{LOG} [data-kind=capture]")).to_have_count(1)
    assert ("+", "typing", "") not in log_changes(page), log_changes(page)
    assert page.locator(f"{LOG} .dynchat-typing").count() == 0


# ---- "Show the latest message" ---------------------------------------------------------------

LONG_FLOW = [
    branch(
        "start",
        "Start",
        *[
            message(f"<p>Message number {n}: a line long enough to wrap once.</p>")
            for n in range(14)
        ],
        question("<p>Read them all?</p>", [("Yes", "yes", ""), ("No", "no", "")]),
        message("<p>Good.</p>"),
    ),
]


@pytest.fixture
def long_dialogue(demo_pages):
    return publish_dialogue(
        LONG_FLOW,
        name="Many messages",
        title="Many messages",
        slug="many-messages",
        priority=90,
        targets=[(demo_pages["contact"], "page")],
    )


def at_end(log):
    return log.evaluate("(log) => log.scrollHeight - log.scrollTop - log.clientHeight < 2")


def test_the_latest_message_button_brings_back_the_end_of_the_log(
    demo_site, new_context, long_dialogue
):
    page = new_context(viewport={"width": 800, "height": 560}).new_page()
    page.goto(f"{demo_site.url}/contact/")
    page.locator(LAUNCHER).click()
    log = page.locator(LOG)
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_focused()
    assert log.evaluate("(log) => log.scrollHeight > log.clientHeight + 100")
    latest = page.locator(f"{CHATBOT} .dynchat-latest")
    expect(latest).to_be_hidden()

    log.evaluate("(log) => { log.scrollTop = 0; }")
    expect(latest).to_be_visible()
    expect(latest).to_have_text("Show the latest message")

    # By keyboard: Tab from the log reaches the button.
    log.focus()
    page.keyboard.press("Tab")
    expect(latest).to_be_focused()
    page.keyboard.press("Enter")
    expect(latest).to_be_hidden()
    page.wait_for_function(
        "() => { const l = document.querySelector('#dynchat-log');"
        " return l.scrollHeight - l.scrollTop - l.clientHeight < 2; }"
    )
    # Focus stays in the chat, on the log, not on <body>.
    expect(log).to_be_focused()

    # And by pointer.
    log.evaluate("(log) => { log.scrollTop = 0; }")
    expect(latest).to_be_visible()
    latest.click()
    expect(latest).to_be_hidden()
    assert at_end(log)
    expect(log).to_be_focused()


def test_no_latest_message_button_when_switched_off(
    demo_site, new_context, long_dialogue, chat_settings
):
    chat_settings(scroll_button=False)
    page = new_context(viewport={"width": 800, "height": 560}).new_page()
    page.goto(f"{demo_site.url}/contact/")
    page.locator(LAUNCHER).click()
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_focused()
    page.locator(LOG).evaluate("(log) => { log.scrollTop = 0; }")
    expect(page.locator(f"{CHATBOT} .dynchat-latest")).to_have_count(0)
    assert focused(page, f"{CHATBOT} .dynchat-choice")
