"""The Chat settings form in a real browser: contrast warnings, colour pickers and the live
preview follow what the editor types."""

import pytest
from wagtail.models import Site

from tests.test_chat_settings import edit_url

pytestmark = pytest.mark.browser


def test_warnings_pickers_and_preview_follow_the_editor_in_a_browser(demo_site, page):
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "password")
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": demo_site.url}]
    )
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    site = Site.objects.get(is_default_site=True)
    page.goto(demo_site.url + edit_url(site))
    root = page.locator("[data-dynchat-preview] .dynchat")
    header_warning = page.locator('[data-dynchat-contrast="header_bg header_text"]')
    assert not header_warning.locator(".help-block").is_visible()

    page.fill("input[name=header_bg]", "#777")
    page.fill("input[name=header_text]", "#999999")

    assert header_warning.inner_text().strip() == (
        "Header text on header background: 1.5:1 — below the 4.5:1 WCAG AA minimum for text."
    )
    assert root.evaluate("el => el.style.getPropertyValue('--dynchat-header-bg')") == "#777777"
    assert (
        page.locator(".dynchat-header").evaluate("el => getComputedStyle(el).backgroundColor")
        == "rgb(119, 119, 119)"
    )
    header_text_id = page.get_attribute("input[name=header_text]", "id")
    picker = page.locator(f'[data-dynchat-colour-picker="{header_text_id}"]')
    assert picker.input_value() == "#999999"

    # Blank again: the default white, 4.48:1, still fails and reads 4.4 (never rounded up).
    page.fill("input[name=header_text]", "")
    assert "4.4:1" in header_warning.inner_text()
    assert picker.input_value() == "#ffffff"
    page.fill("input[name=header_bg]", "")
    assert not header_warning.locator(".help-block").is_visible()

    # A colour picked in the picker lands in the text field (what is submitted).
    picker.fill("#102030")
    assert page.input_value("input[name=header_text]") == "#102030"

    page.fill("input[name=bot_name]", "Ada")
    page.check("input[name=position][value=left]")
    page.fill("input[name=offset_x]", "40")
    assert page.inner_text("[data-dynchat-preview] .dynchat-title") == "Ada"
    assert root.get_attribute("data-position") == "left"
    assert root.evaluate("el => el.style.getPropertyValue('--dynchat-offset-x')") == "40px"
    assert problems == []
