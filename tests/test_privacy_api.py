"""Consent, allowed domains and blocked e-mail domains, through the visitor API and the tag."""

import json

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from wagtail.models import Site

from wagtail_dynchat.models import ChatSettings, Conversation, ConversationEvent, Person, Visitor

from .conftest import ChatClient


def site_settings(**fields):
    site = Site.objects.get(is_default_site=True)
    settings, _created = ChatSettings.objects.update_or_create(site=site, defaults=fields)
    return settings


def stored_rows():
    return (
        Visitor.objects.count(),
        Person.objects.count(),
        Conversation.objects.count(),
        ConversationEvent.objects.count(),
    )


def render_tag(page, host="testserver"):
    request = RequestFactory().get(page.url, HTTP_HOST=host)
    return Template("{% load dynchat %}{% dynchat %}").render(
        Context({"request": request, "page": page})
    )


def tag_config(html):
    start = html.index(">", html.index('id="dynchat-config"')) + 1
    return json.loads(html[start : html.index("</script>", start)])


# -- consent -----------------------------------------------------------------------------------


def test_a_site_that_asks_stores_nothing_before_consent(chat, simple_dialogue, pages):
    site_settings(consent_required=True, consent_text="May we keep your answers?")

    boot = chat.bootstrap(pages["pricing"])
    assert boot.status_code == 200
    body = boot.json()
    assert body["dialogue"]["id"] == simple_dialogue.pk
    assert body["consent"] == {"text": "May we keep your answers?"}
    assert not boot.cookies

    refused = chat.start(simple_dialogue, pages["pricing"])
    assert refused.status_code == 403
    assert refused.json()["error"] == "consent_required"
    assert not refused.cookies
    assert stored_rows() == (0, 0, 0, 0)

    # Refusing stores nothing either.
    declined = chat._post("consent", {"accept": False})
    assert declined.status_code == 204
    assert not declined.cookies
    assert stored_rows() == (0, 0, 0, 0)

    accepted = chat._post("consent", {"accept": True})
    assert accepted.status_code == 204
    assert accepted.cookies["dynchat_consent"].value == "1"
    assert accepted.cookies["dynchat_consent"]["httponly"]
    assert stored_rows() == (0, 0, 0, 0)

    assert chat.bootstrap(pages["pricing"]).json()["consent"] is None
    started = chat.start(simple_dialogue, pages["pricing"])
    assert started.status_code == 201
    conversation = started.json()["conversation"]
    assert chat.answer(conversation, 0).status_code == 200
    assert Conversation.objects.count() == 1


def test_withdrawing_consent_forgets_the_visitor(chat, simple_dialogue, pages):
    site_settings(consent_required=True)
    chat._post("consent", {"accept": True})
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]

    withdrawn = chat._post("consent", {"accept": False})
    assert withdrawn.status_code == 204
    for name in ("dynchat_consent", "dynchat_vid", "dynchat_sid"):
        assert withdrawn.cookies[name]["max-age"] == 0
    assert chat.bootstrap(pages["pricing"]).json()["consent"] == {"text": ""}
    assert chat.answer(conversation, 0).json()["error"] == "consent_required"


@pytest.mark.parametrize("header", ["HTTP_DNT", "HTTP_SEC_GPC"])
def test_do_not_track_and_gpc_ask_first_only_when_the_site_honours_them(
    header, simple_dialogue, pages
):
    visitor = ChatClient()
    visitor.client.defaults[header] = "1"
    assert visitor.bootstrap(pages["pricing"]).json()["consent"] is None

    site_settings(honour_dnt_gpc=True)
    assert visitor.bootstrap(pages["pricing"]).json()["consent"] == {"text": ""}
    assert visitor.start(simple_dialogue, pages["pricing"]).status_code == 403
    # Visitors without the signal are not asked.
    assert ChatClient().bootstrap(pages["pricing"]).json()["consent"] is None
    assert ChatClient().start(simple_dialogue, pages["pricing"]).status_code == 201


def test_the_tag_tells_the_loader_when_consent_may_be_needed(simple_dialogue, pages):
    assert "consent" not in tag_config(render_tag(pages["pricing"]))
    site_settings(consent_required=True)
    assert tag_config(render_tag(pages["pricing"]))["consent"] is True


def test_consent_needs_a_boolean(chat, pages):
    answer = chat._post("consent", {"accept": "maybe"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid"


# -- allowed domains ---------------------------------------------------------------------------


def test_allowed_domains_refuse_other_hosts_in_the_api(simple_dialogue, pages):
    site_settings(allowed_domains="testserver\n*.example.com")
    assert ChatClient().bootstrap(pages["pricing"]).status_code == 200

    scraped = ChatClient().client.get(
        "/dynchat/api/bootstrap",
        {"page": pages["pricing"].pk},
        headers={"Referer": "https://copy.example.org/pricing/"},
    )
    assert scraped.status_code == 403
    assert scraped.json() == {
        "error": "forbidden_domain",
        "message": "The chat is not available on copy.example.org.",
    }
    subdomain = ChatClient().client.get(
        "/dynchat/api/bootstrap",
        {"page": pages["pricing"].pk},
        headers={"Referer": "https://www.example.com/pricing/"},
    )
    assert subdomain.status_code == 200


def test_allowed_domains_keep_the_tag_off_other_hosts(simple_dialogue, pages, settings):
    settings.ALLOWED_HOSTS = ["*"]
    site_settings(allowed_domains="www.example.com")
    assert render_tag(pages["pricing"], host="staging.example.com") == ""
    assert "dynchat-config" in render_tag(pages["pricing"], host="www.example.com")


# -- blocked e-mail domains --------------------------------------------------------------------


def test_blocked_email_domains_ask_again_with_the_sites_message(chat, simple_dialogue, pages):
    site_settings(
        blocked_email_domains="gmail.com\nrival.example",
        blocked_email_message="Please use your company address.",
    )
    conversation = chat.start(simple_dialogue, pages["pricing"]).json()["conversation"]
    conversation = chat.answer(conversation, 0).json()["conversation"]

    retry = chat.answer(conversation, "ann@mail.rival.example").json()
    assert retry["items"] == [
        {
            "kind": "retry",
            "card": conversation["awaiting"]["card"],
            "text": "Please use your company address.",
        }
    ]
    assert Person.objects.get().email is None
    done = chat.answer(conversation, "ann@customer.example").json()
    assert done["conversation"]["status"] == "completed"
    assert Person.objects.get().email == "ann@customer.example"
