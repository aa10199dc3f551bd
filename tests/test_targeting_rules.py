"""Where dialogues appear, through the visitor API and the tag: page types, exclusions, sites,
locales, URL rules, query and UTM conditions, cache invalidation and the warm-cache budgets."""

import json
import re

import pytest
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from wagtail.models import Locale, Page, Site

from example_site.home.models import BlogIndexPage, BlogPage, StandardPage
from wagtail_dynchat import targeting
from wagtail_dynchat.models import ChatSettings, Dialogue, DialogueURLRule

from .test_api_errors import assert_error
from .test_scenarios import (
    NOTHING,
    Browser,
    audience,
    build_other_site,
    engage,
    make,
    republish,
    rule,
    tag_config,
)


@pytest.fixture
def other_site(pages):
    return build_other_site()


def live(page):
    return Page.objects.get(pk=page.pk).specific


# -- page types --------------------------------------------------------------------------------


def test_page_types_show_on_every_page_of_the_type(pages, other_site):
    """A dialogue for every BlogPage shows on each post, wherever it is (a post published later,
    a post of another site when the dialogue has no site), and nowhere else."""
    dialogue = make(name="Posts", page_types=[BlogPage])
    visitor = Browser()
    for post in pages["posts"]:
        assert visitor.offered(post) == (dialogue.pk, None)
        assert tag_config(post)["candidates"] is True
    for page in (pages["home"], pages["blog"], pages["pricing"], pages["contact"]):
        assert visitor.look(page) == NOTHING
        assert tag_config(page)["candidates"] is False
    assert Browser(host="other.example").offered(other_site["post"]) == (dialogue.pk, None)

    later = live(pages["blog"]).add_child(instance=BlogPage(title="Later", slug="later"))
    later.save_revision().publish()
    assert visitor.offered(later) == (dialogue.pk, None)
    assert visitor.open(dialogue, later).status_code == 201
    assert_error(Browser().open(dialogue, pages["blog"]), 404, "not_found")


def test_exclusions_win_over_page_types(pages):
    """An excluded page, or an excluded section, never shows a dialogue its type would bring."""
    posts = pages["posts"]
    one_out = make(name="One out", page_types=[BlogPage], targets=[(posts[1], "page", True)])
    assert Browser().offered(posts[0]) == (one_out.pk, None)
    assert Browser().offered(posts[1]) == (None, None)
    assert_error(Browser().open(one_out, posts[1]), 404, "not_found")

    section_out = make(
        name="Section out",
        priority=90,
        page_types=[BlogPage, StandardPage],
        targets=[(pages["blog"], "descendants", True)],
    )
    assert Browser().offered(pages["pricing"]) == (section_out.pk, None)
    assert Browser().offered(posts[0]) == (one_out.pk, None)
    assert Browser().offered(posts[2]) == (one_out.pk, None)


# -- sites -------------------------------------------------------------------------------------


def test_site_restriction_limits_page_types_and_url_rules(pages, other_site):
    """``site`` keeps page types and URL rules (page views and views outside the tree) to one
    site; unrestricted ones apply everywhere."""
    main_site = Site.objects.get(is_default_site=True)
    main_posts = make(name="Main posts", page_types=[BlogPage], site=main_site)
    other_posts = make(name="Other posts", page_types=[BlogPage], site=other_site["site"])
    main, other = Browser(), Browser(host="other.example")
    assert main.offered(pages["posts"][0]) == (main_posts.pk, None)
    assert other.offered(other_site["post"]) == (other_posts.pk, None)
    assert_error(main.open(other_posts, pages["posts"][0]), 404, "not_found")
    assert_error(other.open(main_posts, other_site["post"]), 404, "not_found")

    other_pricing = make(name="Other pricing", url_rules=["/pricing/*"], site=other_site["site"])
    assert main.look(pages["pricing"]) == NOTHING
    assert other.offered(other_site["pricing"]) == (other_pricing.pk, None)
    # Views outside the tree: the site is the request's host.
    assert main.look(url="http://testserver/pricing/annual/") == NOTHING
    assert other.offered(url="http://other.example/pricing/annual/") == (other_pricing.pk, None)
    assert tag_config(None)["candidates"] is False
    assert tag_config(None, host="other.example")["candidates"] is True
    assert other.open(other_pricing, url="http://other.example/pricing/x").status_code == 201
    assert_error(main.open(other_pricing, url="http://testserver/pricing/x"), 404, "not_found")


def test_a_page_target_never_reaches_another_site(pages, other_site):
    """A section target on site A shows nothing on site B's pages, whatever the host; a page id
    of another site is answered for that page, never with a server error."""
    main = make(name="Main", targets=[(pages["home"], "descendants")])
    other = make(name="Other", targets=[(other_site["home"], "descendants")])
    visitor = Browser(host="other.example")
    for page in ("home", "pricing", "blog", "post"):
        assert visitor.offered(other_site[page]) == (other.pk, None)
    assert_error(visitor.open(main, other_site["pricing"]), 404, "not_found")
    # The main host asking about a page of the other site gets that page's dialogue.
    assert Browser().offered(other_site["pricing"]) == (other.pk, None)
    assert Browser().offered(pages["pricing"]) == (main.pk, None)
    assert tag_config(other_site["pricing"], host="other.example")["candidates"] is True


# -- locales -----------------------------------------------------------------------------------


@pytest.fixture
def german(pages):
    """German translations of the pricing page, the blog and its first post, published."""
    locale = Locale.objects.create(language_code="de")
    translated = {"locale": locale}
    for role, page in (("pricing", pages["pricing"]), ("blog", pages["blog"])):
        copy = live(page).copy_for_translation(locale, copy_parents=True)
        copy.save_revision().publish()
        translated[role] = live(copy)
    post = live(pages["posts"][0]).copy_for_translation(locale)
    post.save_revision().publish()
    translated["post"] = live(post)
    translated["home"] = live(translated["pricing"].get_parent())
    return translated


def translate(dialogue, locale, **fields):
    """Translate ``dialogue`` the way an editor does, then publish the translation."""
    translation = Dialogue.objects.get(pk=dialogue.pk).copy_for_translation(locale)
    for name, value in fields.items():
        setattr(translation, name, value)
    translation.save()
    translation.save_revision().publish()
    translation.refresh_from_db()
    return translation


def test_a_german_page_gets_the_german_translation(pages, german):
    """Targets, page types and slugs choose the translation in the page's locale."""
    english = make(
        name="Pricing", title="Questions?", slug="ask", targets=[(pages["pricing"], "page")]
    )
    deutsch = translate(english, german["locale"], title="Fragen?")
    posts_en = make(name="Posts", slug="posts", page_types=[BlogPage])
    posts_de = translate(posts_en, german["locale"])
    assert german["pricing"].locale == german["locale"]
    assert targeting.page_info(german["pricing"]).site_id == pages["pricing"].get_site().pk

    visitor = Browser()
    body = visitor.look(german["pricing"])
    assert (body["dialogue"]["id"], body["dialogue"]["title"]) == (deutsch.pk, "Fragen?")
    assert visitor.look(pages["pricing"])["dialogue"]["title"] == "Questions?"
    assert visitor.offered(german["post"]) == (posts_de.pk, None)
    assert visitor.offered(pages["posts"][0]) == (posts_en.pk, None)
    assert visitor.offered(german["pricing"], dialogue="ask") == (deutsch.pk, None)
    assert visitor.offered(pages["contact"], dialogue="ask") == (english.pk, None)

    assert_error(visitor.open(english, german["pricing"]), 404, "not_found")
    assert_error(visitor.open(english, german["pricing"], mode="popup"), 404, "not_found")
    started = visitor.started(deutsch, german["pricing"])
    assert started["dialogue"]["title"] == "Fragen?"


def test_untranslated_dialogues_show_on_german_pages_only_with_fallback(pages, german):
    """Without a German translation, the English dialogue stays off German pages (targets, page
    types, URL rules, slugs) unless the editor allows showing it untranslated."""
    by_target = make(name="Target", slug="target", targets=[(pages["home"], "descendants")])
    by_type = make(name="Type", page_types=[BlogPage], priority=90)
    assert tag_config(german["pricing"])["candidates"] is False
    assert tag_config(german["post"])["candidates"] is False
    by_url = make(name="URL", url_rules=["/de/*"], priority=95)
    # Any page may match an including URL rule: that is decided per request.
    assert tag_config(german["pricing"])["candidates"] is True
    visitor = Browser()
    assert visitor.look(german["pricing"]) == NOTHING
    assert visitor.look(german["post"], url="http://testserver/de/blog/post/") == NOTHING
    assert visitor.look(german["pricing"], dialogue="target") == NOTHING
    assert_error(visitor.open(by_target, german["pricing"]), 404, "not_found")
    assert_error(visitor.open(by_target, german["pricing"], mode="popup"), 404, "not_found")
    # English pages are unaffected.
    assert visitor.offered(pages["posts"][0]) == (by_type.pk, None)

    republish(by_target, locale_fallback=True)
    assert visitor.offered(german["pricing"]) == (by_target.pk, None)
    assert visitor.offered(german["pricing"], dialogue="target") == (by_target.pk, None)
    republish(by_type, locale_fallback=True)
    assert visitor.offered(german["post"]) == (by_type.pk, None)
    republish(by_url, locale_fallback=True)
    assert visitor.offered(german["post"], url="http://testserver/de/blog/post/") == (
        by_url.pk,
        None,
    )
    assert visitor.open(by_target, german["pricing"]).status_code == 201


def test_a_german_translation_that_its_url_rules_leave_out_is_not_replaced(pages, german):
    """Where a live German translation exists but its own URL rules do not match, the English
    original does not stand in for it on German pages, even with the fallback on (as with page
    targets); on English pages the English rules apply."""
    english = make(name="Offers", url_rules=["/de/*", "/offers/*"], locale_fallback=True)
    deutsch = translate(english, german["locale"])
    assert Browser().offered(german["pricing"], url="http://testserver/de/preise/") == (
        deutsch.pk,
        None,
    )
    narrowed = Dialogue.objects.get(pk=deutsch.pk)
    narrowed.url_rules = [DialogueURLRule(pattern="/de/angebote/*")]
    narrowed.save_revision().publish()
    assert Browser().look(german["pricing"], url="http://testserver/de/preise/") == NOTHING
    assert Browser().offered(german["pricing"], url="http://testserver/de/angebote/x") == (
        deutsch.pk,
        None,
    )
    assert Browser().offered(pages["pricing"], url="http://testserver/offers/x") == (
        english.pk,
        None,
    )
    # Once the translation is withdrawn, the fallback applies again.
    Dialogue.objects.get(pk=deutsch.pk).unpublish()
    assert Browser().offered(german["pricing"], url="http://testserver/de/preise/") == (
        english.pk,
        None,
    )


def test_a_target_on_one_translation_counts_for_all(pages, german):
    """Targeting the German blog section targets the English one too (same translation key)."""
    dialogue = make(name="Blog", targets=[(german["blog"], "descendants")], locale_fallback=True)
    assert Browser().offered(pages["posts"][0]) == (dialogue.pk, None)
    assert Browser().offered(german["post"]) == (dialogue.pk, None)
    assert Browser().look(pages["pricing"]) == NOTHING


def test_a_translation_copied_but_not_published_is_not_live(pages, german):
    """Wagtail's 'Translate' action saves ``copy_for_translation(locale)``; until the translation
    is published, German pages keep the English fallback rules (here: nothing)."""
    english = make(name="Pricing", targets=[(pages["pricing"], "page")])
    Dialogue.objects.get(pk=english.pk).copy_for_translation(german["locale"]).save()
    assert Browser().look(german["pricing"]) == NOTHING


# -- URL rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://www.example.com/folder/", True),
        ("https://www.example.com/folder/deep/page?utm_source=x#top", True),
        ("https://WWW.Example.COM/folder/a", True),
        ("https://shop.eu.example.com/folder/a", True),
        ("https://example.com/folder/a", False),  # "*." needs a subdomain
        ("http://www.example.com/folder/a", False),
        ("https://www.example.com/Folder/a", False),  # paths compare exactly
        ("https://www.example.com/folder", False),
        ("https://www.example.org/folder/a", False),
        ("https://www.example.com.evil.test/folder/a", False),
        ("https://www.example.com/other/folder/a", False),
        ("", False),
        ("not a url", False),
        ("http://[::1/folder/", False),
    ],
)
def test_full_address_patterns_with_a_host_wildcard(db, url, shown):
    """``https://*.example.com/folder/*`` as the product writes it, for views outside the tree."""
    dialogue = make(name="Folder", url_rules=["https://*.example.com/folder/*"])
    expected = (dialogue.pk, None) if shown else (None, None)
    assert Browser().offered(url=url) == expected
    response = Browser().open(dialogue, url=url)
    assert response.status_code == (201 if shown else 404)


def test_path_patterns_apply_on_every_host_and_page(pages, other_site):
    """``/events/*`` compares the path only: any host of any site, page or not."""
    dialogue = make(name="Events", url_rules=["/events/*", "/pricing/"])
    for host in ("testserver", "other.example"):
        visitor = Browser(host=host)
        assert visitor.offered(url=f"http://{host}/events/") == (dialogue.pk, None)
        assert visitor.offered(url=f"https://{host}/events/2025/berlin/?x=1") == (dialogue.pk, None)
        assert visitor.offered(url=f"http://{host}/events") == (None, None)
        assert visitor.offered(url=f"http://{host}/old/events/") == (None, None)
    assert Browser().offered(pages["pricing"]) == (dialogue.pk, None)
    assert Browser(host="other.example").offered(other_site["pricing"]) == (dialogue.pk, None)
    assert Browser().offered(pages["contact"]) == (None, None)
    assert tag_config(None)["candidates"] is True


def test_url_exclusions_override_page_targets_and_inclusions(pages):
    """An excluding URL rule keeps a dialogue off an address its page targets (or its own
    including rules) would show it on."""
    posts = pages["posts"]
    excluded_path = posts[1].get_url_parts()[2]
    dialogue = make(
        name="Blog",
        targets=[(pages["blog"], "descendants")],
        url_rules=[("/blog/funnels-*", True), ("/landing/*", False), ("/landing/secret/", True)],
    )
    visitor = Browser()
    assert excluded_path == "/blog/funnels-vs-paths/"
    assert visitor.offered(posts[0]) == (dialogue.pk, None)
    assert visitor.offered(posts[1]) == (None, None)
    assert_error(visitor.open(dialogue, posts[1]), 404, "not_found")
    assert visitor.offered(posts[2]) == (dialogue.pk, None)
    assert visitor.offered(url="http://testserver/landing/a/") == (dialogue.pk, None)
    assert visitor.offered(url="http://testserver/landing/secret/") == (None, None)
    # A lower-priority dialogue takes the excluded page.
    fallback = make(name="Fallback", priority=1, targets=[(pages["blog"], "descendants")])
    assert visitor.offered(posts[1]) == (fallback.pk, None)


def test_exclusion_only_rules_do_not_load_the_widget_off_the_tree(db):
    """Only including rules make views outside the tree worth a bootstrap."""
    make(name="Excluding", url_rules=[("/private/*", True)])
    assert tag_config(None)["candidates"] is False
    make(name="Including", url_rules=["/docs/*"])
    assert tag_config(None)["candidates"] is True


def test_query_parameter_and_utm_conditions(pages):
    """Audience rules on a query parameter and on UTM parameters of the page's address, which
    the product's URL rules cannot express; start checks them as bootstrap does."""
    dialogue = make(
        name="Campaign",
        targets=[(pages["pricing"], "page")],
        audience=audience(
            [rule("visitor.query", "is", "pro", key="plan")],
            [
                rule("visitor.utm_source", "is", "newsletter"),
                rule("visitor.utm_campaign", "starts_with", "spring"),
            ],
        ),
    )
    base = "http://testserver/pricing/"
    cases = {
        "?plan=pro": True,
        "?plan=PRO&plan=free": True,
        "?plan=free&plan=pro": False,  # the first value counts
        "?utm_source=Newsletter&utm_campaign=spring-2025": True,
        "?utm_source=newsletter": False,
        "?utm_campaign=spring": False,
        "?utm_source=newsletter&utm_campaign=autumn": False,
        "": False,
        "?plan": False,
        "?%zz=%zz&plan=%70ro": True,
    }
    for query, shown in cases.items():
        visitor = Browser()
        expected = (dialogue.pk, None) if shown else (None, None)
        assert visitor.offered(pages["pricing"], url=base + query) == expected, query
        response = visitor.open(dialogue, pages["pricing"], url=base + query)
        assert response.status_code == (201 if shown else 404), query


# -- cache invalidation ------------------------------------------------------------------------


def test_publish_and_unpublish_update_a_warm_cache(pages):
    visitor = Browser()
    assert visitor.look(pages["pricing"]) == NOTHING
    assert tag_config(pages["pricing"])["candidates"] is False
    dialogue = make(name="New", targets=[(pages["pricing"], "page")], slug="new")
    assert visitor.offered(pages["pricing"]) == (dialogue.pk, None)
    assert visitor.offered(pages["contact"], dialogue="new") == (dialogue.pk, None)
    assert tag_config(pages["pricing"])["candidates"] is True
    Dialogue.objects.get(pk=dialogue.pk).unpublish()
    assert visitor.look(pages["pricing"]) == NOTHING
    assert visitor.look(pages["contact"], dialogue="new") == NOTHING
    assert tag_config(pages["pricing"])["candidates"] is False


def test_moving_a_page_updates_a_warm_cache(pages):
    blog_dialogue = make(name="Blog", targets=[(pages["blog"], "descendants")])
    pricing_dialogue = make(name="Pricing", targets=[(pages["pricing"], "descendants")])
    post = pages["posts"][0]
    assert Browser().offered(post) == (blog_dialogue.pk, None)
    assert tag_config(post)["candidates"] is True
    live(post).move(live(pages["contact"]), pos="last-child")
    assert Browser().look(post) == NOTHING
    assert tag_config(post)["candidates"] is False
    live(post).move(live(pages["pricing"]), pos="last-child")
    assert Browser().offered(post) == (pricing_dialogue.pk, None)


def test_moving_a_page_to_another_site_updates_a_warm_cache(pages, other_site):
    main_site = Site.objects.get(is_default_site=True)
    main = make(name="Main posts", page_types=[BlogPage], site=main_site)
    other = make(name="Other posts", page_types=[BlogPage], site=other_site["site"])
    post = pages["posts"][2]
    assert Browser().offered(post) == (main.pk, None)
    live(post).move(live(other_site["blog"]), pos="last-child")
    assert Browser().offered(post) == (other.pk, None)


def test_page_publish_unpublish_and_delete_update_a_warm_cache(pages):
    """Page changes replace the version token; a deleted page (and its subtree) has no dialogue
    any more, even though its entries were cached."""
    dialogue = make(name="Blog", targets=[(pages["blog"], "descendants")])
    post = pages["posts"][0]
    assert Browser().offered(post) == (dialogue.pk, None)

    before = targeting.version()
    live(pages["contact"]).unpublish()
    unpublished = targeting.version()
    assert unpublished != before
    live(pages["contact"]).save_revision().publish()
    assert targeting.version() != unpublished

    assert Browser().offered(post) == (dialogue.pk, None)
    assert Browser().offered(pages["posts"][1]) == (dialogue.pk, None)
    live(pages["posts"][1]).delete()
    assert Browser().look(pages["posts"][1]) == NOTHING
    live(pages["blog"]).delete()
    assert Browser().look(post) == NOTHING
    assert Browser().offered(pages["blog"]) == (None, None)


def test_site_changes_update_a_warm_cache(pages):
    """Which site a host belongs to is cached; adding, changing and removing sites refreshes it,
    and so does a site's new root page."""
    main_site = Site.objects.get(is_default_site=True)
    dialogue = make(name="Main docs", url_rules=["/docs/*"], site=main_site)
    visitor = Browser(host="docs.example")
    # The default site answers every host.
    assert visitor.offered(url="http://docs.example/docs/a") == (dialogue.pk, None)
    root = Page.get_first_root_node()
    docs_home = root.add_child(instance=BlogIndexPage(title="Docs", slug="docs-home"))
    docs_site = Site.objects.create(hostname="docs.example", root_page=docs_home)
    assert visitor.offered(url="http://docs.example/docs/a") == (None, None)
    docs_site.hostname = "manual.example"
    docs_site.save()
    assert visitor.offered(url="http://docs.example/docs/a") == (dialogue.pk, None)
    docs_site.hostname = "docs.example"
    docs_site.save()
    assert visitor.offered(url="http://docs.example/docs/a") == (None, None)
    docs_site.delete()
    assert visitor.offered(url="http://docs.example/docs/a") == (dialogue.pk, None)

    # A site moved onto another root: its pages change sites.
    on_main = make(name="Main posts", page_types=[BlogPage], site=main_site, priority=90)
    post = pages["posts"][0]
    assert Browser().offered(post) == (on_main.pk, None)
    blog_site = Site.objects.create(hostname="blog.example", root_page=live(pages["blog"]))
    assert Browser().look(post) == NOTHING
    blog_site.root_page = live(pages["contact"])
    blog_site.save()
    assert Browser().offered(post) == (on_main.pk, None)


def test_locale_changes_update_a_warm_cache(pages):
    """The language → locale map and the default locale are cached; locales saved or deleted
    refresh them."""
    english = Locale.get_default()
    assert targeting.locale_id_for_language("de") == english.pk
    german = Locale.objects.create(language_code="de")
    assert targeting.locale_id_for_language("de") == german.pk
    german.delete()
    assert targeting.locale_id_for_language("de") == english.pk


def test_deleting_chat_settings_restores_the_default(pages):
    """The per-site switch is cached: deleting the settings row (the site's default, enabled)
    must not leave the chat switched off."""
    dialogue = make(name="Main", targets=[(pages["pricing"], "page")])
    settings = ChatSettings.for_site(Site.objects.get(is_default_site=True))
    settings.enabled = False
    settings.save()
    assert Browser().look(pages["pricing"]) == NOTHING
    settings.delete()
    assert Browser().offered(pages["pricing"]) == (dialogue.pk, None)


# -- warm-cache budgets ------------------------------------------------------------------------


@pytest.fixture
def busy_site(pages, other_site):
    """Dialogues of every kind: targets, page types, URL rules, audiences, slugs, two sites."""
    make(name="Pricing", slug="pricing", targets=[(pages["pricing"], "page")], priority=90)
    make(name="Blog", page_types=[BlogPage], site=Site.objects.get(is_default_site=True))
    make(name="Docs", url_rules=["/docs/*", ("/docs/private/*", True)])
    make(
        name="Mobile",
        targets=[(pages["home"], "descendants")],
        audience=audience([rule("visitor.device", "is", "mobile")]),
        priority=99,
    )
    make(name="Other", targets=[(other_site["home"], "descendants")])
    return pages


def test_the_tag_costs_no_queries_on_a_warm_cache(busy_site, other_site, django_assert_num_queries):
    pages = busy_site
    cases = [
        (pages["pricing"], "testserver"),
        (pages["contact"], "testserver"),
        (pages["posts"][0], "testserver"),
        (None, "testserver"),
        (other_site["pricing"], "other.example"),
        (None, "other.example"),
    ]
    loaded = [(live(page) if page is not None else None, host) for page, host in cases]
    warm = [render_tag_html(page, host) for page, host in loaded]
    assert [config_of(html)["candidates"] for html in warm] == [True, True, True, True, True, True]
    for (page, host), html in zip(loaded, warm, strict=True):
        with django_assert_num_queries(0):
            assert render_tag_html(page, host) == html


def render_tag_html(page, host):
    """The tag's HTML for an already loaded page (loading it is not what is measured)."""
    request = RequestFactory().get("/", HTTP_HOST=host)
    return Template("{% load dynchat %}{% dynchat %}").render(
        Context({"request": request, "page": page})
    )


def config_of(html):
    found = re.search(r'<script id="dynchat-config" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def _count(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_anonymous_bootstrap_costs_at_most_three_queries(busy_site, django_assert_max_num_queries):
    """A visitor without cookies: page targets, page types, URL rules off the tree, slugs."""
    pages = busy_site
    calls = [
        lambda: Browser().look(pages["pricing"]),
        lambda: Browser().look(pages["posts"][0], url="http://testserver/blog/x/?utm_source=a"),
        lambda: Browser().look(pages["contact"]),
        lambda: Browser().look(url="http://testserver/docs/intro/", ref="https://google.com/"),
        lambda: Browser().look(pages["contact"], dialogue="pricing"),
        lambda: Browser(user_agent="Mozilla/5.0 (iPhone) Mobile").look(pages["pricing"]),
    ]
    for call in calls:
        call()  # warm
        with django_assert_max_num_queries(3):
            call()
    assert [_count(call) for call in calls] == [0] * len(calls)


def test_returning_visitor_bootstrap_costs_at_most_three_queries(
    busy_site, django_assert_max_num_queries
):
    """With a visitor cookie: none, an unfinished, an engaged and a completed conversation."""
    pages = busy_site
    pricing_dialogue = Dialogue.objects.get(name="Pricing")
    counts = {}
    visitor = Browser()
    visitor.started(pricing_dialogue, pages["pricing"])
    for label, page in (("unfinished", pages["pricing"]), ("elsewhere", pages["contact"])):
        visitor.look(page)
        with django_assert_max_num_queries(3):
            visitor.look(page)
        counts[label] = _count(lambda page=page: visitor.look(page))

    engaged_visitor = Browser()
    engaged = engage(engaged_visitor, pricing_dialogue, pages["pricing"])
    engaged_visitor.look(pages["contact"])
    with django_assert_max_num_queries(3):
        assert engaged_visitor.look(pages["contact"])["conversation"] == engaged
    counts["engaged"] = _count(lambda: engaged_visitor.look(pages["contact"]))

    engaged_visitor.reply(engaged, "ada@example.com")
    engaged_visitor.look(pages["pricing"])
    with django_assert_max_num_queries(3):
        engaged_visitor.look(pages["pricing"])
    counts["completed"] = _count(lambda: engaged_visitor.look(pages["pricing"]))
    assert counts == {"unfinished": 3, "elsewhere": 2, "engaged": 3, "completed": 2}
