"""{% dynchat %}: a page-only configuration and the loader, nothing per visitor."""

import json
import re

from django.template import Context, Template
from django.test import RequestFactory, override_settings
from wagtail.models import Page

from tests.conftest import SIMPLE_FLOW, make_dialogue
from wagtail_dynchat.tag import render_tag


def render(page=None, request=None, template="{% load dynchat %}{% dynchat %}"):
    request = request or RequestFactory().get("/")
    return Template(template).render(Context({"request": request, "page": page}))


def config_of(html):
    match = re.search(r'<script id="dynchat-config" type="application/json">(.*?)</script>', html)
    assert match, html
    return json.loads(match.group(1))


def test_targeted_page_has_candidates(pages):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    html = render(Page.objects.get(pk=pages["pricing"].pk))
    config = config_of(html)
    assert config["candidates"] is True
    assert config["page"] == pages["pricing"].pk
    assert config["api"] == "/dynchat/api/"
    assert config["widget"].endswith("wagtail_dynchat/widget.js")
    assert '<script type="module" src="/static/wagtail_dynchat/loader.js"></script>' in html


def test_untargeted_page_has_no_candidates(pages):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    assert config_of(render(Page.objects.get(pk=pages["contact"].pk)))["candidates"] is False


def test_views_without_a_page_still_load_the_loader(db):
    # The loader resumes an engaged conversation anywhere, even off the page tree.
    config = config_of(render(page=None))
    assert config == {**config, "page": None, "candidates": False}


def test_output_is_the_same_for_every_visitor(pages):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    page = Page.objects.get(pk=pages["pricing"].pk)
    first = RequestFactory().get("/", HTTP_COOKIE="dynchat_vid=aaaaaaaaaaaaaaaaaaaaaa")
    second = RequestFactory().get("/")
    assert render(page, first) == render(page, second)


def test_warm_cache_adds_no_queries(pages, django_assert_num_queries):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    page = Page.objects.get(pk=pages["pricing"].pk)
    render(page)
    with django_assert_num_queries(0):
        render(page)


def test_nonce_is_passed_to_the_loader(pages):
    html = render(template='{% load dynchat %}{% dynchat nonce="abc123" %}')
    assert '<script type="module" src="/static/wagtail_dynchat/loader.js" nonce="abc123">' in html


def test_each_response_gets_its_own_nonce(pages):
    first = render(template='{% load dynchat %}{% dynchat nonce="first" %}')
    second = render(template='{% load dynchat %}{% dynchat nonce="second" %}')
    assert 'nonce="first"' in first and 'nonce="second"' in second
    assert "first" not in second
    assert config_of(first) == config_of(second)
    # A nonce can't smuggle markup in.
    evil = render_tag(RequestFactory().get("/"), None, '"><script>alert(1)</script>')
    assert "<script>alert" not in evil and "&quot;&gt;&lt;script&gt;" in evil


def test_page_previews_render_nothing(pages):
    request = RequestFactory().get("/")
    request.is_preview = True
    assert render(Page.objects.get(pk=pages["pricing"].pk), request) == ""


def test_switched_off_renders_nothing(pages):
    with override_settings(WAGTAIL_DYNCHAT={"ENABLED": False}):
        assert render(Page.objects.get(pk=pages["pricing"].pk)) == ""


def test_example_site_pages_carry_the_tag(client, pages):
    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    assert config_of(client.get("/pricing/").content.decode())["candidates"] is True
    assert config_of(client.get("/contact/").content.decode())["candidates"] is False
    # Even Wagtail's 404 page renders the tag without failing.
    assert client.get("/no-such-page/").status_code == 404


def test_jinja2_extension_renders_the_same(pages):
    from jinja2 import Environment

    make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    page = Page.objects.get(pk=pages["pricing"].pk)
    request = RequestFactory().get("/")
    env = Environment(extensions=["wagtail_dynchat.jinja2tags.dynchat"], autoescape=True)
    html = env.from_string("{{ dynchat() }}").render(request=request, page=page)
    assert html == render(page, request)
