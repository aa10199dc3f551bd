"""A visitor chats on the example site in a real browser."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from wagtail_dynchat.models import Conversation, ConversationEvent, Person

pytestmark = pytest.mark.browser


def tab_to(page, selector, limit=80):
    """Press Tab until ``selector`` has focus, as a keyboard-only visitor would."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never received focus by Tab")


def focused(page, selector):
    return page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector)


def test_keyboard_only_visitor_books_a_demo(demo_site, page):
    page.goto(f"{demo_site.url}/pricing/")
    page.wait_for_selector(".dynchat-launcher")

    tab_to(page, ".dynchat-launcher")
    page.keyboard.press("Enter")
    page.wait_for_selector("#dynchat-panel:not([hidden])")
    assert page.get_attribute("#dynchat-panel", "role") == "dialog"
    assert page.get_attribute("#dynchat-log", "aria-live") == "polite"
    assert focused(page, ".dynchat-choice")
    assert page.inner_text(".dynchat-choice >> nth=0") == "Yes, book a demo"
    page.keyboard.press("Enter")

    page.wait_for_selector("form.dynchat-form[data-input=email]")
    assert focused(page, ".dynchat-input")
    page.keyboard.type("ada.example.com")
    page.keyboard.press("Enter")
    retry = page.wait_for_selector(".dynchat-retry")
    assert "e-mail" in retry.inner_text()
    assert page.get_attribute(".dynchat-input", "aria-invalid") == "true"
    assert focused(page, ".dynchat-input")

    # Reloading mid-conversation brings the whole transcript back.
    page.reload()
    page.wait_for_selector(".dynchat-retry")
    assert page.locator("[data-kind=answer]").first.inner_text().endswith("Yes, book a demo")
    tab_to(page, ".dynchat-input")

    page.keyboard.press("Control+A")
    page.keyboard.type("ada@example.com")
    page.keyboard.press("Enter")
    page.wait_for_selector("form.dynchat-form[data-input=text] .dynchat-input[placeholder=Ada]")
    assert focused(page, ".dynchat-input")
    page.keyboard.type("Ada")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelectorAll('[data-kind=answer]').length === 3")
    page.wait_for_selector(".dynchat-skip")
    page.keyboard.type("Analytical Engines Ltd")
    page.keyboard.press("Enter")

    page.wait_for_selector(".dynchat-end")
    assert "Thanks Ada!" in page.inner_text("#dynchat-log")
    # Closing is reported fire-and-forget; wait for it before reading the database.
    with page.expect_response(lambda response: response.url.endswith("/close")):
        page.keyboard.press("Escape")
    page.wait_for_selector("#dynchat-panel", state="hidden")
    assert focused(page, ".dynchat-launcher")

    person = Person.objects.get(email="ada@example.com")
    assert (person.first_name, person.company) == ("Ada", "Analytical Engines Ltd")
    conversation = Conversation.objects.get(person=person)
    assert conversation.status == Conversation.STATUS_COMPLETED
    assert conversation.score == 3
    kinds = list(conversation.events.values_list("kind", flat=True))
    for kind in ("triggered", "engaged", "rejected", "captured", "goal", "completed", "closed"):
        assert kind in kinds, kinds
    assert kinds.count(ConversationEvent.TRIGGERED) == 1


def test_open_chat_has_no_accessibility_violations(demo_site, page):
    page.goto(f"{demo_site.url}/pricing/")
    page.click(".dynchat-launcher")
    page.wait_for_selector(".dynchat-choice")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def test_page_without_a_targeted_dialogue_loads_only_the_loader(demo_site, page):
    from wagtail_dynchat.models import Dialogue

    Dialogue.objects.get(name="Book a demo").unpublish()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{demo_site.url}/contact/")
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("/wagtail_dynchat/loader.js") for url in requested)
    assert not any("widget.js" in url or "widget.css" in url for url in requested), requested
    assert not any("/dynchat/api/" in url for url in requested), requested
    assert page.query_selector(".dynchat-launcher") is None
