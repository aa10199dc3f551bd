"""What bootstrap tells the widget besides the dialogue: language, texts and the site's look."""

from wagtail.models import Locale, Site

from wagtail_dynchat.models import ChatSettings

from .conftest import ChatClient
from .test_scenarios import make
from .test_targeting_rules import german, translate  # noqa: F401 (german: a fixture)


def test_bootstrap_sends_the_sites_look_in_the_pages_language(chat, simple_dialogue, pages):
    ChatSettings.objects.create(
        site=Site.objects.get(is_default_site=True),
        bot_name="Ava",
        header_bg="#112233",
        position="left",
        response_delay=250,
        privacy_url="/privacy/",
    )
    setup = chat.bootstrap(pages["pricing"]).json()["setup"]
    assert (setup["lang"], setup["dir"]) == ("en", "ltr")
    assert setup["strings"]["send"] == "Send"
    look = setup["look"]
    assert (look["name"], look["position"], look["delay"], look["privacy"]) == (
        "Ava",
        "left",
        250,
        "/privacy/",
    )
    assert look["theme"]["header-bg"] == "#112233"


def test_no_setup_when_no_dialogue_applies(chat, pages):
    assert chat.bootstrap(pages["contact"]).json() == {
        "dialogue": None,
        "conversation": None,
        "setup": None,
        "consent": None,
    }


def test_a_german_page_speaks_german(pages, german):  # noqa: F811 (the imported fixture)
    english = make(name="Ask", title="Questions?", targets=[(pages["pricing"], "page")])
    deutsch = translate(english, german["locale"], title="Fragen?")
    visitor = ChatClient()
    body = visitor.bootstrap(german["pricing"]).json()
    assert body["dialogue"]["id"] == deutsch.pk
    assert body["dialogue"]["lang"] == "de"
    assert body["setup"]["lang"] == "de"
    assert body["setup"]["strings"]["send"] == "Senden"

    conversation = visitor.start(deutsch, german["pricing"]).json()["conversation"]
    conversation = visitor.answer(conversation, 0).json()["conversation"]
    retry = visitor.answer(conversation, "kaputt").json()["items"][0]
    assert retry["kind"] == "retry"
    assert "E-Mail" in retry["text"], retry["text"]
    # The English page keeps English.
    assert visitor.bootstrap(pages["pricing"]).json()["setup"]["strings"]["send"] == "Send"


def test_an_untranslated_dialogue_on_a_german_page_is_marked_as_english(pages, german):  # noqa: F811 (the imported fixture)
    make(name="Fallback", targets=[(pages["pricing"], "page")], locale_fallback=True)
    body = ChatClient().bootstrap(german["pricing"]).json()
    assert body["dialogue"]["lang"] == Locale.get_default().language_code == "en"
    assert body["setup"]["lang"] == "de"


def test_outside_the_page_tree_the_language_comes_from_the_address(pages, german):  # noqa: F811 (the imported fixture)
    make(name="Everywhere", url_rules=["/de/*", "/offers/*"], locale_fallback=True)
    visitor = ChatClient()
    german_view = visitor.client.get(
        "/dynchat/api/bootstrap", {"url": "http://testserver/de/angebote/"}
    ).json()
    assert german_view["setup"]["lang"] == "de"
    plain = visitor.client.get("/dynchat/api/bootstrap", {"url": "http://testserver/offers/"})
    assert plain.json()["setup"]["lang"] == "en"
