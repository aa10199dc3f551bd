"""Privacy in a real browser: the privacy-policy link, consent before anything is stored
(docs/api.md, "Consent"), Do-Not-Track/Global Privacy Control, and a strict Content Security
Policy."""

import pytest
from playwright.sync_api import expect

from wagtail_dynchat.models import Conversation, ConversationEvent, Person, Visitor

from .conftest import CHATBOT, LAUNCHER, LOG, PANEL

pytestmark = pytest.mark.browser

INLINE = "[data-dynchat-inline] > .dynchat[data-dynchat-mode=inline]"
POPUP = ".dynchat[data-dynchat-mode=popup]"
CONSENT_TEXT = "Acme keeps your answers for a year to follow up. Is that all right?"


def test_the_panel_links_the_privacy_policy(demo_site, page, chat_settings):
    chat_settings(privacy_url="/privacy/")
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    link = page.locator(f"{PANEL} .dynchat-footer a")
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", "/privacy/")
    expect(link).to_contain_text("Privacy policy")
    expect(page.get_by_role("link", name="Privacy policy")).to_have_count(1)


def test_no_privacy_link_without_an_address(demo_site, page):
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_visible()
    expect(page.locator(f"{PANEL} .dynchat-footer")).to_have_count(0)


# ---- consent ---------------------------------------------------------------------------------


def stored_rows():
    return {
        model.__name__: model.objects.count()
        for model in (Visitor, Person, Conversation, ConversationEvent)
    }


NOTHING_STORED = {"Visitor": 0, "Person": 0, "Conversation": 0, "ConversationEvent": 0}


def assert_nothing_stored(page):
    assert stored_rows() == NOTHING_STORED
    assert page.context.cookies() == []
    assert page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]


@pytest.fixture
def consent_site(chat_settings):
    return chat_settings(consent_required=True, consent_text=CONSENT_TEXT, privacy_url="/privacy/")


def test_nothing_is_stored_before_consent(demo_site, page, consent_site):
    with page.expect_response(lambda response: "/dynchat/api/bootstrap?" in response.url):
        page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()

    card = page.locator(f"{LOG} [data-kind=consent]")
    expect(card).to_be_visible()
    expect(card).to_contain_text(CONSENT_TEXT)
    expect(card.get_by_role("link", name="Privacy policy")).to_have_attribute("href", "/privacy/")
    expect(page.locator(f"{PANEL} .dynchat-send")).to_have_text("Accept and chat")
    expect(page.locator(f"{PANEL} .dynchat-skip")).to_have_text("No, thanks")
    # Instead of the dialogue: no question yet.
    expect(page.locator(f"{CHATBOT} .dynchat-choice")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert_nothing_stored(page)


def test_declining_stores_nothing(demo_site, page, consent_site):
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.locator(f"{PANEL} .dynchat-skip").click()

    declined = page.locator(f"{LOG} [data-kind=system]")
    expect(declined).to_have_text("Nothing was stored. You can open the chat again at any time.")
    page.wait_for_load_state("networkidle")
    # A refusal is kept in memory only: not even sent to the server.
    assert not [url for url in requests if "/dynchat/api/" in url], requests
    assert_nothing_stored(page)

    # Closed and opened again, the chat still asks, and accepting then works.
    page.keyboard.press("Escape")
    page.locator(LAUNCHER).click()
    expect(declined).to_be_visible()
    page.locator(f"{PANEL} .dynchat-send").click()
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_focused()
    assert Conversation.objects.count() == 1


def test_declining_tells_the_visitor_that_nothing_was_stored(demo_site, page, consent_site):
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    decline = page.locator(f"{PANEL} .dynchat-skip")
    decline.click()
    declined = page.locator(f"{LOG} [data-kind=system]")
    expect(declined).to_have_text("Nothing was stored. You can open the chat again at any time.")
    expect(declined).to_be_visible(timeout=2_000)
    # Focus moves to the log, which announces the message; declining again says it once only.
    expect(page.locator(LOG)).to_be_focused()
    decline.click()
    expect(declined).to_have_count(1)


def test_accepting_starts_the_conversation(demo_site, page, consent_site):
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    expect(page.locator(f"{LOG} [data-kind=consent]")).to_be_visible()
    assert_nothing_stored(page)

    page.locator(f"{PANEL} .dynchat-send").click()
    choice = page.locator(f"{CHATBOT} .dynchat-choice").first
    expect(choice).to_be_focused()
    expect(page.locator(CHATBOT)).to_have_attribute("data-status", "active")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert cookies["dynchat_consent"]["value"] == "1", cookies
    assert cookies["dynchat_consent"]["httpOnly"]
    assert {"dynchat_vid", "dynchat_sid"} <= set(cookies), cookies
    conversation = Conversation.objects.get(dialogue__slug="book-a-demo")
    assert Visitor.objects.count() == 1
    assert conversation.events.filter(kind=ConversationEvent.TRIGGERED).count() == 1

    # The chat goes on.
    choice.click()
    expect(page.locator(f"{CHATBOT} form[data-input=email]")).to_be_visible()
    conversation.refresh_from_db()
    assert conversation.state.get("step") == 1

    # A later page asks no more.
    page.goto(f"{demo_site.url}/contact/")
    page.locator(LAUNCHER).click()
    expect(page.locator(f"{CHATBOT} form[data-input=email]")).to_be_visible()
    expect(page.locator(f"{LOG} [data-kind=consent]")).to_have_count(0)


def test_consent_given_in_one_chat_starts_the_inline_embed_too(
    demo_site, page, consent_site, set_triggers
):
    set_triggers("qualify-a-visitor", [])  # no chatbot on the home page: a pop-up asks instead
    page.goto(demo_site.url + "/")
    inline = page.locator(INLINE)
    expect(inline.locator("[data-kind=consent]")).to_be_visible()
    expect(inline.locator(".dynchat-choice")).to_have_count(0)
    page.wait_for_load_state("networkidle")
    assert_nothing_stored(page)

    page.click("a[href='#dynchat:book-a-demo']")
    popup = page.locator(POPUP)
    expect(popup.locator("[data-kind=consent]")).to_be_visible()
    assert_nothing_stored(page)
    popup.locator(".dynchat-send").click()

    # Both chats start: the pop-up's question has focus, the embed shows its own.
    expect(popup.locator(".dynchat-choice").first).to_be_focused()
    expect(inline.locator(".dynchat-choice").first).to_have_text("Yes please")
    expect(inline).to_have_attribute("data-status", "active")
    modes = dict(Conversation.objects.values_list("dialogue__slug", "mode"))
    assert modes == {
        "book-a-demo": Conversation.MODE_POPUP,
        "newsletter-sign-up": Conversation.MODE_INLINE,
    }
    assert Visitor.objects.count() == 1

    inline.locator(".dynchat-choice", has_text="Yes please").click()
    expect(inline.locator("form[data-input=email]")).to_be_visible()


@pytest.mark.parametrize("gpc", [True, False])
def test_global_privacy_control_asks_for_consent(demo_site, new_context, chat_settings, gpc):
    chat_settings(honour_dnt_gpc=True)
    headers = {"Sec-GPC": "1"} if gpc else {}
    page = new_context(extra_http_headers=headers).new_page()
    page.goto(f"{demo_site.url}/pricing/")
    page.locator(LAUNCHER).click()
    expect(page.locator(PANEL)).to_be_visible()
    if gpc:
        expect(page.locator(f"{LOG} [data-kind=consent]")).to_be_visible()
        expect(page.locator(f"{CHATBOT} .dynchat-choice")).to_have_count(0)
        page.wait_for_load_state("networkidle")
        assert_nothing_stored(page)
    else:
        expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_visible()
        expect(page.locator(f"{LOG} [data-kind=consent]")).to_have_count(0)
        assert Conversation.objects.count() == 1


# ---- a strict Content Security Policy -------------------------------------------------------

RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push({
        directive: event.effectiveDirective,
        blocked: event.blockedURI,
        source: event.sourceFile,
        sample: event.sample,
    });
});
"""


@pytest.fixture
def csp(settings, live_server):
    """Put a CSP middleware (``tests.csp_middleware``) in front of the live server's pages."""
    from django.core.handlers.base import BaseHandler

    original = list(settings.MIDDLEWARE)

    def handlers():
        # The live server built its middleware chain when it started: rebuild it.
        app = live_server.thread.httpd.get_app()
        while app is not None:
            if isinstance(app, BaseHandler):
                yield app
            app = getattr(app, "application", None)

    def use(name):
        settings.MIDDLEWARE = [*original, f"tests.csp_middleware.{name}"]
        for handler in handlers():
            handler.load_middleware()

    yield use
    settings.MIDDLEWARE = original
    for handler in handlers():
        handler.load_middleware()


def csp_violations(page):
    return page.evaluate("window.__cspViolations")


@pytest.mark.parametrize("middleware", ["StrictCSPMiddleware", "SelfOnlyCSPMiddleware"])
def test_the_chat_works_under_a_strict_csp(demo_site, page, csp, middleware):
    csp(middleware)
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    response = page.goto(f"{demo_site.url}/pricing/")
    policy = response.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy
    loader = page.locator("script[src$='wagtail_dynchat/loader.js']")
    if middleware == "StrictCSPMiddleware":
        assert "'strict-dynamic'" in policy
        nonce = loader.evaluate("(script) => script.nonce")
        assert nonce and f"'nonce-{nonce}'" in policy
    else:
        assert "script-src 'self';" in policy
        assert loader.get_attribute("nonce") is None

    # End to end: the question, an e-mail, a name, the optional company skipped.
    page.locator(LAUNCHER).click()
    page.locator(f"{CHATBOT} .dynchat-choice", has_text="Yes, book a demo").click()
    page.locator(f"{CHATBOT} form[data-input=email] .dynchat-input").fill("lin@example.com")
    page.keyboard.press("Enter")
    page.locator(f"{CHATBOT} .dynchat-input[placeholder=Ada]").fill("Lin")
    page.keyboard.press("Enter")
    page.locator(f"{CHATBOT} .dynchat-skip").click()
    expect(page.locator(f"{LOG} .dynchat-end")).to_be_visible()
    expect(page.locator(LOG)).to_contain_text("Thanks Lin!")
    # The widget's style sheet applied (the launcher is positioned, the header coloured).
    assert page.locator(LAUNCHER).evaluate("(el) => getComputedStyle(el).position") == "fixed"
    conversation = Conversation.objects.get(dialogue__slug="book-a-demo")
    assert conversation.status == Conversation.STATUS_COMPLETED

    violations = csp_violations(page)
    chat_violations = [
        violation
        for violation in violations
        if "dynchat" in f"{violation['blocked']} {violation['source']}"
        or violation["source"] in ("", None)
    ]
    assert chat_violations == [], (violations, console)
    assert violations == [], (violations, console)
    assert not [text for text in console if "Content Security Policy" in text], console
