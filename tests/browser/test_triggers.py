"""Triggers, evaluated in the browser by the loader (docs/api.md, "triggers").

A targeted dialogue's chat appears only once one of its triggers fires; until then the page has
loaded nothing but the loader and one bootstrap answer. Time runs on Playwright's clock, so no
test waits for the seconds it talks about.
"""

import pytest

from wagtail_dynchat.models import Conversation

from .conftest import install_clock

pytestmark = pytest.mark.browser

CHATBOT = ".dynchat[data-dynchat-mode=chatbot]"
LAUNCHER = f"{CHATBOT} .dynchat-launcher"


def visit(page, url):
    """Open ``url`` and return its bootstrap answer once the loader has armed the triggers.

    Waiting for the network to go idle (half a second without requests after the bootstrap
    answer) leaves the loader ample time to read the answer and arm its triggers.
    """
    with page.expect_response(lambda response: "/dynchat/api/bootstrap?" in response.url) as info:
        page.goto(url)
    page.wait_for_load_state("networkidle")
    return info.value.json()


def assert_not_shown(page, requested):
    """Nothing fired: no chat, and the widget was never asked for."""
    assert page.locator(".dynchat").count() == 0
    # The loader adds the widget's stylesheet synchronously when a trigger fires, before any
    # request can be seen: its absence proves nothing fired.
    assert page.locator("link[href*='wagtail_dynchat/widget.css']").count() == 0
    assert not any("widget.js" in url or "widget.css" in url for url in requested), requested
    assert not any("/dynchat/api/conversations" in url for url in requested), requested


def assert_shown(page, requested, slug="book-a-demo"):
    page.wait_for_selector(f"{CHATBOT}[data-slug={slug}] .dynchat-launcher")
    assert any(url.endswith("/wagtail_dynchat/widget.js") for url in requested), requested
    # The launcher is only added once the conversation was started: it is in the database.
    conversation = Conversation.objects.get(dialogue__slug=slug)
    assert conversation.mode == Conversation.MODE_CHATBOT
    assert conversation.events.filter(kind="triggered").count() == 1
    return conversation


def scroll_to(page, fraction):
    """Scroll the window to ``fraction`` of the way down; return once the scroll event ran."""
    return page.evaluate(
        """(fraction) => new Promise((done) => {
            const max = document.documentElement.scrollHeight - innerHeight;
            // The loader listens on window in the capture phase: it has run when this runs.
            addEventListener("scroll", () => done(scrollY / max), {once: true});
            scrollTo(0, Math.round(fraction * max));
        })""",
        fraction,
    )


def test_time_on_page(demo_site, page, clock, requested, set_triggers):
    set_triggers("book-a-demo", [("time_on_page", {"seconds": 30})])
    boot = visit(page, f"{demo_site.url}/pricing/")
    assert boot["dialogue"]["slug"] == "book-a-demo"
    assert boot["dialogue"]["triggers"] == [{"type": "time_on_page", "seconds": 30}]
    assert boot["conversation"] is None

    clock.fast_forward("00:20")
    assert_not_shown(page, requested)
    assert not Conversation.objects.exists()

    clock.fast_forward("00:11")
    assert_shown(page, requested)


def test_scroll_depth(demo_site, page, requested, set_triggers):
    set_triggers("newsletter-sign-up", [("scroll", {"percent": 50})])
    # A small window makes the post several screens long.
    page.set_viewport_size({"width": 800, "height": 400})
    post = demo_site.url + "/blog/funnels-vs-paths/"
    boot = visit(page, post)
    assert boot["dialogue"]["triggers"] == [{"type": "scroll", "percent": 50}]
    assert page.evaluate("document.documentElement.scrollHeight - innerHeight") > 400

    assert scroll_to(page, 0.3) == pytest.approx(0.3, abs=0.01)
    assert scroll_to(page, 0.45) == pytest.approx(0.45, abs=0.01)
    assert_not_shown(page, requested)

    # Past half way with the mouse wheel, as a visitor would.
    page.mouse.move(400, 200)
    page.mouse.wheel(0, 2000)
    assert_shown(page, requested, "newsletter-sign-up")


def test_exit_intent_on_a_desktop(demo_site, page, requested, set_triggers):
    set_triggers("book-a-demo", [("exit_intent", {})])
    boot = visit(page, f"{demo_site.url}/pricing/")
    assert boot["dialogue"]["triggers"] == [{"type": "exit_intent"}]
    viewport = page.viewport_size

    # Moving about, and leaving through the side (towards a scrollbar, another window), is
    # not an intent to leave.
    page.mouse.move(viewport["width"] / 2, viewport["height"] / 2)
    page.mouse.move(viewport["width"] / 2, 2)
    page.mouse.move(viewport["width"] + 20, viewport["height"] / 2)
    page.mouse.move(viewport["width"] / 2, viewport["height"] + 20)
    assert_not_shown(page, requested)

    # Out through the top, towards the tabs and the address bar.
    page.mouse.move(viewport["width"] / 2, viewport["height"] / 2)
    page.mouse.move(viewport["width"] / 2, -10)
    assert_shown(page, requested)


def test_exit_intent_is_not_armed_on_a_touch_device(demo_site, new_context, set_triggers):
    set_triggers("book-a-demo", [("exit_intent", {}), ("time_on_page", {"seconds": 30})])
    phone = new_context(has_touch=True, is_mobile=True, viewport={"width": 390, "height": 700})
    page = phone.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    clock = install_clock(page)
    visit(page, f"{demo_site.url}/pricing/")
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")

    page.mouse.move(200, 300)
    page.mouse.move(200, -10)
    assert_not_shown(page, requested)
    # The other trigger still works.
    clock.fast_forward("00:31")
    assert_shown(page, requested)


def test_time_on_site_is_carried_across_pages(demo_site, page, clock, requested, set_triggers):
    set_triggers("book-a-demo", [("time_on_site", {"seconds": 60})])
    visit(page, f"{demo_site.url}/pricing/")
    started = page.evaluate("sessionStorage['dynchat:since']")
    assert started
    clock.fast_forward("00:40")
    assert_not_shown(page, requested)

    # The next page of the same visit counts from the visit's start, not its own.
    visit(page, f"{demo_site.url}/contact/")
    assert page.evaluate("sessionStorage['dynchat:since']") == started
    clock.fast_forward("00:10")
    assert_not_shown(page, requested)
    clock.fast_forward("00:12")
    conversation = assert_shown(page, requested)
    assert conversation.url.endswith("/contact/")


def test_inactivity(demo_site, page, clock, requested, set_triggers):
    set_triggers("book-a-demo", [("inactivity", {"seconds": 30})])
    visit(page, f"{demo_site.url}/pricing/")
    page.evaluate(
        "window.moved = 0; addEventListener('pointermove', () => moved++, {capture: true})"
    )

    clock.fast_forward("00:20")
    page.mouse.move(300, 300)  # activity starts the count again
    page.wait_for_function("window.moved > 0")
    clock.fast_forward("00:20")
    assert_not_shown(page, requested)
    page.keyboard.press("Shift")  # so does a key
    clock.fast_forward("00:20")
    assert_not_shown(page, requested)

    clock.fast_forward("00:11")
    assert_shown(page, requested)


def test_click_on_a_selector(demo_site, page, requested, set_triggers):
    # Any click inside one of the pricing page's plans shows the dialogue.
    set_triggers("book-a-demo", [("click", {"selector": ".plans .plan"})])
    boot = visit(page, f"{demo_site.url}/pricing/")
    assert boot["dialogue"]["triggers"] == [{"type": "click", "selector": ".plans .plan"}]

    page.click("h1")
    page.click("text=Choose a plan")  # the heading just above the plans
    assert_not_shown(page, requested)

    page.click(".plan >> nth=1 >> .plan__price")
    assert_shown(page, requested)


def test_a_trigger_met_in_an_earlier_visit_shows_the_dialogue_at_once(
    demo_site, page, clock, new_context, set_triggers
):
    set_triggers("book-a-demo", [("time_on_page", {"seconds": 60})])
    visit(page, f"{demo_site.url}/pricing/")
    clock.fast_forward("01:01")
    page.wait_for_selector(LAUNCHER)
    conversation = Conversation.objects.get()
    assert not conversation.is_engaged

    # The visitor comes back later: same browser (cookies, local storage), a new visit (no
    # session cookie, no session storage), and real time that cannot reach 60 s in this test.
    state = page.context.storage_state()
    state["cookies"] = [cookie for cookie in state["cookies"] if cookie["name"] != "dynchat_sid"]
    assert any(cookie["name"] == "dynchat_vid" for cookie in state["cookies"])
    later = new_context(storage_state=state).new_page()
    with later.expect_response(lambda response: "/dynchat/api/bootstrap?" in response.url) as info:
        later.goto(f"{demo_site.url}/contact/")
    boot = info.value.json()
    assert boot["dialogue"]["triggers"] == [{"type": "immediately"}]
    assert boot["conversation"]["id"] == conversation.public_id
    later.wait_for_selector(LAUNCHER, timeout=10_000)
    assert later.get_attribute(CHATBOT, "data-conversation") == conversation.public_id
    assert Conversation.objects.count() == 1
