"""The six runtime scenarios of issue 3 ("Which"), one test each, through the visitor API.

1. Two dialogues on one page: priority, then the next one after completion; repeat.
2. An engaged conversation continues everywhere and is not displaced (pop-ups too, not inline).
3. Unpublish: engaged visitors continue, the others get the next candidate or none.
4. Republish with changes: engaged visitors keep their revision, the others get the new one.
5. The per-site "chat enabled" switch, and scheduled go-live and expiry.
6. Several conversations at once: an inline one and the chatbot, independent.

Then what the issue asks of bootstrap and start around them: triggers in the bootstrap answer,
dialogues opened by slug (links, the JavaScript API, inline embeds), and odd input.

The helpers here (``make``, ``Browser``, ``audience`` …) are shared by the targeting and audience
test modules.
"""

import datetime
import json
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone
from wagtail.models import Page, Site

from wagtail_dynchat.models import (
    ChatSettings,
    Conversation,
    ConversationEvent,
    Dialogue,
    DialogueTarget,
    DialogueURLRule,
)
from wagtail_dynchat.snippets.blueprints import with_block_ids

from .conftest import SIMPLE_FLOW, ChatClient, branch, message, question
from .test_api_errors import API, assert_error

# What bootstrap answers when no dialogue applies.
NOTHING = {"dialogue": None, "conversation": None, "setup": None, "consent": None}
IMMEDIATELY = [{"type": "immediately"}]


# -- helpers shared with test_targeting_rules and test_audiences_api -----------------------------


def rule(attribute, operator, value="", key=""):
    """One audience rule as the AudienceBlock stores it."""
    return {"attribute": attribute, "operator": operator, "value": value, "key": key}


def audience(*groups, match="any"):
    """An audience value: each group is a list of rules that must all hold."""
    return {"match": match, "groups": [{"match": "all", "rules": list(group)} for group in groups]}


def condition(rules, target, otherwise=""):
    """A Condition card (raw flow data) that goes to ``target`` when all ``rules`` hold."""
    return {
        "type": "condition",
        "value": {"audience": audience(rules), "target": target, "otherwise": otherwise},
    }


def make(
    flow=SIMPLE_FLOW,
    *,
    name="Dialogue",
    title="",
    targets=(),
    priority=50,
    slug="",
    audience=None,
    triggers=None,
    page_types=(),
    url_rules=(),
    site=None,
    locale_fallback=False,
    repeat=False,
    publish=True,
    **fields,
):
    """A dialogue with every targeting setting, published unless ``publish=False``.

    ``targets`` are ``(page, scope[, exclude])``, ``page_types`` page models, ``url_rules``
    patterns or ``(pattern, exclude)`` pairs, ``triggers`` dicts as the API returns them
    (``{"type": "scroll", "percent": 50}``) and ``audience`` an :func:`audience` value.
    """
    dialogue = Dialogue(
        name=name,
        title=title,
        priority=priority,
        slug=slug,
        site=site,
        locale_fallback=locale_fallback,
        repeat=repeat,
        live=False,
        **fields,
    )
    dialogue.flow = with_block_ids(json.loads(json.dumps(flow)))
    if audience is not None:
        dialogue.audience = [{"type": "audience", "value": audience}]
    if triggers is not None:
        dialogue.triggers = [
            {"type": trigger["type"], "value": {k: v for k, v in trigger.items() if k != "type"}}
            for trigger in triggers
        ]
    dialogue.targets = [
        DialogueTarget(page=target[0], scope=target[1], exclude=bool(target[2:] and target[2]))
        for target in targets
    ]
    dialogue.url_rules = [
        DialogueURLRule(pattern=r, exclude=False)
        if isinstance(r, str)
        else DialogueURLRule(pattern=r[0], exclude=r[1])
        for r in url_rules
    ]
    dialogue.page_types = [ContentType.objects.get_for_model(model) for model in page_types]
    dialogue.save()
    revision = dialogue.save_revision()
    if publish:
        revision.publish()
        dialogue.refresh_from_db()
    return dialogue


def republish(dialogue, **fields):
    """Publish a new revision of ``dialogue`` with ``fields`` changed (flow as raw data)."""
    dialogue = Dialogue.objects.get(pk=dialogue.pk)
    for name, value in fields.items():
        if name == "flow":
            value = with_block_ids(json.loads(json.dumps(value)))
        setattr(dialogue, name, value)
    dialogue.save_revision().publish()
    dialogue.refresh_from_db()
    return dialogue


class Browser(ChatClient):
    """A visitor's browser with the bootstrap and start parameters the loader sends."""

    def __init__(self, *, host="testserver", user_agent=None, language=None):
        headers = {}
        if user_agent is not None:
            headers["User-Agent"] = user_agent
        if language is not None:
            headers["Accept-Language"] = language
        super().__init__(Client(HTTP_HOST=host, headers=headers), origin=f"http://{host}")
        self.host = host

    def url_of(self, page):
        return f"http://{self.host}{page.get_url_parts()[2]}" if page is not None else ""

    def look(self, page=None, *, url=None, ref=None, dialogue=None):
        """The bootstrap answer (asserting 200)."""
        response = self.look_response(page, url=url, ref=ref, dialogue=dialogue)
        assert response.status_code == 200, response.content
        return response.json()

    def look_response(self, page=None, *, url=None, ref=None, dialogue=None):
        query = {"url": self.url_of(page) if url is None else url}
        if page is not None:
            query["page"] = page.pk
        if ref is not None:
            query["ref"] = ref
        if dialogue is not None:
            query["dialogue"] = dialogue
        return self.client.get(API + "bootstrap", query)

    def offered(self, page=None, **kwargs):
        """``(dialogue id, conversation id)`` of the bootstrap answer."""
        body = self.look(page, **kwargs)
        return (
            body["dialogue"] and body["dialogue"]["id"],
            body["conversation"] and body["conversation"]["id"],
        )

    def open(self, dialogue, page=None, *, mode=None, url=None, ref=None):
        """POST conversations (the response)."""
        payload = {
            "dialogue": dialogue.pk,
            "page": page.pk if page is not None else None,
            "url": self.url_of(page) if url is None else url,
        }
        if mode is not None:
            payload["mode"] = mode
        if ref is not None:
            payload["ref"] = ref
        return self._post("conversations", payload)

    def started(self, dialogue, page=None, **kwargs):
        """The conversation object of a successful start."""
        response = self.open(dialogue, page, **kwargs)
        assert response.status_code in (200, 201), response.content
        return response.json()["conversation"]

    def reply(self, conversation, value):
        """Answer the awaited card (asserting 200); the updated conversation."""
        response = self.answer(conversation, value)
        assert response.status_code == 200, response.content
        return response.json()["conversation"]

    def new_visit(self):
        """The visit cookie expired: the next start counts a new visit."""
        del self.client.cookies["dynchat_sid"]


def finish(browser, dialogue, page, **kwargs):
    """Start ``dialogue`` and answer "No", which completes SIMPLE_FLOW."""
    conversation = browser.started(dialogue, page, **kwargs)
    done = browser.reply(conversation, 1)
    assert done["status"] == "completed"
    return done


def engage(browser, dialogue, page, **kwargs):
    """Start ``dialogue`` and answer "Yes": engaged, now awaiting the e-mail capture."""
    conversation = browser.started(dialogue, page, **kwargs)
    engaged = browser.reply(conversation, 0)
    assert engaged["awaiting"]["kind"] == "capture"
    return engaged


def render_tag(page=None, host="testserver"):
    request = RequestFactory().get("/", HTTP_HOST=host)
    page = Page.objects.get(pk=page.pk).specific if page is not None else None
    return Template("{% load dynchat %}{% dynchat %}").render(
        Context({"request": request, "page": page})
    )


def tag_config(page=None, host="testserver"):
    """The tag's JSON configuration, or None when it renders nothing."""
    html = render_tag(page, host)
    if not html:
        return None
    found = re.search(r'<script id="dynchat-config" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


@pytest.fixture
def other_site(pages):
    return build_other_site()


def build_other_site():
    """A second site with its own tree: home, pricing and a blog with one post."""
    from example_site.home.models import BlogIndexPage, BlogPage, HomePage, StandardPage

    root = Page.get_first_root_node()
    home = root.add_child(instance=HomePage(title="Other home", slug="other-home"))
    site = Site.objects.create(hostname="other.example", port=80, root_page=home)
    pricing = home.add_child(instance=StandardPage(title="Other pricing", slug="pricing"))
    blog = home.add_child(instance=BlogIndexPage(title="Other blog", slug="blog"))
    post = blog.add_child(instance=BlogPage(title="Other post", slug="post"))
    return {"site": site, "home": home, "pricing": pricing, "blog": blog, "post": post}


def kinds_of(conversation_id):
    return list(
        ConversationEvent.objects.filter(conversation__public_id=conversation_id).values_list(
            "kind", flat=True
        )
    )


# -- 1. two dialogues on one page --------------------------------------------------------------


def test_1_priority_then_the_next_dialogue_then_nothing_unless_repeat(pages):
    """The higher priority shows first; once completed, the next one shows on the next page view
    with its own triggers; a completed dialogue never shows again, not even in a later visit,
    and cannot be started (409). With ``repeat`` it is offered again and a new conversation
    starts from the beginning."""
    pricing = pages["pricing"]
    high = make(
        name="High",
        priority=90,
        targets=[(pricing, "page")],
        triggers=[{"type": "time_on_page", "seconds": 20}],
    )
    low = make(
        name="Low",
        priority=10,
        targets=[(pages["home"], "descendants")],
        triggers=[{"type": "scroll", "percent": 50}],
    )
    visitor = Browser()
    body = visitor.look(pricing)
    assert body["dialogue"]["id"] == high.pk
    assert body["dialogue"]["triggers"] == [{"type": "time_on_page", "seconds": 20}]
    assert body["conversation"] is None

    finish(visitor, high, pricing)
    body = visitor.look(pricing)
    assert body["dialogue"]["id"] == low.pk
    assert body["dialogue"]["triggers"] == [{"type": "scroll", "percent": 50}]
    assert body["conversation"] is None

    finish(visitor, low, pricing)
    assert visitor.look(pricing) == NOTHING
    visitor.new_visit()
    assert visitor.look(pricing) == NOTHING
    assert_error(visitor.open(high, pricing), 409, "conflict")
    assert_error(visitor.open(low, pricing), 409, "conflict")
    # Another visitor still gets the higher priority.
    assert Browser().offered(pricing) == (high.pk, None)

    # The editor lets the high-priority dialogue repeat: it is offered again, and starting it
    # creates a second conversation from the first card.
    republish(high, repeat=True)
    body = visitor.look(pricing)
    assert body["dialogue"]["id"] == high.pk
    assert body["dialogue"]["triggers"] == [{"type": "time_on_page", "seconds": 20}]
    assert body["conversation"] is None
    first = Conversation.objects.get(dialogue=high)
    response = visitor.open(high, pricing)
    assert response.status_code == 201
    again = response.json()["conversation"]
    assert again["id"] != first.public_id
    assert (again["status"], again["step"]) == ("active", 0)
    assert [item["kind"] for item in again["items"]] == ["message", "question"]
    assert Conversation.objects.filter(dialogue=high).count() == 2
    # Once engaged, the repeat conversation is what bootstrap returns.
    engaged = visitor.reply(again, 0)
    assert visitor.look(pricing)["conversation"] == engaged


# -- 2. an engaged conversation follows the visitor ----------------------------------------------


def test_2_engaged_conversation_continues_everywhere_and_is_not_displaced(pages):
    """An engaged chatbot conversation comes back on refresh and on pages its dialogue does not
    target, whole and with its dialogue, even where another dialogue (of higher priority) is
    targeted. An engaged pop-up conversation follows too; an engaged inline one does not."""
    pricing, contact, post = pages["pricing"], pages["contact"], pages["posts"][0]
    mine = make(name="Mine", priority=10, targets=[(pricing, "page")])
    contact_dialogue = make(name="Contact", priority=99, targets=[(contact, "page")])
    visitor = Browser()
    engaged = engage(visitor, mine, pricing)
    make(name="Urgent", priority=100, targets=[(pricing, "page")])

    for page in (pricing, pricing, contact, post, pages["home"]):
        body = visitor.look(page)
        assert body["dialogue"]["id"] == mine.pk
        assert body["dialogue"]["triggers"] == IMMEDIATELY
        assert body["conversation"] == engaged
    # Views outside the page tree too.
    assert visitor.look(url="http://testserver/search/?q=x")["conversation"] == engaged
    # The conversation can be carried on from another page.
    done = visitor.reply(engaged, "ada@example.com")
    assert done["status"] == "completed"
    assert visitor.offered(contact) == (contact_dialogue.pk, None)

    # A pop-up (opened by a link) that the visitor answered follows them as well.
    popup = make(name="Popup", slug="popup", triggers=[])
    other = Browser()
    assert other.offered(contact) == (contact_dialogue.pk, None)
    engaged_popup = engage(other, popup, pricing, mode="popup")
    assert Conversation.objects.get(public_id=engaged_popup["id"]).mode == "popup"
    for page in (contact, post):
        body = other.look(page)
        assert body["dialogue"]["id"] == popup.pk
        assert body["conversation"] == engaged_popup

    # An inline conversation stays in the page that embeds it: elsewhere the page's own
    # dialogue is offered, and the embed finds the conversation again.
    inline = make(name="Inline", slug="inline", triggers=[])
    third = Browser()
    engaged_inline = engage(third, inline, pricing, mode="inline")
    assert third.offered(contact) == (contact_dialogue.pk, None)
    assert third.offered(post) == (None, None)
    body = third.look(pricing, dialogue="inline")
    assert body["conversation"] == engaged_inline
    assert body["dialogue"]["triggers"] == IMMEDIATELY


# -- 3. unpublishing ---------------------------------------------------------------------------


def test_3_unpublish_engaged_continue_others_get_the_next_candidate_or_none(pages):
    """After an unpublish, engaged visitors find and finish their conversation; a visitor who
    only saw it, and a newcomer, get the next candidate, and where there is none, nothing.
    Starting the withdrawn dialogue is 404, its slug opens nothing."""
    pricing, contact = pages["pricing"], pages["contact"]
    withdrawn = make(
        name="Withdrawn",
        slug="withdrawn",
        priority=90,
        targets=[(pricing, "page"), (contact, "page")],
    )
    fallback = make(name="Fallback", priority=10, targets=[(pricing, "page")])
    engaged_visitor, onlooker, newcomer = Browser(), Browser(), Browser()
    engaged = engage(engaged_visitor, withdrawn, pricing)
    seen = onlooker.started(withdrawn, pricing)
    assert onlooker.offered(pricing) == (withdrawn.pk, seen["id"])

    withdrawn.unpublish()

    for page in (pricing, contact):
        assert engaged_visitor.look(page)["conversation"] == engaged
    assert engaged_visitor.reply(engaged, "ada@example.com")["status"] == "completed"

    assert onlooker.offered(pricing) == (fallback.pk, None)
    assert newcomer.offered(pricing) == (fallback.pk, None)
    assert onlooker.offered(contact) == (None, None)
    assert newcomer.offered(contact) == (None, None)
    assert_error(onlooker.open(withdrawn, pricing), 404, "not_found")
    assert_error(newcomer.open(withdrawn, pricing), 404, "not_found")
    assert newcomer.look(pricing, dialogue="withdrawn") == NOTHING
    assert_error(newcomer.open(withdrawn, pricing, mode="popup"), 404, "not_found")


# -- 4. republishing with changes --------------------------------------------------------------

CHANGED_FLOW = [
    branch(
        "start",
        "Start",
        message("<p>Version two!</p>"),
        question("<p>Interested?</p>", [("Yes", "yes", "end"), ("No", "no", "end")]),
    ),
    branch("end", "End", message("<p>New ending.</p>")),
]


def test_4_republish_engaged_keep_their_revision_others_get_the_new_one(pages):
    """A republish that changes the flow, title and triggers: the engaged visitor continues on
    the revision they started (old title, old cards); a visitor who only saw it is offered the
    new version and restarted on it; a newcomer gets the new version with its new triggers."""
    pricing = pages["pricing"]
    dialogue = make(
        name="Evolving",
        title="Version one",
        targets=[(pricing, "page")],
        triggers=[{"type": "time_on_page", "seconds": 5}],
    )
    engaged_visitor, onlooker, newcomer = Browser(), Browser(), Browser()
    engaged = engage(engaged_visitor, dialogue, pricing)
    seen = onlooker.started(dialogue, pricing)
    old_snapshot = Conversation.objects.get(public_id=seen["id"]).snapshot_id

    republish(
        dialogue,
        flow=CHANGED_FLOW,
        title="Version two",
        triggers=[{"type": "exit_intent", "value": {}}],
    )

    body = engaged_visitor.look(pricing)
    assert body["conversation"] == engaged
    assert body["dialogue"]["title"] == "Version one"
    done = engaged_visitor.reply(engaged, "ada@example.com")
    assert [item["kind"] for item in done["items"][-3:]] == ["answer", "message", "end"]
    assert done["items"][-2]["html"] == "<p>Thanks!</p>"
    assert Conversation.objects.get(public_id=engaged["id"]).snapshot_id == old_snapshot

    body = onlooker.look(pricing)
    assert body["conversation"] is None
    assert body["dialogue"]["title"] == "Version two"
    # The onlooker was already shown the dialogue: it shows at once.
    assert body["dialogue"]["triggers"] == IMMEDIATELY
    response = onlooker.open(dialogue, pricing)
    assert response.status_code == 200
    moved = response.json()["conversation"]
    assert moved["id"] == seen["id"]
    assert moved["items"][0]["html"] == "<p>Version two!</p>"
    assert Conversation.objects.get(public_id=seen["id"]).snapshot_id != old_snapshot

    body = newcomer.look(pricing)
    assert body["dialogue"]["title"] == "Version two"
    assert body["dialogue"]["triggers"] == [{"type": "exit_intent"}]
    fresh = newcomer.started(dialogue, pricing)
    assert fresh["items"][0]["html"] == "<p>Version two!</p>"
    assert newcomer.reply(fresh, 0)["items"][-2]["html"] == "<p>New ending.</p>"


# -- 5. the per-site switch and scheduled publishing -------------------------------------------


def test_5_site_switch_turns_every_dialogue_off_and_scheduling_uses_wagtail(
    pages, other_site, monkeypatch
):
    """ChatSettings.enabled off for a site: bootstrap offers nothing there (not even an engaged
    conversation, nor a dialogue opened by slug), starts are 404 and the tag renders nothing;
    the other site is unaffected; switching back on restores everything. A dialogue with a
    future go-live appears when ``publish_scheduled`` runs after that time, and disappears the
    same way at its expiry."""
    pricing = pages["pricing"]
    main_dialogue = make(name="Main", slug="main", targets=[(pricing, "page")])
    other_dialogue = make(name="Other", targets=[(other_site["pricing"], "page")])
    visitor = Browser()
    engaged = engage(visitor, main_dialogue, pricing)
    other_visitor = Browser(host="other.example")
    assert tag_config(pricing)["candidates"] is True

    main_site = Site.objects.get(is_default_site=True)
    settings = ChatSettings.for_site(main_site)
    settings.enabled = False
    settings.save()

    assert visitor.look(pricing) == NOTHING
    assert visitor.look(pricing, dialogue="main") == NOTHING
    assert Browser().look(pricing) == NOTHING
    assert visitor.look(url="http://testserver/elsewhere/") == NOTHING
    assert_error(Browser().open(main_dialogue, pricing), 404, "not_found")
    assert_error(Browser().open(main_dialogue, pricing, mode="popup"), 404, "not_found")
    assert render_tag(pricing) == ""
    assert render_tag(None) == ""
    # The other site is unaffected.
    assert other_visitor.offered(other_site["pricing"]) == (other_dialogue.pk, None)
    assert other_visitor.open(other_dialogue, other_site["pricing"]).status_code == 201
    assert tag_config(other_site["pricing"], host="other.example")["candidates"] is True

    settings.enabled = True
    settings.save()
    assert visitor.look(pricing)["conversation"] == engaged
    assert tag_config(pricing)["candidates"] is True

    # Scheduled go-live: published with a future date, nothing is live until the scheduler runs
    # after that date.
    now = timezone.now()
    contact = pages["contact"]
    scheduled = make(
        name="Scheduled",
        targets=[(contact, "page")],
        go_live_at=now + datetime.timedelta(hours=1),
        expire_at=now + datetime.timedelta(hours=3),
    )
    assert scheduled.live is False
    assert Browser().look(contact) == NOTHING
    assert tag_config(contact)["candidates"] is False
    call_command("publish_scheduled")
    assert Browser().look(contact) == NOTHING

    monkeypatch.setattr(timezone, "now", lambda: now + datetime.timedelta(hours=2))
    call_command("publish_scheduled")
    assert Dialogue.objects.get(pk=scheduled.pk).live is True
    assert Browser().offered(contact) == (scheduled.pk, None)
    assert tag_config(contact)["candidates"] is True

    monkeypatch.setattr(timezone, "now", lambda: now + datetime.timedelta(hours=4))
    call_command("publish_scheduled")
    assert Dialogue.objects.get(pk=scheduled.pk).expired is True
    assert Browser().look(contact) == NOTHING
    assert tag_config(contact)["candidates"] is False


# -- 6. several conversations at once ----------------------------------------------------------


def test_6_inline_and_chatbot_conversations_are_independent(pages):
    """A visitor talks to an inline embed and to the chatbot on the same page: two
    conversations, each bootstrapped, answered and completed on its own."""
    pricing = pages["pricing"]
    chatbot = make(name="Chatbot", priority=90, targets=[(pricing, "page")])
    inline = make(name="Inline", slug="newsletter", triggers=[])
    visitor = Browser()

    embed = visitor.look(pricing, dialogue="newsletter")
    assert embed["dialogue"]["id"] == inline.pk
    assert embed["dialogue"]["slug"] == "newsletter"
    assert embed["dialogue"]["triggers"] == IMMEDIATELY
    assert embed["conversation"] is None
    assert visitor.offered(pricing) == (chatbot.pk, None)

    in_page = engage(visitor, inline, pricing, mode="inline")
    # The engaged inline conversation does not take the chatbot's place.
    assert visitor.offered(pricing) == (chatbot.pk, None)
    bot = engage(visitor, chatbot, pricing)
    assert bot["id"] != in_page["id"]
    assert Conversation.objects.get(public_id=bot["id"]).mode == "chatbot"
    assert Conversation.objects.get(public_id=in_page["id"]).mode == "inline"

    # Each bootstrap returns its own conversation.
    assert visitor.look(pricing)["conversation"] == bot
    assert visitor.look(pricing, dialogue="newsletter")["conversation"] == in_page

    # Answering one leaves the other untouched.
    finished_inline = visitor.reply(in_page, "ada@example.com")
    assert finished_inline["status"] == "completed"
    assert visitor.look(pricing)["conversation"] == bot
    assert visitor.look(pricing, dialogue="newsletter")["conversation"] == finished_inline
    finished_bot = visitor.reply(bot, "ada@example.com")
    assert finished_bot["status"] == "completed"
    assert visitor.look(pricing) == NOTHING
    for conversation in (finished_inline, finished_bot):
        assert kinds_of(conversation["id"]).count(ConversationEvent.COMPLETED) == 1


# -- triggers in the bootstrap answer -----------------------------------------------------------

EVERY_TRIGGER = [
    {"type": "time_on_page", "seconds": 20},
    {"type": "time_on_site", "seconds": 90},
    {"type": "scroll", "percent": 50},
    {"type": "exit_intent"},
    {"type": "inactivity", "seconds": 30},
    {"type": "click", "selector": ".talk-to-sales"},
    {"type": "immediately"},
]


def test_bootstrap_carries_the_configured_triggers_until_the_dialogue_was_shown(pages):
    """A newcomer gets the editor's triggers, in order; once the visitor has a conversation of
    the dialogue (shown, engaged, or shown in an earlier visit) it comes back "immediately"."""
    pricing = pages["pricing"]
    dialogue = make(
        name="All triggers", slug="all", triggers=EVERY_TRIGGER, targets=[(pricing, "page")]
    )
    visitor = Browser()
    body = visitor.look(pricing)
    assert body["dialogue"]["triggers"] == EVERY_TRIGGER
    assert body["conversation"] is None

    seen = visitor.started(dialogue, pricing)
    body = visitor.look(pricing)
    assert (body["dialogue"]["triggers"], body["conversation"]) == (IMMEDIATELY, seen)
    visitor.new_visit()
    assert visitor.look(pricing)["dialogue"]["triggers"] == IMMEDIATELY
    engaged = visitor.reply(seen, 0)
    body = visitor.look(pages["contact"])
    assert (body["dialogue"]["triggers"], body["conversation"]) == (IMMEDIATELY, engaged)
    # Other visitors still get the configured triggers.
    assert Browser().look(pricing)["dialogue"]["triggers"] == EVERY_TRIGGER


def test_opened_dialogues_show_immediately_and_an_empty_trigger_list_stays_empty(pages):
    """A dialogue without triggers (links, embeds and the JavaScript API only) is offered with an
    empty list where it is targeted; opened by its slug, any dialogue shows at once."""
    pricing = pages["pricing"]
    link_only = make(name="Link only", slug="link-only", triggers=[], targets=[(pricing, "page")])
    timed = make(
        name="Timed",
        slug="timed",
        triggers=[{"type": "time_on_page", "seconds": 60}],
        targets=[(pages["contact"], "page")],
    )
    visitor = Browser()
    body = visitor.look(pricing)
    assert (body["dialogue"]["id"], body["dialogue"]["triggers"]) == (link_only.pk, [])
    for slug, dialogue in (("link-only", link_only), ("timed", timed)):
        for page in (pricing, pages["contact"], pages["posts"][0]):
            body = visitor.look(page, dialogue=slug)
            assert (body["dialogue"]["id"], body["dialogue"]["triggers"]) == (
                dialogue.pk,
                IMMEDIATELY,
            )
    assert visitor.look(pages["contact"])["dialogue"]["triggers"] == [
        {"type": "time_on_page", "seconds": 60}
    ]


# -- dialogues opened by slug ------------------------------------------------------------------


def test_a_slug_opens_a_live_dialogue_anywhere_on_its_site(pages, other_site):
    """``dialogue=<slug>`` answers about that dialogue alone: on pages it does not target, on
    pages targeted by another dialogue, and off the tree; drafts, unknown slugs and dialogues of
    another site give nothing."""
    pricing_dialogue = make(name="Pricing", targets=[(pages["pricing"], "page")], priority=99)
    opened = make(name="Book a demo", slug="book-a-demo", triggers=[])
    make(name="Draft", slug="draft", publish=False)
    elsewhere = make(name="Other site", slug="other-only", site=other_site["site"])
    visitor = Browser()
    for page in (pages["pricing"], pages["contact"], pages["home"]):
        assert visitor.offered(page, dialogue="book-a-demo") == (opened.pk, None)
    assert visitor.offered(url="http://testserver/anywhere/", dialogue="book-a-demo") == (
        opened.pk,
        None,
    )
    assert visitor.offered(pages["pricing"]) == (pricing_dialogue.pk, None)
    for slug in ("draft", "no-such-dialogue", "BOOK-A-DEMO", "other-only"):
        assert visitor.look(pages["pricing"], dialogue=slug) == NOTHING
    assert Browser(host="other.example").offered(other_site["pricing"], dialogue="other-only") == (
        elsewhere.pk,
        None,
    )
    # A new draft with another slug changes nothing until it is published.
    draft = Dialogue.objects.get(pk=opened.pk)
    draft.slug = "renamed"
    draft.save_revision()
    assert visitor.offered(pages["contact"], dialogue="book-a-demo") == (opened.pk, None)
    assert visitor.look(pages["contact"], dialogue="renamed") == NOTHING
    Dialogue.objects.get(pk=opened.pk).get_latest_revision().publish()
    assert visitor.look(pages["contact"], dialogue="book-a-demo") == NOTHING
    assert visitor.offered(pages["contact"], dialogue="renamed") == (opened.pk, None)


def test_pop_up_and_inline_starts_skip_targeting_but_not_the_site(pages, other_site):
    """Opened explicitly, a dialogue starts on any page of its site, in either mode; not on
    another site's pages, not without a slug, not when it is a draft, and never as a triggered
    chatbot where it is not targeted."""
    opened = make(
        name="Opened", slug="opened", triggers=[], site=Site.objects.get(is_default_site=True)
    )
    no_slug = make(name="No slug", triggers=[])
    draft = make(name="Draft", slug="draft", publish=False)
    for mode in ("popup", "inline"):
        visitor = Browser()
        response = visitor.open(opened, pages["contact"], mode=mode)
        assert response.status_code == 201
        assert (
            Conversation.objects.get(public_id=response.json()["conversation"]["id"]).mode == mode
        )
        assert visitor.open(opened, url="http://testserver/off-tree/", mode=mode).status_code == 200
        stranger = Browser(host="other.example")
        assert_error(stranger.open(opened, other_site["pricing"], mode=mode), 404, "not_found")
        assert_error(visitor.open(no_slug, pages["contact"], mode=mode), 404, "not_found")
        assert_error(visitor.open(draft, pages["contact"], mode=mode), 404, "not_found")
    assert_error(Browser().open(opened, pages["contact"]), 404, "not_found")
    assert_error(Browser().open(opened, pages["contact"], mode="chatbot"), 404, "not_found")
    assert Browser(host="other.example").look(other_site["pricing"], dialogue="opened") == NOTHING


def test_a_completed_dialogue_opened_by_slug_shows_how_it_ended(pages):
    """Opening a dialogue the visitor finished returns the finished conversation (nothing to
    answer) and starting it again is a conflict; a repeating one starts afresh."""
    once = make(name="Once", slug="once", triggers=[])
    again = make(name="Again", slug="again", triggers=[], repeat=True)
    visitor = Browser()
    done = finish(visitor, once, pages["contact"], mode="popup")
    body = visitor.look(pages["pricing"], dialogue="once")
    assert body["dialogue"]["id"] == once.pk
    assert body["dialogue"]["triggers"] == IMMEDIATELY
    assert body["conversation"] == done
    assert (done["status"], done["awaiting"]) == ("completed", None)
    assert_error(visitor.open(once, pages["pricing"], mode="popup"), 409, "conflict")
    assert_error(visitor.open(once, pages["pricing"], mode="inline"), 409, "conflict")

    first = finish(visitor, again, pages["contact"], mode="inline")
    assert visitor.offered(pages["pricing"], dialogue="again") == (again.pk, None)
    response = visitor.open(again, pages["pricing"], mode="inline")
    assert response.status_code == 201
    assert response.json()["conversation"]["id"] != first["id"]
    assert response.json()["conversation"]["step"] == 0


# -- odd input never fails the server ----------------------------------------------------------

ODD_ADDRESSES = [
    "",
    "/",
    "*",
    "//",
    "http://",
    "http://[",
    "https://[::1/folder/",
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "mailto:someone@example.com",
    "http://exämple.com/ü/?utm_source=ü&%zz=%zz",
    "http://testserver:99999/pricing/",
    "http://user:secret@testserver/pricing/",
    "?utm_source=a&utm_source=b",
    "%",
    "%%%",
    "\u202e\u200b",
    "file:///etc/passwd",
    "http://testserver/" + "a" * 2000,
    "http://testserver/pricing/?" + "&".join(f"p{i}=v" for i in range(300)),
]


@pytest.mark.parametrize("odd", ODD_ADDRESSES, ids=range(len(ODD_ADDRESSES)))
def test_odd_addresses_and_referrers_are_answered(pages, other_site, odd):
    """Whatever a page puts in ``url`` and ``ref``, bootstrap and start answer (no 500), with
    URL rules, referrer and query conditions all evaluated."""
    make(name="Rules", url_rules=["https://*.example.com/*", "/pricing/*", ("*", True)])
    make(
        name="Audience",
        targets=[(pages["pricing"], "page"), (other_site["home"], "descendants")],
        slug="audience",
        audience=audience(
            [rule("visitor.referrer_host", "contains", "example")],
            [rule("visitor.query", "is", "v", key="p1")],
            [rule("visitor.utm_source", "is_not", "x")],
        ),
    )
    visitor = Browser()
    for page in (pages["pricing"], other_site["pricing"], None):
        for dialogue in (None, "audience", "missing"):
            response = visitor.look_response(page, url=odd, ref=odd, dialogue=dialogue)
            assert response.status_code == 200, (page, dialogue, response.content)
    audience_dialogue = Dialogue.objects.get(name="Audience")
    for page, mode in ((pages["pricing"], None), (pages["contact"], "popup"), (None, "inline")):
        response = visitor.open(audience_dialogue, page, url=odd, ref=odd, mode=mode)
        assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    "query, field",
    [
        ({"dialogue": "a b"}, "dialogue"),
        ({"dialogue": "../etc"}, "dialogue"),
        ({"dialogue": "x" * 81}, "dialogue"),
        ({"dialogue": "ümlaut"}, "dialogue"),
        ({"dialogue": ""}, "dialogue"),
        ({"url": "http://x/\x00"}, "url"),
        ({"ref": "x" * 2049}, "ref"),
        ({"page": "pricing"}, "page"),
    ],
)
def test_malformed_bootstrap_parameters_are_invalid(pages, query, field):
    response = Client().get(API + "bootstrap", query)
    refusal = assert_error(response, 400, "invalid")
    assert [item["field"] for item in refusal["fields"]] == [field]


def test_pages_outside_any_site_and_unknown_pages(pages):
    """The tree's root (no site) is a page like any other; a page id that does not exist is
    answered like a view outside the tree (URL rules only)."""
    everywhere = make(name="Everywhere", page_types=[Page], url_rules=["/*"])
    root = Page.get_first_root_node()
    visitor = Browser()
    assert visitor.offered(root, url="http://testserver/") == (everywhere.pk, None)
    for page_id in (10**9, 2**63 - 1):
        for url, shown in (("/x", True), ("", False)):
            response = visitor.client.get(API + "bootstrap", {"page": page_id, "url": url})
            assert response.status_code == 200
            assert response.json()["dialogue"] == (
                {**response.json()["dialogue"], "id": everywhere.pk} if shown else None
            )
    response = visitor._post("conversations", {"dialogue": everywhere.pk, "page": 10**9})
    assert_error(response, 404, "not_found")


def test_a_repeating_dialogue_is_counted_once_per_visit(pages):
    """Restarting a repeating dialogue in the same visit starts a new conversation but counts
    triggered, engaged and completed once per visitor per visit, as the product does; a new
    visit counts again."""
    pricing = pages["pricing"]
    dialogue = make(name="Again", targets=[(pricing, "page")], repeat=True)
    visitor = Browser()
    finish(visitor, dialogue, pricing)
    finish(visitor, dialogue, pricing)
    assert Conversation.objects.filter(dialogue=dialogue).count() == 2

    def counted(kind):
        return ConversationEvent.objects.filter(dialogue=dialogue, kind=kind).count()

    assert (counted("triggered"), counted("engaged"), counted("completed")) == (1, 1, 1)
    visitor.new_visit()
    finish(visitor, dialogue, pricing)
    assert (counted("triggered"), counted("engaged"), counted("completed")) == (2, 2, 2)
