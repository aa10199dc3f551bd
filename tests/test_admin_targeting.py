"""The editor's side of targeting: the targeting, audience and trigger panels, the listing
summary, the "Which dialogue would show here?" tool and previews as sample visitors."""

import json

import pytest
from django.urls import reverse
from wagtail.models import Page
from wagtail.test.utils import WagtailTestUtils
from wagtail.test.utils.form_data import inline_formset, nested_form_data, streamfield

from tests.conftest import SIMPLE_FLOW, make_dialogue
from tests.test_admin_dialogues import GOOD_FLOW, dialogue_form, form_value, url
from wagtail_dynchat.models import Dialogue

pytestmark = pytest.mark.django_db

ANONYMOUS = [
    (
        "audience",
        {
            "match": "any",
            "groups": [
                {
                    "match": "all",
                    "rules": [{"attribute": "person.email", "operator": "is_empty"}],
                }
            ],
        },
    )
]


def audience_form(raw):
    block = Dialogue._meta.get_field("audience").stream_block
    return form_value(block, block.to_python([{"type": t, "value": v} for t, v in raw]))


def publish(client, data, dialogue=None):
    target = url("edit", dialogue.pk) if dialogue else url("add")
    # ``data`` is already flat form data (dialogue_form's output).
    return client.post(target, {**data, "action-publish": "publish"})


def test_editor_sets_audience_triggers_page_types_and_url_rules(admin_client, pages):
    from django.contrib.contenttypes.models import ContentType

    from example_site.home.models import BlogPage

    blog_type = ContentType.objects.get_for_model(BlogPage)
    data = dialogue_form(GOOD_FLOW, name="Blog helper")
    data = {
        **{
            k: v for k, v in data.items() if not k.startswith(("audience", "triggers", "url_rules"))
        },
        **nested_form_data(
            {
                "slug": "blog-helper",
                "audience": audience_form(ANONYMOUS),
                "triggers": streamfield([("scroll", {"percent": "50"}), ("exit_intent", {})]),
                "url_rules": inline_formset(
                    [
                        {"id": "", "pattern": "/events/*"},
                        {"id": "", "pattern": "/events/private/*", "exclude": "on"},
                    ]
                ),
            }
        ),
        "page_types": [str(blog_type.pk)],
    }
    response = publish(admin_client, data)
    assert response.status_code == 302, response.context["form"].errors
    dialogue = Dialogue.objects.get(slug="blog-helper")
    assert dialogue.live
    assert dialogue.compile_audience()["groups"][0]["rules"][0]["operator"] == "is_empty"
    assert dialogue.triggers.stream_block.compile(dialogue.triggers) == [
        {"type": "scroll", "percent": 50},
        {"type": "exit_intent"},
    ]
    assert list(dialogue.page_types.all()) == [blog_type]
    assert [(r.pattern, r.exclude) for r in dialogue.url_rules.all()] == [
        ("/events/*", False),
        ("/events/private/*", True),
    ]

    listing = admin_client.get(url("list")).content.decode()
    assert (
        "every blog post and /events/*, except /events/private/* · "
        "E-mail address is empty · at 50 % scroll or on exit intent"
    ) in listing


def test_bad_url_rules_and_duplicate_slugs_are_refused_on_the_form(admin_client, pages):
    make_dialogue(SIMPLE_FLOW, name="First")
    Dialogue.objects.filter(name="First").update(slug="taken")
    data = dialogue_form(GOOD_FLOW, name="Second", slug="taken")
    data = {
        **{k: v for k, v in data.items() if not k.startswith("url_rules")},
        **nested_form_data({"url_rules": inline_formset([{"id": "", "pattern": "ftp://files/*"}])}),
    }
    response = publish(admin_client, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "Another dialogue in this language has this slug." in form.errors["slug"]
    rule_errors = form.formsets["url_rules"].forms[0].errors["pattern"]
    assert rule_errors == [
        "Start with / for a path, or with http:// or https:// for a whole address."
    ]
    assert not Dialogue.objects.filter(name="Second").exists()


def test_page_types_offer_only_page_models(admin_client):
    response = admin_client.get(url("add"))
    choices = {str(label) for _, label in response.context["form"].fields["page_types"].choices}
    assert {"Blog post", "Home page", "Standard page", "Blog index page"} <= choices
    assert "Dialogue" not in choices


def which(client, page, **params):
    query = {"page": page.pk, "device": "desktop", "language": "en", "visits": 1, **params}
    return client.get(reverse("wagtail_dynchat_admin:which"), query)


def test_which_dialogue_tool_names_the_winner_and_the_reasons(admin_client, pages):
    anonymous_only = make_dialogue(
        SIMPLE_FLOW, name="Anonymous only", priority=90, targets=[(pages["pricing"], "page")]
    )
    anonymous_only.audience = ANONYMOUS
    anonymous_only.save_revision().publish()
    fallback = make_dialogue(
        SIMPLE_FLOW, name="Everyone", priority=10, targets=[(pages["pricing"], "page")]
    )
    elsewhere = make_dialogue(SIMPLE_FLOW, name="Blog only", targets=[(pages["blog"], "page")])

    response = which(admin_client, pages["pricing"])
    diagnosis = response.context["diagnosis"]
    assert diagnosis.winner.pk == anonymous_only.pk
    reasons = {v.dialogue.pk: v.reason for v in diagnosis.verdicts}
    assert "higher priority" in reasons[fallback.pk]
    assert "doesn't include this page" in reasons[elsewhere.pk]

    known = which(admin_client, pages["pricing"], email="ada@example.com")
    diagnosis = known.context["diagnosis"]
    assert diagnosis.winner.pk == fallback.pk
    verdict = next(v for v in diagnosis.verdicts if v.dialogue.pk == anonymous_only.pk)
    assert "audience doesn't include this visitor" in verdict.reason
    assert verdict.rules[0]["rules"][0]["actual"] == "ada@example.com"
    assert "“Everyone” would show." in known.content.decode()
    # Nothing was recorded by asking.
    from wagtail_dynchat.models import Conversation, Visitor

    assert not Conversation.objects.exists() and not Visitor.objects.exists()


def test_which_dialogue_tool_needs_dialogue_permissions(client, pages, django_user_model):
    user = django_user_model.objects.create_user("viewer", password="pw")
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)
    response = which(client, pages["pricing"])
    assert response.status_code in (302, 403)


def preview_config(response):
    soup = WagtailTestUtils.get_soup(response.content)
    return json.loads(soup.select_one("#dynchat-config").string)


@pytest.mark.parametrize(
    ("mode", "greeting", "in_audience"),
    [("", "Hello there!", True), ("known", "Hello Ada!", False)],
)
def test_preview_modes_talk_as_sample_visitors(admin_client, pages, mode, greeting, in_audience):
    dialogue = make_dialogue(SIMPLE_FLOW, targets=[(pages["pricing"], "page")])
    data = dialogue_form(SIMPLE_FLOW, name=dialogue.name)
    data = {
        **{k: v for k, v in data.items() if not k.startswith(("audience", "targets"))},
        **nested_form_data(
            {
                "audience": audience_form(ANONYMOUS),
                "targets": inline_formset(
                    [{"id": "", "page": str(pages["pricing"].pk), "scope": "page"}]
                ),
            }
        ),
    }
    preview_url = url("preview_on_edit", dialogue.pk)
    assert admin_client.post(preview_url, data).json()["is_valid"]
    response = admin_client.get(preview_url, {"mode": mode})
    page_text = response.content.decode()
    assert "Pricing" in page_text
    assert ("This visitor is in the audience" in page_text) is in_audience
    config = preview_config(response)
    started = admin_client.post(f"{config['api']}conversations", "{}", "application/json")
    assert started.json()["conversation"]["items"][0]["html"] == f"<p>{greeting}</p>"
    assert Dialogue.objects.get(pk=dialogue.pk).compile_audience() is None
    assert not Page.objects.filter(title="Not saved").exists()


def test_preview_modes_offer_each_sample_visitor_on_each_target_page(admin_client, pages):
    dialogue = make_dialogue(
        SIMPLE_FLOW, targets=[(pages["pricing"], "page"), (pages["contact"], "page")]
    )
    modes = dict(dialogue.preview_modes)
    contact = pages["contact"].pk
    assert modes[""] == "Anonymous visitor on “Pricing”"
    assert modes[f"known@{contact}"] == "Known visitor (Ada Lovelace) on “Contact”"
    assert len(modes) == 6

    preview_url = url("preview_on_edit", dialogue.pk)
    data = dialogue_form(
        SIMPLE_FLOW,
        name=dialogue.name,
        targets=[(pages["pricing"], "page", False), (pages["contact"], "page", False)],
    )
    assert admin_client.post(preview_url, data).json()["is_valid"]
    response = admin_client.get(preview_url, {"mode": f"known@{contact}"})
    assert "Talking as: Known visitor (Ada Lovelace) on “Contact”." in response.content.decode()
