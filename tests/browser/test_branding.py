"""The site's Chat settings as a visitor sees them: colours, font, name and corner, a site's own
style sheet, and the behaviour settings (response delay, typing indicator, poke on phones)
(docs/api.md, "Theming" and the bootstrap ``setup`` member)."""

import pytest
from playwright.sync_api import expect

from .conftest import CHATBOT, LAUNCHER, LOG, PANEL, rgb

pytestmark = pytest.mark.browser

BRANDING = {
    "bot_name": "Robin",
    "position": "left",
    "offset_x": 40,
    "offset_y": 24,
    "header_bg": "#123456",
    "header_text": "#fdfdf0",
    "bot_bg": "#e6f2e6",
    "bot_text": "#14301a",
    "visitor_bg": "#5a2d82",
    "visitor_text": "#fffaf0",
    "button_bg": "#0b5c3a",
    "button_text": "#fafffa",
    "panel_bg": "#fffff5",
    "panel_text": "#202020",
    "font_family": "Georgia, serif",
}


def style(locator, prop):
    return locator.evaluate("(el, prop) => getComputedStyle(el)[prop]", prop)


def test_chat_settings_brand_the_chat(demo_site, page, chat_settings):
    chat_settings(**BRANDING)
    page.goto(f"{demo_site.url}/pricing/")
    launcher = page.locator(LAUNCHER)
    expect(launcher).to_be_visible(timeout=10_000)

    # The launcher: the button colours, in the bottom LEFT corner, 40 px from the edge.
    assert style(launcher, "backgroundColor") == rgb(BRANDING["button_bg"])
    assert style(launcher, "color") == rgb(BRANDING["button_text"])
    box = launcher.bounding_box()
    viewport = page.viewport_size
    assert abs(box["x"] - 40) <= 1, box
    assert abs(viewport["height"] - (box["y"] + box["height"]) - 24) <= 1, (box, viewport)

    launcher.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    # The panel opens on the same side.
    assert abs(panel.bounding_box()["x"] - 40) <= 1, panel.bounding_box()
    assert style(panel, "backgroundColor") == rgb(BRANDING["panel_bg"])
    assert style(panel, "color") == rgb(BRANDING["panel_text"])
    assert style(page.locator(CHATBOT), "fontFamily") == "Georgia, serif"
    assert style(page.locator(f"{CHATBOT} .dynchat-choice").first, "fontFamily") == (
        "Georgia, serif"
    )

    # The header shows the bot's name (instead of the dialogue's title), in the header colours.
    header = page.locator(f"{PANEL} .dynchat-header")
    expect(header.locator(".dynchat-title")).to_have_text("Robin")
    expect(panel).to_have_accessible_name("Robin")
    assert style(header, "backgroundColor") == rgb(BRANDING["header_bg"])
    assert style(header, "color") == rgb(BRANDING["header_text"])

    bot = page.locator(f"{LOG} [data-kind=question]")
    expect(bot).to_have_count(1)
    assert style(bot, "backgroundColor") == rgb(BRANDING["bot_bg"])
    assert style(bot, "color") == rgb(BRANDING["bot_text"])

    # Choice buttons: the button colour as text on the panel background.
    choice = page.locator(f"{CHATBOT} .dynchat-choice").first
    assert style(choice, "color") == rgb(BRANDING["button_bg"])
    assert style(choice, "backgroundColor") == rgb(BRANDING["panel_bg"])
    assert style(choice, "borderTopColor") == rgb(BRANDING["button_bg"])

    choice.click()
    visitor = page.locator(f"{LOG} [data-kind=answer]")
    expect(visitor).to_have_count(1)
    assert style(visitor, "backgroundColor") == rgb(BRANDING["visitor_bg"])
    assert style(visitor, "color") == rgb(BRANDING["visitor_text"])

    send = page.locator(f"{CHATBOT} .dynchat-send")
    expect(send).to_be_visible()
    assert style(send, "backgroundColor") == rgb(BRANDING["button_bg"])
    assert style(send, "color") == rgb(BRANDING["button_text"])


@pytest.mark.parametrize("selector", [":root", "body", ".dynchat"])
def test_a_site_style_sheet_themes_what_the_editor_left_blank(
    demo_site, page, chat_settings, selector
):
    chat_settings(header_bg="", bot_bg="#e6f2e6")
    page.goto(f"{demo_site.url}/pricing/")
    # The site's own theme (here added before the widget's style sheet loads).
    page.add_style_tag(
        content=f"{selector} {{ --dynchat-header-bg: #7a1f1f; --dynchat-bot-bg: #000000; }}"
    )
    page.locator(LAUNCHER).click()
    header = page.locator(f"{PANEL} .dynchat-header")
    expect(header).to_be_visible()
    assert style(header, "backgroundColor") == rgb("#7a1f1f")
    # What the editor did set stays the editor's.
    bot = page.locator(f"{LOG} [data-kind=question]")
    expect(bot).to_have_count(1)
    assert style(bot, "backgroundColor") == rgb("#e6f2e6")


def test_without_settings_the_widget_defaults_apply(demo_site, page):
    page.goto(f"{demo_site.url}/pricing/")
    launcher = page.locator(LAUNCHER)
    expect(launcher).to_be_visible(timeout=10_000)
    box = launcher.bounding_box()
    # Bottom right, 16 px from the edges.
    assert abs(page.viewport_size["width"] - (box["x"] + box["width"]) - 16) <= 1, box
    launcher.click()
    header = page.locator(f"{PANEL} .dynchat-header")
    expect(header.locator(".dynchat-title")).to_have_text("Book a demo")
    assert style(header, "backgroundColor") == rgb("#1f2937")
    assert style(launcher, "backgroundColor") == rgb("#1d4ed8")


# ---- behaviour -------------------------------------------------------------------------------

MOBILE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True}


@pytest.mark.parametrize("poke_on_mobile", [False, True])
def test_poke_on_small_touch_screens_follows_the_setting(
    demo_site, new_context, chat_settings, poke_on_mobile
):
    # book-a-demo's first question has "poke" on, so its teaser shows beside the launcher.
    chat_settings(poke_on_mobile=poke_on_mobile)
    phone = new_context(**MOBILE).new_page()
    phone.goto(f"{demo_site.url}/pricing/")
    expect(phone.locator(LAUNCHER)).to_be_visible(timeout=10_000)
    # The chat decides about the poke in the same task that adds its conversation id.
    expect(phone.locator(f"{CHATBOT}[data-conversation]")).to_have_count(1)
    poke = phone.locator(f"{CHATBOT} .dynchat-poke")
    if poke_on_mobile:
        expect(poke).to_be_visible()
        expect(poke.locator(".dynchat-poke-text")).to_contain_text("see it in action")
    else:
        expect(poke).to_have_count(0)

    # On a desktop the poke shows either way.
    desktop = new_context().new_page()
    desktop.goto(f"{demo_site.url}/pricing/")
    expect(desktop.locator(f"{CHATBOT} .dynchat-poke")).to_be_visible(timeout=10_000)
