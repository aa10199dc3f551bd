"""The chat speaks the page's language: German pages get German system texts, dates and retry
messages; a right-to-left language mirrors the chat (docs/api.md, the bootstrap ``setup``)."""

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect
from wagtail.models import Locale, Page

from wagtail_dynchat.models import Conversation, Dialogue
from wagtail_dynchat.widget_strings import STRINGS

from .conftest import CHATBOT, LAUNCHER, LOG, PANEL, assert_accessible

pytestmark = pytest.mark.browser


def live(page):
    return Page.objects.get(pk=page.pk).specific


def translate_page(page, locale):
    """Translate ``page`` (and its untranslated parents) into ``locale`` and publish it."""
    copy = live(page).copy_for_translation(locale, copy_parents=True)
    copy.save_revision().publish()
    return live(copy)


def translate_dialogue(slug, locale, **fields):
    """Translate a demo dialogue the way an editor does, then publish the translation."""
    original = Dialogue.objects.get(slug=slug, locale=Locale.get_default())
    translation_ = original.copy_for_translation(locale)
    for name, value in fields.items():
        setattr(translation_, name, value)
    translation_.save()
    translation_.save_revision().publish()
    translation_.refresh_from_db()
    return translation_


def german_strings():
    with translation.override("de"):
        return {key: str(text) for key, text in STRINGS.items()}


@pytest.fixture
def german(demo_pages):
    locale = Locale.objects.create(language_code="de")
    pricing = translate_page(demo_pages["pricing"], locale)
    home = live(pricing.get_parent())
    assert home.locale == locale and home.translation_key == demo_pages["home"].translation_key
    dialogue = translate_dialogue("book-a-demo", locale, title="Demo buchen")
    return {"locale": locale, "pricing": pricing, "home": home, "dialogue": dialogue}


def test_a_german_page_has_a_german_chat(demo_site, page, german):
    url = german["pricing"].url
    assert url == "/de/pricing/"
    de = german_strings()

    page.goto(demo_site.url + url)
    assert page.evaluate("document.documentElement.lang") == "de"
    launcher = page.locator(LAUNCHER)
    expect(launcher).to_be_visible(timeout=10_000)
    root = page.locator(CHATBOT)
    expect(root).to_have_attribute("lang", "de")
    expect(root).to_have_attribute("data-dialogue", str(german["dialogue"].pk))
    expect(launcher).to_have_accessible_name(de["open"] + "Demo buchen")
    expect(root).to_have_accessible_name(f"{de['region']}: Demo buchen")

    launcher.click()
    expect(page.locator(f"{PANEL} .dynchat-title")).to_have_text("Demo buchen")
    expect(page.locator(f"{PANEL} .dynchat-close")).to_have_accessible_name(de["close"])
    expect(page.locator(LOG)).to_have_accessible_name(de["log"])

    # "Conversation started", then the date and time, German style (15.05.2025, 14:03).
    started = page.locator(f"{LOG} .dynchat-started")
    expect(started).to_contain_text(de["started"])
    when = started.locator("time").inner_text()
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}", when), when

    page.locator(f"{CHATBOT} .dynchat-choice").first.click()
    send = page.locator(f"{CHATBOT} .dynchat-send")
    expect(send).to_have_text(de["send"])

    # An invalid e-mail address: the retry message is German too.
    page.locator(f"{CHATBOT} .dynchat-input").fill("kein-e-mail")
    send.click()
    with translation.override("de"):
        retry_text = gettext("That doesn't look like an e-mail address. Could you check it?")
    assert retry_text != "That doesn't look like an e-mail address. Could you check it?"
    expect(page.locator(f"{LOG} [data-kind=retry]")).to_have_text(retry_text)

    page.locator(f"{CHATBOT} .dynchat-input").fill("jonas@example.de")
    send.click()
    page.locator(f"{CHATBOT} .dynchat-input[placeholder=Ada]").fill("Jonas")
    page.keyboard.press("Enter")
    skip = page.locator(f"{CHATBOT} .dynchat-skip")
    expect(skip).to_have_text(de["skip"])
    expect(page.locator(f"{CHATBOT} .dynchat-send")).to_have_text(de["send"])
    # The visitor's own messages are introduced in German to screen readers.
    expect(page.locator(f"{LOG} [data-kind=answer] .dynchat-vh").first).to_have_text(
        de["you"] + " "
    )

    conversation = Conversation.objects.get()
    assert conversation.dialogue_id == german["dialogue"].pk


def test_the_english_page_keeps_the_english_chat(demo_site, page, german):
    page.goto(f"{demo_site.url}/pricing/")
    expect(page.locator(CHATBOT)).to_have_attribute("lang", "en")
    expect(page.locator(LAUNCHER)).to_have_accessible_name("Open chat: Book a demo")


# ---- right to left ---------------------------------------------------------------------------


@pytest.fixture
def arabic(settings, demo_pages):
    languages = [*settings.LANGUAGES, ("ar", "Arabic")]
    settings.LANGUAGES = languages
    settings.WAGTAIL_CONTENT_LANGUAGES = languages
    locale = Locale.objects.create(language_code="ar")
    pricing = translate_page(demo_pages["pricing"], locale)
    dialogue = translate_dialogue("book-a-demo", locale, title="احجز عرضًا")
    return {"locale": locale, "pricing": pricing, "dialogue": dialogue}


def test_a_right_to_left_page_mirrors_the_chat(demo_site, page, arabic):
    url = arabic["pricing"].url
    assert url == "/ar/pricing/"
    page.goto(demo_site.url + url)
    launcher = page.locator(LAUNCHER)
    expect(launcher).to_be_visible(timeout=10_000)
    root = page.locator(CHATBOT)
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")

    # The launcher sits in the bottom LEFT corner (the inline end of a right-to-left page).
    box = launcher.bounding_box()
    viewport = page.viewport_size
    assert abs(box["x"] - 16) <= 1, box
    assert abs(viewport["height"] - (box["y"] + box["height"]) - 16) <= 1, box

    launcher.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    assert abs(panel.bounding_box()["x"] - 16) <= 1, panel.bounding_box()
    expect(page.locator(f"{CHATBOT} .dynchat-choice").first).to_be_focused()
    assert root.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
    assert_accessible(page, "right to left")
