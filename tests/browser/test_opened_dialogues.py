"""Dialogues opened explicitly: embedded inline in page content, or opened as a pop-up by a
``#dynchat:<slug>`` link or ``window.dynchat.open()`` (docs/api.md, "Opening dialogues")."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from wagtail_dynchat.models import Conversation, Dialogue, Visitor

from .conftest import focused, tab_to

pytestmark = pytest.mark.browser

INLINE = "[data-dynchat-inline] > .dynchat[data-dynchat-mode=inline]"
POPUP = ".dynchat[data-dynchat-mode=popup]"
CHATBOT = ".dynchat[data-dynchat-mode=chatbot]"


def wait_for_focus_within(page, selector):
    page.wait_for_function(
        "(s) => document.querySelector(s)?.contains(document.activeElement) ?? false",
        arg=selector,
    )


def answers(page, root):
    return page.locator(f"{root} [data-kind=answer]").all_inner_texts()


def step(conversation):
    conversation.refresh_from_db()
    return conversation.state.get("step", 0)


def test_inline_embed_is_answered_by_keyboard_next_to_the_chatbot(demo_site, page, clock):
    page.goto(demo_site.url + "/")

    # Rendered in place, open, without a launcher and without taking focus from the page.
    page.wait_for_selector(f"{INLINE} .dynchat-choice")
    inline = f"{INLINE}[data-slug=newsletter-sign-up]"
    assert page.locator(f"main .prose {inline}").count() == 1
    assert (
        page.evaluate(
            "document.querySelector('[data-dynchat-inline]').previousElementSibling.textContent"
        )
        == "Get our monthly tips"
    )
    panel = page.locator(f"{inline} .dynchat-panel")
    assert panel.get_attribute("role") == "region"
    assert panel.is_visible()
    assert page.get_by_role("region", name="Stay in the loop").count() == 1
    assert page.locator(f"{inline} .dynchat-launcher, {inline} .dynchat-close").count() == 0
    assert page.evaluate("document.activeElement === document.body")
    embedded = Conversation.objects.get(dialogue__slug="newsletter-sign-up")
    assert embedded.mode == Conversation.MODE_INLINE

    # The home page's own chatbot ("Qualify a visitor", after 4 s) shows next to it.
    assert page.locator(CHATBOT).count() == 0
    clock.fast_forward("00:05")
    page.wait_for_selector(f"{CHATBOT}[data-slug=qualify-a-visitor] .dynchat-launcher")
    chatbot = Conversation.objects.get(dialogue__slug="qualify-a-visitor")
    assert chatbot.mode == Conversation.MODE_CHATBOT
    # One visitor has both conversations.
    assert Visitor.objects.count() == 1
    assert chatbot.visitor_id == embedded.visitor_id

    # Answering the chatbot leaves the embedded conversation alone.
    page.click(f"{CHATBOT} .dynchat-launcher")
    page.click(f"{CHATBOT} .dynchat-choice >> text=11 to 200")
    page.wait_for_selector(f"{CHATBOT} form.dynchat-form[data-input=email]")
    assert step(chatbot) == 1
    assert step(embedded) == 0
    assert answers(page, inline) == []
    page.keyboard.press("Escape")
    page.wait_for_selector("#dynchat-panel", state="hidden")

    # The embedded conversation, by keyboard alone.
    tab_to(page, f"{inline} .dynchat-choice")
    assert page.inner_text(f"{inline} .dynchat-choice >> nth=0") == "Yes please"
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{inline} form.dynchat-form[data-input=email]")
    assert focused(page, f"{inline} .dynchat-input")
    page.keyboard.type("grace@example.com")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{inline} .dynchat-choice >> text=Product")
    assert focused(page, f"{inline} .dynchat-choice")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Product"
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{inline}[data-status=completed]")
    assert "You're subscribed" in page.inner_text(f"{inline} .dynchat-log")

    embedded.refresh_from_db()
    assert embedded.status == Conversation.STATUS_COMPLETED
    assert embedded.mode == Conversation.MODE_INLINE
    assert (embedded.person.email, embedded.person.job_title) == ("grace@example.com", "Product")
    # … and leaves the chatbot's conversation (and its window) where it was.
    chatbot.refresh_from_db()
    assert chatbot.status == Conversation.STATUS_ACTIVE
    assert step(chatbot) == 1
    assert chatbot.awaiting["kind"] == "capture"
    assert answers(page, CHATBOT) == ["You: 11 to 200"]
    assert page.get_attribute(CHATBOT, "data-status") == "active"
    assert page.locator(POPUP).count() == 0


def test_opening_an_embedded_dialogue_moves_focus_into_the_embed(demo_site, page, set_triggers):
    set_triggers("qualify-a-visitor", [])
    page.goto(demo_site.url + "/")
    page.wait_for_selector(f"{INLINE} .dynchat-choice")

    page.evaluate("window.dynchat.open('newsletter-sign-up')")
    page.wait_for_function(
        "document.activeElement?.matches('[data-dynchat-inline] .dynchat-choice') ?? false"
    )
    # One chat per dialogue: no pop-up copy of the embedded one.
    assert page.locator(POPUP).count() == 0
    assert Conversation.objects.count() == 1


def test_dynchat_link_opens_a_popup(demo_site, page, requested, set_triggers):
    set_triggers("qualify-a-visitor", [])  # keep the home page's chatbot out of the way
    page.goto(demo_site.url + "/")
    page.wait_for_selector(f"{INLINE} .dynchat-choice")
    page.wait_for_load_state("networkidle")
    # The link makes no request until it is used.
    assert not any("dialogue=book-a-demo" in url for url in requested), requested

    page.click("a[href='#dynchat:book-a-demo']")
    popup = f"{POPUP}[data-slug=book-a-demo]"
    page.wait_for_selector(f"{popup} .dynchat-panel:not([hidden]) .dynchat-choice")
    panel = page.locator(f"{popup} .dynchat-panel")
    assert panel.get_attribute("role") == "dialog"
    wait_for_focus_within(page, f"{popup} .dynchat-panel")
    assert focused(page, f"{popup} .dynchat-choice")
    # The link's default is prevented: no "#dynchat:…" in the address.
    assert "#" not in page.url
    assert any("dialogue=book-a-demo" in url for url in requested)

    conversation = Conversation.objects.get(dialogue__slug="book-a-demo")
    assert conversation.mode == Conversation.MODE_POPUP
    assert page.get_attribute(popup, "data-conversation") == conversation.public_id

    # Escape closes it and gives focus to its launcher; the link opens it again.
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{popup} .dynchat-panel", state="hidden")
    assert focused(page, f"{popup} .dynchat-launcher")
    page.focus("a[href='#dynchat:book-a-demo']")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{popup} .dynchat-panel:not([hidden])")
    wait_for_focus_within(page, f"{popup} .dynchat-panel")
    assert page.locator(POPUP).count() == 1
    assert Conversation.objects.count() == 2  # the embed's and the pop-up's


def test_javascript_api_opens_a_popup_next_to_the_chatbot(demo_site, page):
    # /pricing/ shows "Book a demo" as its chatbot at once.
    page.goto(f"{demo_site.url}/pricing/")
    page.wait_for_selector(f"{CHATBOT}[data-slug=book-a-demo] .dynchat-launcher")
    page.click(f"{CHATBOT} .dynchat-launcher")
    page.wait_for_selector("#dynchat-panel:not([hidden])")

    page.evaluate("window.dynchat.open('newsletter-sign-up')")
    popup = f"{POPUP}[data-slug=newsletter-sign-up]"
    page.wait_for_selector(f"{popup} .dynchat-panel:not([hidden]) .dynchat-choice")
    wait_for_focus_within(page, f"{popup} .dynchat-panel")
    # Floating chats share the corner: the chatbot's panel folded away, its launcher stays.
    assert page.is_hidden("#dynchat-panel")
    assert page.is_visible(f"{CHATBOT} .dynchat-launcher")

    popup_conversation = Conversation.objects.get(dialogue__slug="newsletter-sign-up")
    assert popup_conversation.mode == Conversation.MODE_POPUP
    chatbot = Conversation.objects.get(dialogue__slug="book-a-demo")
    assert chatbot.mode == Conversation.MODE_CHATBOT

    # Each answers on its own.
    page.click(f"{popup} .dynchat-choice >> text=No thanks")
    page.wait_for_selector(f"{popup}[data-status=completed]", state="attached")
    popup_conversation.refresh_from_db()
    assert popup_conversation.status == Conversation.STATUS_COMPLETED
    assert step(chatbot) == 0
    assert answers(page, CHATBOT) == []


def test_home_page_with_open_chats_has_no_accessibility_violations(demo_site, page, clock):
    page.goto(demo_site.url + "/")
    page.wait_for_selector(f"{INLINE} .dynchat-choice")
    clock.fast_forward("00:05")
    page.click(f"{CHATBOT} .dynchat-launcher")
    page.wait_for_selector("#dynchat-panel:not([hidden]) .dynchat-choice")

    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()

    # And with a pop-up opened by the hero's link over them.
    page.click("a[href='#dynchat:book-a-demo']")
    page.wait_for_selector(f"{POPUP} .dynchat-panel:not([hidden]) .dynchat-choice")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_page_without_chats_loads_only_the_loader_and_links_stay_links(demo_site, page, requested):
    Dialogue.objects.get(slug="book-a-demo").unpublish()
    page.goto(f"{demo_site.url}/contact/")
    page.wait_for_load_state("networkidle")

    def chat_requests():
        return [url for url in requested if "dynchat" in url]

    assert [url.rsplit("/", 1)[-1] for url in chat_requests()] == ["loader.js"]
    assert page.evaluate("typeof window.dynchat.open") == "function"

    # An in-page link, then a link to another page without candidates.
    page.focus(".skip-link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/contact/#main")
    page.click(".site-nav a[href$='/pricing/']")
    page.wait_for_url("**/pricing/")
    page.wait_for_load_state("networkidle")

    assert [url.rsplit("/", 1)[-1] for url in chat_requests()] == ["loader.js", "loader.js"]
    assert page.locator(".dynchat, link[href*='widget.css']").count() == 0
    assert not any(c["name"].startswith("dynchat") for c in page.context.cookies())
    assert (
        page.evaluate("Object.keys(localStorage).filter((key) => key.startsWith('dynchat'))") == []
    )
    assert not Visitor.objects.exists()
    assert not Conversation.objects.exists()


# A visitor has one active conversation per dialogue, and its mode is fixed when it is created:
# conversations.start() hands the chatbot (or an embed) the conversation another form of the same
# dialogue created, mode and all. "Engaged chatbot and pop-up conversations follow the visitor to
# other pages; inline ones stay in the page that embeds them" (docs/api.md) then goes wrong both
# ways round.


def test_a_conversation_answered_in_an_embed_stays_in_its_page(demo_site, page, set_triggers):
    set_triggers("newsletter-sign-up", [("immediately", {})])
    # Shown (not answered) as the blog's chatbot first …
    page.goto(f"{demo_site.url}/blog/")
    page.wait_for_selector(f"{CHATBOT}[data-slug=newsletter-sign-up] .dynchat-launcher")
    # … then answered in the home page's embed.
    page.goto(demo_site.url + "/")
    page.click(f"{INLINE} .dynchat-choice >> text=Yes please")
    page.wait_for_selector(f"{INLINE} form.dynchat-form[data-input=email]")
    assert Conversation.objects.get(engaged_at__isnull=False).mode == Conversation.MODE_INLINE

    # It stays there: /contact/ shows its own chatbot.
    page.goto(f"{demo_site.url}/contact/")
    page.wait_for_selector(f"{CHATBOT}[data-slug=book-a-demo] .dynchat-launcher")


def test_a_conversation_answered_in_the_chatbot_follows_the_visitor(demo_site, page, set_triggers):
    set_triggers("newsletter-sign-up", [("immediately", {})])
    # Shown (not answered) in the home page's embed first …
    page.goto(demo_site.url + "/")
    page.wait_for_selector(f"{INLINE} .dynchat-choice")
    # … then answered as the blog's chatbot.
    page.goto(f"{demo_site.url}/blog/")
    page.click(f"{CHATBOT} .dynchat-launcher")
    page.click(f"{CHATBOT} .dynchat-choice >> text=Yes please")
    page.wait_for_selector(f"{CHATBOT} form.dynchat-form[data-input=email]")
    assert Conversation.objects.get(engaged_at__isnull=False).mode == Conversation.MODE_CHATBOT

    # Engaged, it continues on other pages and is not displaced by their dialogue.
    page.goto(f"{demo_site.url}/contact/")
    page.wait_for_selector(f"{CHATBOT}[data-slug=newsletter-sign-up] .dynchat-launcher")
