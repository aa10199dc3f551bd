"""Dialogues translated with wagtail-localize: what translators are offered, and the German
translation a visitor on a German page gets.

wagtail-localize extracts the translatable "segments" of a dialogue (texts, rich text split into
strings, overridable URLs), records translations per segment and writes them back into a copy of
the original in the target locale. The non-text settings of a flow (branch keys, choice values and
targets, rules, selectors, goal names) are :class:`~wagtail_dynchat.blocks.base.IdentifierBlock`
values: never offered, always copied from the original.
"""

import json
import re
from html import unescape
from pathlib import Path

import pytest

pytest.importorskip("wagtail_localize", reason="wagtail-localize is not installed")

from django.urls import reverse
from wagtail.models import Locale
from wagtail_localize.models import (
    OverridableSegment,
    RelatedObjectSegment,
    StringSegment,
    StringTranslation,
    TemplateSegment,
    Translation,
    TranslationSource,
)
from wagtail_localize.operations import translate_object
from wagtail_localize.segments.extract import extract_segments

import wagtail_dynchat
from example_site.home.models import BlogPage
from wagtail_dynchat.blocks import BranchBlock
from wagtail_dynchat.models import ConversationEvent, Dialogue, Person
from wagtail_dynchat.snippets.blueprints import document, picklist

from .conftest import branch, capture, goal, message, question
from .test_scenarios import NOTHING, Browser, audience, condition, make, rule
from .test_targeting_rules import german  # noqa: F401 (a fixture)


def jump(target):
    return {"type": "jump", "value": {"target": target}}


def email_capture():
    card = capture("email", "<p>Your work e-mail?</p>", "email", placeholder="you@company.com")
    card["value"]["retry"] = "That is not an e-mail address."
    return card


FLOW = [
    branch(
        "start",
        "Opening",
        message(
            '<p>Hello {{ person.first_name|"there" }}! '
            '<a href="https://example.com/prices">Our prices</a> are online.</p>'
        ),
        question(
            "<p>What brings you here?</p>",
            [("Book a demo", "demo", "demo"), ("Just looking", "browsing", "bye")],
        ),
    ),
    branch(
        "demo",
        "Wants a demo",
        picklist(
            "<p>Which team are you in?</p>",
            "job_title",
            [("Marketing", "marketing"), ("Engineering", "engineering")],
        ),
        condition([rule("person.job_title", "is", "engineering")], "engineers"),
        email_capture(),
        goal("Demo requested", 3),
        document("<p>Our price list:</p>", "Price list (PDF)", "https://example.com/prices.pdf"),
        jump("thanks"),
    ),
    branch("engineers", "Engineers", message("<p>Our API docs are a good start.</p>")),
    branch("bye", "Browsing", message("<p>Enjoy your visit!</p>")),
    branch("thanks", "Thanks", message("<p>Thank you! We will be in touch.</p>")),
]

# Every text a translator is offered, with its German translation. The slug is offered too (a
# CharField of the model); the translator leaves it as it is so links keep opening the dialogue.
GERMAN = {
    "Pricing questions": "Fragen zu Preisen",
    "ask": "ask",
    "Questions?": "Fragen?",
    "Asks visitors about a demo.": "Fragt Besucher nach einer Demo.",
    "Opening": "Begrüßung",
    "Wants a demo": "Möchte eine Demo",
    "Engineers": "Entwickler",
    "Browsing": "Stöbert",
    "Thanks": "Dank",
    'Hello {{ person.first_name|"there" }}! <a id="a1">Our prices</a> are online.': (
        'Hallo {{ person.first_name|"du" }}! <a id="a1">Unsere Preise</a> stehen online.'
    ),
    "What brings you here?": "Was führt Sie zu uns?",
    "Book a demo": "Demo buchen",
    "Just looking": "Nur schauen",
    "Which team are you in?": "In welchem Team sind Sie?",
    "Marketing": "Marketing-Team",
    "Engineering": "Entwicklung",
    "Your work e-mail?": "Ihre geschäftliche E-Mail-Adresse?",
    "you@company.com": "sie@firma.de",
    "That is not an e-mail address.": "Das ist keine E-Mail-Adresse.",
    "Our price list:": "Unsere Preisliste:",
    "Price list (PDF)": "Preisliste (PDF)",
    "Our API docs are a good start.": "Unsere API-Dokumentation ist ein guter Anfang.",
    "Enjoy your visit!": "Viel Spaß beim Stöbern!",
    "Thank you! We will be in touch.": "Danke! Wir melden uns.",
}


@pytest.fixture
def english(pages):
    """A live English dialogue on the pricing page and on every blog post, with every card type,
    an audience, a click and a scroll trigger."""
    return make(
        FLOW,
        name="Pricing questions",
        title="Questions?",
        slug="ask",
        description="Asks visitors about a demo.",
        targets=[(pages["pricing"], "page")],
        page_types=[BlogPage],
        url_rules=["/preise/*"],
        audience=audience([rule("visitor.language", "in_list", "de, en")]),
        triggers=[
            {"type": "click", "selector": ".talk-to-sales"},
            {"type": "scroll", "percent": 50},
        ],
        priority=70,
    )


@pytest.fixture
def de(german):  # noqa: F811 (the imported fixture)
    """German translations of the pricing page, the blog and its first post, published."""
    return german


@pytest.fixture
def draft_translations(settings):
    """wagtail-localize publishes a new translation when the original is live (see
    ``test_by_default_the_translate_action_publishes_the_untranslated_copy``); the setting sites
    should use (the example site's) keeps it a draft until the translator publishes."""
    settings.WAGTAILLOCALIZE_SYNC_LIVE_STATUS_ON_TRANSLATE = False


def offered(dialogue):
    """``(path, text)`` of every string wagtail-localize offers translators for ``dialogue``."""
    source, _created = TranslationSource.get_or_create_from_instance(fresh(dialogue))
    return [
        (segment.context.path, segment.string.data)
        for segment in StringSegment.objects.filter(source=source)
        .select_related("context", "string")
        .order_by("order")
    ]


def fresh(dialogue):
    return Dialogue.objects.get(pk=dialogue.pk)


def pages_of(de):
    """The English originals of the German pages."""
    return {
        role: page.get_translation(Locale.get_default())
        for role, page in de.items()
        if role != "locale"
    }


def submit(dialogue, locale, django_capture_on_commit_callbacks):
    """The admin's "Translate" action: a translation record and a copy in ``locale``."""
    with django_capture_on_commit_callbacks(execute=True):
        translate_object(fresh(dialogue), [locale])
    return Translation.objects.get(source__object_id=dialogue.translation_key, target_locale=locale)


def translate_strings(translation, translations=GERMAN):
    """The translator fills in every string of the translation editor."""
    source = translation.source
    for segment in StringSegment.objects.filter(source=source).select_related("context", "string"):
        StringTranslation.objects.update_or_create(
            translation_of=segment.string,
            locale=translation.target_locale,
            context=segment.context,
            defaults={"data": translations[segment.string.data]},
        )


def publish(translation, django_capture_on_commit_callbacks):
    """The translation editor's "Publish" button."""
    with django_capture_on_commit_callbacks(execute=True):
        translation.save_target(publish=True)
    return Dialogue.objects.get(
        translation_key=translation.source.object_id, locale=translation.target_locale
    )


def texts(flow):
    """Every translatable text of a compiled flow (rendered HTML included)."""
    found = []
    for branch_ in flow["branches"]:
        found.append(branch_["name"])
        for card in branch_["cards"]:
            found += [
                card[key] for key in ("html", "title", "placeholder", "retry") if card.get(key)
            ]
            found += [item["label"] for item in card.get("choices", []) + card.get("options", [])]
    return found


def skeleton(dialogue):
    """The compiled flow with its texts left out: keys, card ids and types, choice values and
    targets, inputs, person fields, conditions, goals and URLs."""
    flow = fresh(dialogue).compile_flow(render=False)
    for branch_ in flow["branches"]:
        del branch_["name"]
        for card in branch_["cards"]:
            for key in ("title", "placeholder", "retry"):
                card.pop(key, None)
            for item in card.get("choices", []) + card.get("options", []):
                del item["label"]
    return flow


def settings_of(dialogue):
    dialogue = fresh(dialogue)
    return {
        "audience": dialogue.compile_audience(),
        "triggers": dialogue.triggers.stream_block.compile(dialogue.triggers),
        "targets": [(t.page_id, t.scope, t.exclude) for t in dialogue.targets.all()],
        "page_types": sorted(dialogue.page_types.values_list("pk", flat=True)),
        "url_rules": [(r.pattern, r.exclude) for r in dialogue.url_rules.all()],
        "priority": dialogue.priority,
        "repeat": dialogue.repeat,
        "locale_fallback": dialogue.locale_fallback,
        "site": dialogue.site_id,
    }


# -- what translators are offered --------------------------------------------------------------


def test_translators_are_offered_the_texts_and_nothing_else(english):
    """Texts visitors read (and the dialogue's own name, slug, title and description) are offered;
    branch keys, choice and option values, targets, rules, the selector and the goal name are
    not. Rich text is split into strings around its markup; links stay overridable URLs."""
    strings = offered(english)
    assert sorted(text for _path, text in strings) == sorted(GERMAN)
    fields = {path.rsplit(".", 1)[-1] for path, _text in strings}
    assert fields == {
        "name",  # the dialogue's and the branches' (their descriptions)
        "slug",
        "title",  # the dialogue's and the document card's
        "description",
        "text",
        "prompt",
        "label",
        "placeholder",
        "retry",
    }
    assert not [path for path, _text in strings if path.startswith(("audience", "triggers"))]

    source = TranslationSource.objects.get_for_instance(english)
    # URLs (a link's href, a document card's URL) are not strings: they are copied from the
    # original, and a translator may override them (a German price list).
    overridable = [
        (segment.context.path, json.loads(segment.data_json))
        for segment in OverridableSegment.objects.filter(source=source).select_related("context")
    ]
    assert [url for _path, url in overridable] == [
        "https://example.com/prices",
        "https://example.com/prices.pdf",
    ]
    assert overridable[0][0].endswith(".text.'https://example.com/prices'")
    assert overridable[1][0].endswith(".url")
    # One template per rich text, holding the markup the strings go back into.
    assert TemplateSegment.objects.filter(source=source).count() == 8
    assert not RelatedObjectSegment.objects.filter(source=source).exists()


def test_segments_are_the_same_every_time_the_dialogue_is_read(english):
    """Translations are recorded per segment path, so list items (answers, options, rules) need
    ids that survive a reload, even in flows written as data in code."""
    stored = fresh(english).flow.get_prep_value()
    choices = stored[0]["value"]["cards"][1]["value"]["choices"]
    assert all(choice["type"] == "item" and choice["id"] for choice in choices)
    paths = [segment.path for segment in extract_segments(fresh(english))]
    assert [segment.path for segment in extract_segments(fresh(english))] == paths
    assert len([path for path in paths if ".choices." in path]) == 2


def test_identifier_blocks_are_stored_as_char_blocks():
    """The block that hides identifiers from translators changes nothing else: it migrates as a
    CharBlock, and the package never imports wagtail-localize."""
    key = BranchBlock().child_blocks["key"]
    assert key.deconstruct()[0] == "wagtail.blocks.CharBlock"
    assert key.get_translatable_segments("start") == []
    assert key.restore_translated_segments("start", []) == "start"
    package = Path(wagtail_dynchat.__file__).parent
    imports = ("import wagtail_localize", "from wagtail_localize")
    assert not [
        path
        for path in package.rglob("*.py")
        if any(line.lstrip().startswith(imports) for line in path.read_text("utf-8").splitlines())
    ]


# -- the German translation ----------------------------------------------------------------------


def test_a_localized_dialogue_speaks_german_on_german_pages(
    english, de, draft_translations, django_capture_on_commit_callbacks
):
    """Translate, fill in every string, publish: the German dialogue has the German texts and the
    original's structure and settings, and a visitor on a German page talks to it in German."""
    locale = de["locale"]
    translation = submit(english, locale, django_capture_on_commit_callbacks)
    draft = Dialogue.objects.get(translation_key=english.translation_key, locale=locale)
    # A draft (the setting), with the English texts until the translator is done.
    assert (draft.live, draft.live_revision_id, draft.title) == (False, None, "Questions?")
    assert Browser(language="de").look(de["pricing"]) == NOTHING

    translate_strings(translation)
    deutsch = publish(translation, django_capture_on_commit_callbacks)
    assert deutsch.pk == draft.pk
    assert deutsch.live and deutsch.live_revision_id and not deutsch.has_unpublished_changes
    assert (deutsch.name, deutsch.title, deutsch.slug) == ("Fragen zu Preisen", "Fragen?", "ask")
    assert deutsch.description == "Fragt Besucher nach einer Demo."

    flow = deutsch.compile_flow()
    assert texts(flow) == [
        "Begrüßung",
        '<p>Hallo {{ person.first_name|"du" }}! <a href="https://example.com/prices" '
        'rel="noopener noreferrer">Unsere Preise</a> stehen online.</p>',
        "<p>Was führt Sie zu uns?</p>",
        "Demo buchen",
        "Nur schauen",
        "Möchte eine Demo",
        "<p>In welchem Team sind Sie?</p>",
        "Marketing-Team",
        "Entwicklung",
        "<p>Ihre geschäftliche E-Mail-Adresse?</p>",
        "sie@firma.de",
        "Das ist keine E-Mail-Adresse.",
        "<p>Unsere Preisliste:</p>",
        "Preisliste (PDF)",
        "Entwickler",
        "<p>Unsere API-Dokumentation ist ein guter Anfang.</p>",
        "Stöbert",
        "<p>Viel Spaß beim Stöbern!</p>",
        "Dank",
        "<p>Danke! Wir melden uns.</p>",
    ]
    assert skeleton(deutsch) == skeleton(english)
    assert settings_of(deutsch) == settings_of(english)
    assert fresh(english).title == "Questions?"

    visitor = Browser(language="de")
    body = visitor.look(de["pricing"])
    assert (body["dialogue"]["id"], body["dialogue"]["title"]) == (deutsch.pk, "Fragen?")
    assert body["dialogue"]["triggers"] == [
        {"type": "click", "selector": ".talk-to-sales"},
        {"type": "scroll", "percent": 50},
    ]
    assert visitor.offered(de["post"]) == (deutsch.pk, None)
    assert visitor.offered(de["pricing"], dialogue="ask") == (deutsch.pk, None)
    assert Browser(language="en").look(pages_of(de)["pricing"])["dialogue"]["id"] == english.pk

    conversation = visitor.started(deutsch, de["pricing"])
    assert conversation["dialogue"]["title"] == "Fragen?"
    greeting, asked = conversation["items"]
    assert greeting["html"] == (
        '<p>Hallo du! <a href="https://example.com/prices" rel="noopener noreferrer">'
        "Unsere Preise</a> stehen online.</p>"
    )
    assert asked["html"] == "<p>Was führt Sie zu uns?</p>"
    assert [choice["label"] for choice in asked["choices"]] == ["Demo buchen", "Nur schauen"]

    conversation = visitor.reply(conversation, 0)
    team = conversation["items"][-1]
    assert team["html"] == "<p>In welchem Team sind Sie?</p>"
    assert team["options"] == [
        {"value": "marketing", "label": "Marketing-Team"},
        {"value": "engineering", "label": "Entwicklung"},
    ]
    conversation = visitor.reply(conversation, "marketing")
    email = conversation["items"][-1]
    assert (email["html"], email["placeholder"]) == (
        "<p>Ihre geschäftliche E-Mail-Adresse?</p>",
        "sie@firma.de",
    )
    retry = visitor.answer(conversation, "nope").json()["items"]
    assert [item["text"] for item in retry] == ["Das ist keine E-Mail-Adresse."]
    done = visitor.reply(conversation, "ada@example.com")
    assert done["status"] == "completed"
    shown = [item for item in done["items"] if item["kind"] == "document"]
    assert [(item["title"], item["url"]) for item in shown] == [
        ("Preisliste (PDF)", "https://example.com/prices.pdf")
    ]
    assert "<p>Danke! Wir melden uns.</p>" in [item.get("html") for item in done["items"]]

    # What is stored is the same in every language: values, not labels; the goal's name.
    person = Person.objects.get(email="ada@example.com")
    assert person.job_title == "marketing"
    reached = ConversationEvent.objects.get(kind=ConversationEvent.GOAL)
    assert reached.dialogue_id == deutsch.pk
    assert reached.data["name"] == "Demo requested"


def test_engineers_follow_the_condition_in_german(
    english, de, draft_translations, django_capture_on_commit_callbacks
):
    """Conditions and their rules keep working on stored values after translation."""
    translation = submit(english, de["locale"], django_capture_on_commit_callbacks)
    translate_strings(translation)
    deutsch = publish(translation, django_capture_on_commit_callbacks)
    visitor = Browser(language="de")
    conversation = visitor.reply(visitor.started(deutsch, de["pricing"]), 0)
    done = visitor.reply(conversation, "engineering")
    assert done["status"] == "completed"
    shown = [item["html"] for item in done["items"] if item["kind"] == "message"]
    assert shown[1:] == ["<p>Unsere API-Dokumentation ist ein guter Anfang.</p>"]
    assert Person.objects.get().job_title == "engineering"


def test_changes_to_the_original_reach_the_translation(
    english, de, draft_translations, django_capture_on_commit_callbacks
):
    """After the English dialogue changes, syncing keeps the German strings, copies the changed
    settings (a choice's target, a rule, a trigger) and shows new texts in English until they are
    translated."""
    locale = de["locale"]
    translation = submit(english, locale, django_capture_on_commit_callbacks)
    translate_strings(translation)
    publish(translation, django_capture_on_commit_callbacks)

    changed = fresh(english)
    flow = changed.flow.get_prep_value()
    flow[0]["value"]["cards"][1]["value"]["choices"][1]["value"]["target"] = "thanks"
    flow[3]["value"]["cards"].append(message("<p>See you soon.</p>"))
    changed.flow = flow
    changed.audience = [
        {"type": "audience", "value": audience([rule("visitor.language", "is", "de")])}
    ]
    changed.triggers = [{"type": "click", "value": {"selector": ".ask"}}]
    changed.save_revision().publish()

    # "Sync translated dialogues" in the admin: a new version of the source, then the target.
    TranslationSource.update_or_create_from_instance(fresh(english))
    translation = Translation.objects.get(pk=translation.pk)  # with the new source
    deutsch = publish(translation, django_capture_on_commit_callbacks)
    assert skeleton(deutsch) == skeleton(english)
    assert settings_of(deutsch) == settings_of(english)
    compiled = deutsch.compile_flow(render=False)
    assert compiled["branches"][0]["cards"][1]["choices"][1] == {
        "label": "Nur schauen",
        "value": "browsing",
        "target": "thanks",
    }
    assert [card["html"] for card in deutsch.compile_flow()["branches"][3]["cards"]] == [
        "<p>Viel Spaß beim Stöbern!</p>",
        "<p>See you soon.</p>",
    ]


def test_by_default_the_translate_action_publishes_the_untranslated_copy(
    english, de, settings, django_capture_on_commit_callbacks
):
    """Unlike Wagtail's own "Translate" (a draft, see ``Dialogue.copy_for_translation``),
    wagtail-localize's default publishes a new translation of a live original at once, with the
    original's texts; the example site (and the README) set
    ``WAGTAILLOCALIZE_SYNC_LIVE_STATUS_ON_TRANSLATE = False`` against it."""
    settings.WAGTAILLOCALIZE_SYNC_LIVE_STATUS_ON_TRANSLATE = True
    submit(english, de["locale"], django_capture_on_commit_callbacks)
    copy = Dialogue.objects.get(translation_key=english.translation_key, locale=de["locale"])
    assert copy.live and copy.live_revision_id
    body = Browser(language="de").look(de["pricing"])
    assert (body["dialogue"]["id"], body["dialogue"]["title"]) == (copy.pk, "Questions?")


def test_a_page_embedding_a_dialogue_embeds_its_translation(
    english, de, draft_translations, django_capture_on_commit_callbacks
):
    """A page translated with wagtail-localize points its chat embed at the dialogue's
    translation; the embed's fallback text is offered to translators."""
    translation = submit(english, de["locale"], django_capture_on_commit_callbacks)
    translate_strings(translation)
    deutsch = publish(translation, django_capture_on_commit_callbacks)

    pricing = pages_of(de)["pricing"].specific
    pricing.body = [("chat", {"dialogue": english, "fallback": "Write to hello@example.com"})]
    pricing.save_revision().publish()
    source, _created = TranslationSource.get_or_create_from_instance(pricing)
    assert ("body", "Write to hello@example.com") in [
        (segment.context.path.split(".")[0], segment.string.data)
        for segment in StringSegment.objects.filter(source=source).select_related("context")
        if segment.context.path.endswith(".fallback")
    ]
    with django_capture_on_commit_callbacks(execute=True):
        source.create_or_update_translation(de["locale"], fallback=True)
    page = de["pricing"].__class__.objects.get(pk=de["pricing"].pk)
    assert page.body[0].value["dialogue"].pk == deutsch.pk


def test_the_admin_translate_action_and_translation_editor(
    admin_client, english, de, draft_translations
):
    """Dialogues get wagtail-localize's "Translate" action in the listing; the German edit view is
    then its translation editor, listing the texts (not the selector) for the translator."""
    submit_url = reverse(
        "wagtail_localize:submit_snippet_translation",
        args=["wagtail_dynchat", "dialogue", english.pk],
    )
    listing = admin_client.get(reverse("wagtailsnippets_wagtail_dynchat_dialogue:list"))
    assert submit_url in listing.content.decode()
    assert admin_client.get(submit_url).status_code == 200

    response = admin_client.post(submit_url, {"locales": [de["locale"].pk]})
    deutsch = Dialogue.objects.get(translation_key=english.translation_key, locale=de["locale"])
    assert response.status_code == 302
    assert not deutsch.live

    editor = admin_client.get(
        reverse("wagtailsnippets_wagtail_dynchat_dialogue:edit", args=[deutsch.pk])
    )
    assert editor.status_code == 200
    page = editor.content.decode()
    found = re.search(r'class="js-translation-editor" data-props="([^"]*)"', page)
    props = json.loads(unescape(found.group(1)))
    sources = {segment["source"] for segment in props["segments"] if segment["type"] == "string"}
    assert "Book a demo" in sources
    assert not sources & {"demo", "thanks", "engineering", ".talk-to-sales", "Demo requested"}
