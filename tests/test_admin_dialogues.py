"""The editor's side of dialogues, through the real Wagtail admin views and forms.

Form data is built with ``wagtail.test.utils.form_data`` the way Wagtail's own snippet tests do:
:func:`flow_form` turns a flow written with the blueprint helpers into the StreamField POST data
the block editor would send (block ids included), so each test reads as the flow it submits.
"""

import copy
import datetime
import json
import uuid
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail import blocks
from wagtail.models import Locale, Workflow, WorkflowContentType, WorkflowState
from wagtail.test.utils import WagtailTestUtils
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text, streamfield
from wagtail.test.utils.timestamps import submittable_timestamp

from tests.conftest import make_blueprint_dialogue, make_dialogue
from wagtail_dynchat.models import Conversation, Dialogue, DialogueTarget
from wagtail_dynchat.snippets.blueprints import (
    BLUEPRINTS,
    branch,
    capture,
    jump,
    message,
    question,
)

pytestmark = pytest.mark.django_db

NAMESPACE = "wagtailsnippets_wagtail_dynchat_dialogue"
FLOW_BLOCK = Dialogue._meta.get_field("flow").stream_block

# A complete, publishable flow: a question leading to a capture or a goodbye.
GOOD_FLOW = [
    branch(
        "start",
        "Opening",
        question("<p>Talk?</p>", [("Yes", "yes", "talk"), ("No", "no", "bye")]),
    ),
    branch("talk", "Talks", capture("email", "<p>Your e-mail?</p>", "email")),
    branch("bye", "Leaves", message("<p>Bye!</p>")),
]


def url(name, *args):
    return reverse(f"{NAMESPACE}:{name}", args=args)


# ---- form data ---------------------------------------------------------------------------------


def form_value(block, value):
    """The POST data the block editor sends for ``value``, as nested dicts for nested_form_data."""
    if isinstance(block, blocks.StreamBlock):
        data = streamfield(
            [(child.block_type, form_value(child.block, child.value)) for child in value]
        )
        for index, child in enumerate(value):
            data[str(index)]["id"] = child.id or ""
        return data
    if isinstance(block, blocks.StructBlock):
        data = {
            name: form_value(child, value.get(name)) for name, child in block.child_blocks.items()
        }
        # Unticked checkboxes are absent from real POST data.
        return {name: item for name, item in data.items() if item is not None}
    if isinstance(block, blocks.ListBlock):
        data = {
            str(index): {
                "value": form_value(block.child_block, child.value),
                "id": child.id,
                "order": str(index),
                "deleted": "",
            }
            for index, child in enumerate(value.bound_blocks)
        }
        data["count"] = str(len(data))
        return data
    if isinstance(block, blocks.RichTextBlock):
        return rich_text(value.source if value else "", features=block.features)
    if isinstance(block, blocks.BooleanBlock):
        return "on" if value else None
    if isinstance(block, blocks.ChooserBlock):
        return str(value.pk) if value else ""
    return "" if value is None else str(value)


def flow_form(flow):
    """StreamField data for a flow written with the blueprint helpers (or a StreamValue).

    Blocks without an id get one, as the block editor gives every new block its own.
    """
    if isinstance(flow, list):
        flow = copy.deepcopy(flow)
        for branch_data in flow:
            branch_data.setdefault("id", str(uuid.uuid4()))
            for card in branch_data["value"]["cards"]:
                card.setdefault("id", str(uuid.uuid4()))
        flow = FLOW_BLOCK.to_python(flow)
    return form_value(FLOW_BLOCK, flow)


def dialogue_form(flow=(), *, name="Pricing help", targets=(), action=None, **fields):
    """POST data of the dialogue form; ``action`` is e.g. "publish" or "submit"."""
    data = {
        "name": name,
        "title": "",
        "description": "",
        "priority": "50",
        "flow": flow_form(list(flow) if isinstance(flow, tuple) else flow),
        "targets": inline_formset(
            [
                {
                    "id": "",
                    "page": str(page.pk),
                    "scope": scope,
                    **({"exclude": "on"} if exclude else {}),
                }
                for page, scope, exclude in targets
            ]
        ),
        "url_rules": inline_formset([]),
        "audience": streamfield([]),
        "triggers": streamfield([("immediately", {})]),
        "slug": "",
        "site": "",
        "go_live_at": "",
        "expire_at": "",
        **fields,
    }
    if action:
        data[f"action-{action}"] = action
    return nested_form_data(data)


def rendered_flow_errors(response):
    """The StreamField errors as the admin page hands them to the block editor."""
    soup = WagtailTestUtils.get_soup(response.content)
    _value, errors = json.loads(soup.select_one("#flow")["data-w-block-arguments-value"])
    return errors


def form_flow_errors(response):
    return response.context["form"].errors["flow"].as_data()[0].as_json_data()


# ---- users -------------------------------------------------------------------------------------


def make_editor(username, *actions, model="dialogue"):
    """A client logged in as a non-superuser whose group holds ``access_admin`` and the given
    model permissions."""
    group, _ = Group.objects.get_or_create(name=f"{username} group")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    for action in actions:
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label="wagtail_dynchat", codename=f"{action}_{model}"
            )
        )
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "password")
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def editor():
    return make_editor("editor", "add", "change", "delete", "view")


def sidebar_menu(response):
    soup = WagtailTestUtils.get_soup(response.content)
    props = json.loads(soup.select_one("#wagtail-sidebar-props").text)
    module = next(m for m in props["modules"] if m["_type"] == "wagtail.sidebar.MainMenuModule")
    return module["_args"][0]


def submenu(menu, label):
    group = next(
        item
        for item in menu
        if item["_type"] == "wagtail.sidebar.SubMenuItem" and item["_args"][0]["label"] == label
    )
    return [(item["_args"][0]["label"], item["_args"][0]["url"]) for item in group["_args"][1]]


# ---- menu, listing and creation ----------------------------------------------------------------


def test_dynamic_chat_menu_group_holds_dialogues_and_conversations(admin_client):
    response = admin_client.get(reverse("wagtailadmin_home"))
    assert submenu(sidebar_menu(response), "Dynamic Chat") == [
        ("Dialogues", url("list")),
        ("Dashboard", reverse("wagtail_dynchat_dashboard:index")),
        ("Conversations", reverse("wagtail_dynchat_conversations:index")),
        ("People", reverse("wagtail_dynchat_people:index")),
        ("Privacy requests", reverse("wagtail_dynchat_privacy:index")),
        ("Which dialogue shows?", reverse("wagtail_dynchat_admin:which")),
    ]


def test_editor_sees_dialogues_but_not_conversations(editor):
    menu = submenu(sidebar_menu(editor.get(reverse("wagtailadmin_home"))), "Dynamic Chat")
    assert menu == [
        ("Dialogues", url("list")),
        ("Which dialogue shows?", reverse("wagtail_dynchat_admin:which")),
    ]


def test_listing_shows_status_and_add_leads_to_the_start_chooser(admin_client):
    make_dialogue(GOOD_FLOW, name="Live one")
    make_dialogue(GOOD_FLOW, name="Draft one", publish=False)

    response = admin_client.get(url("list"))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    statuses = {
        row.select_one(".title-wrapper a").get_text(strip=True): row.select_one(
            ".w-status"
        ).get_text(strip=True)
        for row in soup.select("tbody tr")
    }
    assert statuses == {"Live one": "live", "Draft one": "draft"}

    add_links = {a["href"] for a in soup.select("a[href]") if "/start/" in a["href"]}
    assert add_links == {url("start") + "?locale=en"}


def test_start_chooser_offers_a_blank_dialogue_and_the_three_templates(admin_client):
    response = admin_client.get(url("start"), {"locale": "en"})
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    links = {a.get_text(strip=True): a["href"] for a in soup.select(".dynchat-blueprints h2 a")}
    assert links == {
        "Blank dialogue": url("add") + "?locale=en",
        "Book a demo": url("add") + "?blueprint=book-a-demo&locale=en",
        "Newsletter sign-up": url("add") + "?blueprint=newsletter-sign-up&locale=en",
        "Qualify a visitor": url("add") + "?blueprint=qualify-a-visitor&locale=en",
    }


def test_start_chooser_needs_the_add_permission():
    client = make_editor("viewer", "view")
    response = client.get(url("start"))
    assert response.status_code == 302
    assert response.url == reverse("wagtailadmin_home")


@pytest.mark.parametrize("slug", sorted(BLUEPRINTS))
def test_each_blueprint_prefills_the_add_form_and_publishes(admin_client, slug):
    blueprint = BLUEPRINTS[slug]
    response = admin_client.get(url("add"), {"blueprint": slug})
    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == str(blueprint.name)
    assert form["title"].value() == str(blueprint.title)
    flow = form["flow"].value()
    assert [child.value["key"] for child in flow] == [b["value"]["key"] for b in blueprint.flow]
    assert [[card.block_type for card in child.value["cards"]] for child in flow] == [
        [card["type"] for card in b["value"]["cards"]] for b in blueprint.flow
    ]
    # The card ids are in the rendered editor already, so they survive the first save.
    card_ids = [card.id for child in flow for card in child.value["cards"]]
    assert all(card_ids) and len(set(card_ids)) == len(card_ids)
    assert all(card_id in response.content.decode() for card_id in card_ids)

    # Post back what the editor shows, as the browser would.
    response = admin_client.post(
        url("add"),
        dialogue_form(
            flow, name=form["name"].value(), title=form["title"].value(), action="publish"
        ),
    )
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert dialogue.live
    assert dialogue.name == str(blueprint.name)
    compiled = dialogue.compile_flow()
    assert [card["id"] for b in compiled["branches"] for card in b["cards"]] == card_ids
    assert dialogue.latest_revision.as_object().compile_flow() == compiled


def test_unknown_blueprint_gives_a_blank_form(admin_client):
    response = admin_client.get(url("add"), {"blueprint": "nope"})
    assert response.status_code == 200
    assert response.context["form"]["name"].value() in (None, "")
    assert len(response.context["form"]["flow"].value()) == 0


def test_blank_dialogue_saves_as_a_draft(admin_client):
    response = admin_client.post(url("add"), dialogue_form(name="Blank"))
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert dialogue.name == "Blank"
    assert not dialogue.live
    assert dialogue.latest_revision is not None
    assert len(dialogue.flow) == 0


def test_a_draft_still_needs_a_name(admin_client):
    response = admin_client.post(url("add"), dialogue_form(name=""))
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert not Dialogue.objects.exists()


def test_blank_dialogue_cannot_be_published(admin_client):
    response = admin_client.post(url("add"), dialogue_form(name="Blank", action="publish"))
    assert response.status_code == 200
    assert form_flow_errors(response) == {
        "messages": ["Add a first branch: every conversation starts there."]
    }
    assert not Dialogue.objects.exists()


# ---- validation: drafts may be incomplete, publishing may not ----------------------------------


def document_card(title="Price list", url=""):
    return {"type": "document", "value": {"text": "", "title": title, "document": None, "url": url}}


def messages_at(errors, *path):
    """The messages the block editor shows on the block at ``path`` (indexes and field names)."""
    for key in path:
        errors = errors["blockErrors"][str(key)]
    return errors["messages"]


def assert_rendered_errors(response, expected):
    """``expected`` maps block paths to messages; they must be in the form and in the page."""
    assert response.status_code == 200
    rendered = rendered_flow_errors(response)
    # The page carries exactly the form's errors (JSON turns the integer indexes into strings).
    assert rendered == json.loads(json.dumps(form_flow_errors(response)))
    for path, expected_messages in expected.items():
        assert messages_at(rendered, *path) == expected_messages


PUBLISH_FAILURES = {
    "duplicate branch keys": (
        [*GOOD_FLOW, branch("bye", "Again", message("<p>Bye again</p>"))],
        {(3, "key"): ["Another branch already uses the key “bye”. Branch keys must be unique."]},
    ),
    "dangling choice target": (
        [
            branch(
                "start",
                "",
                question("<p>Talk?</p>", [("Yes", "yes", "talk"), ("No", "no", "nowhere")]),
            ),
            GOOD_FLOW[1],
        ],
        {(0, "cards", 0, "choices", 1, "target"): ["No branch has the key “nowhere”."]},
    ),
    "dangling jump target": (
        [
            GOOD_FLOW[0],
            branch("talk", "", capture("email", "<p>E-mail?</p>", "email"), jump("nowhere")),
            GOOD_FLOW[2],
        ],
        {(1, "cards", 1, "target"): ["No branch has the key “nowhere”."]},
    ),
    "unreachable branch": (
        [*GOOD_FLOW, branch("lost", "", message("<p>Lost</p>"))],
        {(3, "key"): ["No choice or jump leads to this branch, so visitors never see it."]},
    ),
    "loop of jumps without an input card": (
        [
            branch("start", "", question("<p>Go?</p>", [("Go", "go", "a")])),
            branch("a", "", message("<p>A</p>"), jump("b")),
            branch("b", "", message("<p>B</p>"), jump("a")),
        ],
        {
            (branch_index, "cards", 1, "target"): [
                "This jump sends visitors round in a circle without asking them anything. "
                "Add a question or a capture on the way, or jump elsewhere."
            ]
            for branch_index in (1, 2)
        },
    ),
    "poke on a card other than the first": (
        [
            branch(
                "start",
                "",
                message("<p>Hello</p>"),
                question("<p>Hey?</p>", [("Yes", "yes", "")], poke=True),
            )
        ],
        {
            (0, "cards", 1, "poke"): [
                "Only a question that opens the first branch can poke visitors."
            ]
        },
    ),
    "document card without document or URL": (
        [branch("start", "", document_card())],
        {(0, "cards", 0, "document"): ["Choose a document or enter a URL (one of the two)."]},
    ),
}


@pytest.mark.parametrize("flow, expected", PUBLISH_FAILURES.values(), ids=PUBLISH_FAILURES.keys())
def test_publishing_a_broken_flow_shows_the_error_on_the_offending_block(
    admin_client, flow, expected
):
    response = admin_client.post(url("add"), dialogue_form(flow, action="publish"))
    assert_rendered_errors(response, expected)
    assert "The dialogue could not be created due to errors." in response.content.decode()
    assert not Dialogue.objects.exists()


@pytest.mark.parametrize(
    "name", [name for name in PUBLISH_FAILURES if name != "duplicate branch keys"]
)
def test_the_same_broken_flows_save_as_drafts(admin_client, name):
    flow, _expected = PUBLISH_FAILURES[name]
    response = admin_client.post(url("add"), dialogue_form(flow))
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert not dialogue.live
    assert len(dialogue.latest_revision.as_object().flow) == len(flow)


def test_duplicate_branch_keys_stop_even_a_draft(admin_client):
    flow, expected = PUBLISH_FAILURES["duplicate branch keys"]
    response = admin_client.post(url("add"), dialogue_form(flow))
    assert_rendered_errors(response, expected)
    assert not Dialogue.objects.exists()


def test_an_incomplete_draft_saves_and_shows_every_error_when_published(admin_client):
    flow = [
        branch("", "", question("<p>Where?</p>", [("There", "there", "nowhere")])),
        branch("later", "", jump("elsewhere")),
        {"type": "branch", "value": {"key": "empty", "name": "", "cards": []}},
    ]
    response = admin_client.post(url("add"), dialogue_form(flow, name="Work in progress"))
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert not dialogue.live

    response = admin_client.post(url("edit", dialogue.pk), dialogue_form(flow, action="publish"))
    assert_rendered_errors(
        response,
        {
            (0, "key"): ["This field is required."],
            (0, "cards", 0, "choices", 0, "target"): ["No branch has the key “nowhere”."],
            (1, "cards", 0, "target"): ["No branch has the key “elsewhere”."],
            (2, "cards"): ["This field is required."],
        },
    )
    assert "The dialogue could not be saved due to errors." in response.content.decode()
    dialogue.refresh_from_db()
    assert not dialogue.live


def test_a_failed_publish_leaves_the_live_version_alone(admin_client):
    dialogue = make_dialogue(GOOD_FLOW, name="Live")
    live_flow = dialogue.compile_flow()
    revision_id = dialogue.latest_revision_id
    broken, expected = PUBLISH_FAILURES["dangling choice target"]

    response = admin_client.post(
        url("edit", dialogue.pk), dialogue_form(broken, name="Live", action="publish")
    )
    assert_rendered_errors(response, expected)
    dialogue.refresh_from_db()
    assert dialogue.live
    assert dialogue.latest_revision_id == revision_id

    # Saved as a draft instead, the change waits in a revision; visitors still get the live flow.
    response = admin_client.post(url("edit", dialogue.pk), dialogue_form(broken, name="Live"))
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.live
    assert dialogue.has_unpublished_changes
    assert dialogue.latest_revision_id != revision_id
    assert dialogue.compile_flow() == live_flow


# ---- targeting ---------------------------------------------------------------------------------


def widget_config(response):
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    return json.loads(soup.select_one("#dynchat-config").text)


def test_targets_from_the_form_decide_where_the_chat_appears(admin_client, pages, client):
    blog, kept, excluded = pages["blog"], pages["posts"][1], pages["posts"][0]
    response = admin_client.post(
        url("add"),
        dialogue_form(
            GOOD_FLOW,
            name="Blog chat",
            targets=[
                (blog, DialogueTarget.SCOPE_DESCENDANTS, False),
                (excluded, DialogueTarget.SCOPE_PAGE, True),
            ],
            action="publish",
        ),
    )
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert dialogue.live
    assert [(t.page_id, t.scope, t.exclude) for t in dialogue.targets.all()] == [
        (blog.pk, "descendants", False),
        (excluded.pk, "page", True),
    ]

    # Visitors' pages (rendered by the front end, not the admin) say whether to bootstrap.
    assert widget_config(client.get(kept.url))["candidates"] is True
    assert widget_config(client.get(blog.url))["candidates"] is True
    assert widget_config(client.get(excluded.url))["candidates"] is False
    assert widget_config(client.get(pages["pricing"].url))["candidates"] is False


def test_draft_targets_do_not_show_the_chat_until_published(admin_client, pages, client):
    pricing = pages["pricing"]
    targets = [(pricing, DialogueTarget.SCOPE_PAGE, False)]
    admin_client.post(url("add"), dialogue_form(GOOD_FLOW, targets=targets))
    dialogue = Dialogue.objects.get()
    assert widget_config(client.get(pricing.url))["candidates"] is False

    response = admin_client.post(
        url("edit", dialogue.pk), dialogue_form(GOOD_FLOW, targets=targets, action="publish")
    )
    assert response.status_code == 302
    assert widget_config(client.get(pricing.url))["candidates"] is True

    response = admin_client.post(url("unpublish", dialogue.pk))
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert not dialogue.live
    assert widget_config(client.get(pricing.url))["candidates"] is False


# ---- revisions, history, compare and revert ----------------------------------------------------


def test_revisions_history_compare_and_revert(admin_client):
    admin_client.post(url("add"), dialogue_form(GOOD_FLOW, name="Pricing help", action="publish"))
    dialogue = Dialogue.objects.get()
    first = dialogue.latest_revision

    # The editor changes the name and the goodbye, keeping every block (same ids), as a draft.
    changed = copy.deepcopy(list(dialogue.flow.raw_data))
    changed[2]["value"]["cards"][0]["value"]["text"] = "<p>See you soon!</p>"
    response = admin_client.post(
        url("edit", dialogue.pk), dialogue_form(changed, name="Pricing v2")
    )
    assert response.status_code == 302
    dialogue.refresh_from_db()
    second = dialogue.latest_revision
    assert second.pk != first.pk
    assert dialogue.name == "Pricing help"  # the live row is untouched by drafts

    response = admin_client.get(url("history", dialogue.pk))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    statuses = [tag.get_text(strip=True) for tag in soup.select(".w-status--primary")]
    assert "Live version" in statuses
    assert "Current draft" in statuses
    assert url("revisions_revert", dialogue.pk, first.pk) in response.content.decode()

    response = admin_client.get(url("revisions_compare", dialogue.pk, first.pk, second.pk))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    deleted = " ".join(tag.get_text(" ", strip=True) for tag in soup.select(".deletion"))
    added = " ".join(tag.get_text(" ", strip=True) for tag in soup.select(".addition"))
    # Word by word: the name, and the message card deep inside the flow.
    assert deleted.split() == ["help", "Bye!"]
    assert added.split() == ["v2", "See", "you", "soon!"]

    # Reviewing the first revision shows its content in the form; publishing it reverts.
    response = admin_client.get(url("revisions_revert", dialogue.pk, first.pk))
    assert response.status_code == 200
    assert "You are viewing a previous version of this Dialogue" in response.content.decode()
    form = response.context["form"]
    assert form["name"].value() == "Pricing help"
    response = admin_client.post(
        url("revisions_revert", dialogue.pk, first.pk),
        dialogue_form(form["flow"].value(), name=form["name"].value(), action="publish"),
    )
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.name == "Pricing help"
    assert not dialogue.has_unpublished_changes
    assert dialogue.latest_revision.pk not in (first.pk, second.pk)
    bye = dialogue.compile_flow()["branches"][2]["cards"][0]
    assert bye["html"] == "<p>Bye!</p>"


def test_an_old_revision_can_be_previewed(admin_client):
    dialogue = make_dialogue(GOOD_FLOW, title="Old title")
    first = dialogue.latest_revision
    dialogue.title = "New title"
    dialogue.save_revision().publish()

    response = admin_client.get(url("revisions_view", dialogue.pk, first.pk))
    assert response.status_code == 200
    assert "wagtail_dynchat/preview/dialogue.html" in [t.name for t in response.templates]
    assert widget_config(response)["bootstrap"]["dialogue"]["title"] == "Old title"


# ---- locking -----------------------------------------------------------------------------------


def test_a_locked_dialogue_cannot_be_edited_by_another_editor():
    dialogue = make_dialogue(GOOD_FLOW, name="Shared")
    owner_client = make_editor("owner", "change", "lock", "unlock")
    other_client = make_editor("other", "change")
    revisions = dialogue.revisions.count()

    response = owner_client.post(url("lock", dialogue.pk))
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.locked and dialogue.locked_by.username == "owner"

    response = other_client.get(url("edit", dialogue.pk))
    assert response.status_code == 200
    assert response.context["locked_for_user"]
    assert not owner_client.get(url("edit", dialogue.pk)).context["locked_for_user"]
    response = other_client.post(url("edit", dialogue.pk), dialogue_form(GOOD_FLOW, name="Mine"))
    assert response.status_code == 200
    assert "The dialogue could not be saved as it is locked" in response.content.decode()
    assert dialogue.revisions.count() == revisions
    # Only its owner or someone allowed to unlock may unlock it.
    other_client.post(url("unlock", dialogue.pk))
    dialogue.refresh_from_db()
    assert dialogue.locked

    # The owner can keep working on it, then unlocks it for the others.
    response = owner_client.post(url("edit", dialogue.pk), dialogue_form(GOOD_FLOW, name="Owner's"))
    assert response.status_code == 302
    response = owner_client.post(url("unlock", dialogue.pk))
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert not dialogue.locked

    response = other_client.post(url("edit", dialogue.pk), dialogue_form(GOOD_FLOW, name="Mine"))
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.latest_revision.as_object().name == "Mine"


# ---- scheduled publishing ----------------------------------------------------------------------


def test_scheduled_publishing_goes_live_when_publish_scheduled_runs(admin_client, pages, client):
    pricing = pages["pricing"]
    go_live_at = timezone.now() + datetime.timedelta(days=1)
    response = admin_client.post(
        url("add"),
        dialogue_form(
            GOOD_FLOW,
            targets=[(pricing, DialogueTarget.SCOPE_PAGE, False)],
            go_live_at=submittable_timestamp(go_live_at),
            action="publish",
        ),
    )
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert not dialogue.live
    assert dialogue.status_string == "scheduled"
    revision = dialogue.scheduled_revision
    assert abs(revision.approved_go_live_at - go_live_at) < datetime.timedelta(minutes=1)
    listing = WagtailTestUtils.get_soup(admin_client.get(url("list")).content)
    assert listing.select_one("tbody .w-status").get_text(strip=True) == "scheduled"

    call_command("publish_scheduled")
    dialogue.refresh_from_db()
    assert not dialogue.live
    assert widget_config(client.get(pricing.url))["candidates"] is False

    # A day later.
    later = go_live_at + datetime.timedelta(minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        call_command("publish_scheduled")
    dialogue.refresh_from_db()
    assert dialogue.live
    assert dialogue.live_revision_id == revision.pk
    assert widget_config(client.get(pricing.url))["candidates"] is True


def test_a_scheduled_change_to_a_live_dialogue_waits_for_its_time(admin_client, pages, client):
    pricing = pages["pricing"]
    targets = [(pricing, DialogueTarget.SCOPE_PAGE, False)]
    admin_client.post(url("add"), dialogue_form(GOOD_FLOW, targets=targets, action="publish"))
    dialogue = Dialogue.objects.get()
    live_revision_id = dialogue.live_revision_id

    go_live_at = timezone.now() + datetime.timedelta(days=1)
    response = admin_client.post(
        url("edit", dialogue.pk),
        dialogue_form(
            GOOD_FLOW,
            title="Tomorrow's title",
            targets=targets,
            go_live_at=submittable_timestamp(go_live_at),
            action="publish",
        ),
    )
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.status_string == "live + scheduled"
    assert dialogue.live_revision_id == live_revision_id
    assert dialogue.title == ""
    bootstrap = client.get("/dynchat/api/bootstrap", {"page": pricing.pk}).json()
    assert bootstrap["dialogue"]["title"] == "Chat with us"

    later = go_live_at + datetime.timedelta(minutes=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        call_command("publish_scheduled")
    dialogue = Dialogue.objects.get()  # status_string caches the schedule
    assert dialogue.status_string == "live"
    assert dialogue.live_revision_id == dialogue.latest_revision_id != live_revision_id
    assert dialogue.title == "Tomorrow's title"
    bootstrap = client.get("/dynchat/api/bootstrap", {"page": pricing.pk}).json()
    assert bootstrap["dialogue"]["title"] == "Tomorrow's title"


def test_a_schedule_does_not_bypass_publish_validation(admin_client):
    flow, expected = PUBLISH_FAILURES["unreachable branch"]
    go_live_at = timezone.now() + datetime.timedelta(days=1)
    response = admin_client.post(
        url("add"),
        dialogue_form(flow, go_live_at=submittable_timestamp(go_live_at), action="publish"),
    )
    assert_rendered_errors(response, expected)
    assert not Dialogue.objects.exists()


# ---- workflows ---------------------------------------------------------------------------------


@pytest.fixture
def moderated():
    """The default "Moderators approval" workflow, assigned to dialogues."""
    workflow = Workflow.objects.get(name="Moderators approval")
    WorkflowContentType.objects.create(
        workflow=workflow, content_type=ContentType.objects.get_for_model(Dialogue)
    )
    return workflow


def test_submit_for_moderation_then_approve_publishes(
    moderated, editor, admin_client, pages, client
):
    editor_client = editor
    pricing = pages["pricing"]
    targets = [(pricing, DialogueTarget.SCOPE_PAGE, False)]

    # An editor without the publish permission only sees "Submit to Moderators approval".
    page = editor_client.get(url("add")).content.decode()
    assert 'name="action-submit"' in page
    assert 'name="action-publish"' not in page

    response = editor_client.post(
        url("add"), dialogue_form(GOOD_FLOW, targets=targets, action="submit")
    )
    assert response.status_code == 302
    dialogue = Dialogue.objects.get()
    assert not dialogue.live
    state = dialogue.current_workflow_state
    assert state.status == WorkflowState.STATUS_IN_PROGRESS
    assert state.requested_by.username == "editor"
    assert widget_config(client.get(pricing.url))["candidates"] is False

    task_state = dialogue.current_workflow_task_state
    response = admin_client.post(
        url("workflow_action", dialogue.pk, "approve", task_state.pk), {"comment": "Fine"}
    )
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.live
    state.refresh_from_db()
    assert state.status == WorkflowState.STATUS_APPROVED
    assert widget_config(client.get(pricing.url))["candidates"] is True


def test_submitting_a_broken_flow_is_validated_like_publishing(moderated, editor):
    flow, expected = PUBLISH_FAILURES["dangling jump target"]
    response = editor.post(url("add"), dialogue_form(flow, action="submit"))
    assert_rendered_errors(response, expected)
    assert not Dialogue.objects.exists()


def test_an_editor_without_publish_permission_cannot_publish(editor):
    response = editor.post(url("add"), dialogue_form(GOOD_FLOW, action="publish"))
    dialogue = Dialogue.objects.get()
    assert response.status_code == 302
    assert not dialogue.live

    publisher_client = make_editor("publisher", "add", "change", "publish")
    response = publisher_client.post(
        url("edit", dialogue.pk), dialogue_form(GOOD_FLOW, action="publish")
    )
    assert response.status_code == 302
    dialogue.refresh_from_db()
    assert dialogue.live


# ---- locales -----------------------------------------------------------------------------------


@pytest.fixture
def german():
    return Locale.objects.create(language_code="de")


def test_dialogues_are_created_and_listed_per_locale(admin_client, german):
    english = make_dialogue(GOOD_FLOW, name="English chat")

    response = admin_client.get(url("start"), {"locale": "de"})
    soup = WagtailTestUtils.get_soup(response.content)
    hrefs = [a["href"] for a in soup.select(".dynchat-blueprints h2 a")]
    assert hrefs and all(href.endswith("locale=de") for href in hrefs)

    response = admin_client.get(url("add"), {"locale": "de", "blueprint": "newsletter-sign-up"})
    form = response.context["form"]
    assert form.instance.locale == german
    response = admin_client.post(
        url("add") + "?locale=de",
        dialogue_form(form["flow"].value(), name="Newsletter (de)", action="publish"),
    )
    assert response.status_code == 302
    german_dialogue = Dialogue.objects.get(name="Newsletter (de)")
    assert german_dialogue.locale == german
    assert german_dialogue.live

    def listed(locale):
        soup = WagtailTestUtils.get_soup(admin_client.get(url("list"), {"locale": locale}).content)
        return [a.get_text(strip=True) for a in soup.select("tbody .title-wrapper a")]

    assert listed("de") == ["Newsletter (de)"]
    assert listed("en") == [english.name]


def test_a_translation_is_linked_from_the_original(admin_client, german):
    english = make_dialogue(GOOD_FLOW, name="English chat")
    translation = english.copy_for_translation(german)
    translation.name = "Deutscher Chat"
    translation.save()
    translation.save_revision()
    assert translation.translation_key == english.translation_key

    response = admin_client.get(url("edit", english.pk))
    assert response.status_code == 200
    assert url("edit", translation.pk) in response.content.decode()
    response = admin_client.get(url("edit", translation.pk))
    assert response.status_code == 200
    assert response.context["form"]["name"].value() == "Deutscher Chat"


# ---- copy, delete, usage, inspect and search ---------------------------------------------------


def test_copy_prefills_a_new_dialogue(admin_client, pages):
    original = make_blueprint_dialogue(
        "qualify-a-visitor", targets=[(pages["pricing"], DialogueTarget.SCOPE_PAGE)]
    )
    response = admin_client.get(url("copy", original.pk))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == "Qualify a visitor"
    assert FLOW_BLOCK.compile(form["flow"].value()) == original.compile_flow()
    # The copy is posted to the add view, like any new dialogue.
    soup = WagtailTestUtils.get_soup(response.content)
    assert soup.select_one("form#w-editor-form")["action"] == url("add") + "?locale=en"

    response = admin_client.post(
        url("add"),
        dialogue_form(
            form["flow"].value(),
            name="Qualify (copy)",
            targets=[(pages["pricing"], DialogueTarget.SCOPE_PAGE, False)],
            action="publish",
        ),
    )
    assert response.status_code == 302
    copy_ = Dialogue.objects.get(name="Qualify (copy)")
    assert copy_.pk != original.pk
    assert copy_.translation_key != original.translation_key
    assert copy_.compile_flow() == original.compile_flow()
    assert original.targets.count() == 1 and copy_.targets.count() == 1


def test_delete_keeps_the_conversations(admin_client, simple_dialogue, pages, chat, client):
    chat.start(simple_dialogue, pages["pricing"])
    assert widget_config(client.get(pages["pricing"].url))["candidates"] is True

    response = admin_client.get(url("delete", simple_dialogue.pk))
    assert response.status_code == 200
    response = admin_client.post(url("delete", simple_dialogue.pk))
    assert response.status_code == 302
    assert not Dialogue.objects.exists()
    conversation = Conversation.objects.get()
    assert conversation.dialogue is None
    assert widget_config(client.get(pages["pricing"].url))["candidates"] is False


def test_usage_and_inspect_views(admin_client, pages):
    dialogue = make_blueprint_dialogue(
        "book-a-demo",
        priority=70,
        targets=[
            (pages["blog"], DialogueTarget.SCOPE_DESCENDANTS),
            (pages["posts"][0], DialogueTarget.SCOPE_PAGE, True),
        ],
    )
    response = admin_client.get(url("usage", dialogue.pk))
    assert response.status_code == 200
    assert response.context["object"] == dialogue

    response = admin_client.get(url("inspect", dialogue.pk))
    assert response.status_code == 200
    soup = WagtailTestUtils.get_soup(response.content)
    fields = {dt.get_text(strip=True): dt.find_next_sibling("dd") for dt in soup.select("dl dt")}
    assert list(fields) == [
        "Name",
        "Chat title",
        "Description",
        "Priority",
        "Locale",
        "Live",
        "Last published at",
        "Target pages",
        "Flow",
    ]
    assert fields["Priority"].get_text(strip=True) == "70"
    assert [li.get_text(" ", strip=True) for li in fields["Target pages"].select("li")] == [
        "Blog (this page and its descendants)",
        f"Excluded: {pages['posts'][0].title} (this page only)",
    ]
    # The flow reads as an outline: branch keys, then each card in order.
    outline = fields["Flow"].select_one("ol")
    branches = outline.find_all("li", recursive=False)
    assert [li.find("code").get_text() for li in branches] == ["start", "demo", "browsing"]
    demo_cards = [
        li.get_text(" ", strip=True)
        for li in branches[1].select_one("ol").find_all("li", recursive=False)
    ]
    assert demo_cards[0] == "Message: Great! Just a few details so we can set it up."
    assert demo_cards[1].startswith("Information capture (email → email)")
    assert demo_cards[4] == "Goal: Demo requested (score 3)"


def test_listing_search_finds_dialogues_by_name(admin_client):
    make_blueprint_dialogue("book-a-demo")
    make_blueprint_dialogue("newsletter-sign-up")

    def found(query):
        response = admin_client.get(url("list"), {"q": query})
        assert response.status_code == 200
        soup = WagtailTestUtils.get_soup(response.content)
        return [a.get_text(strip=True) for a in soup.select("tbody .title-wrapper a")]

    assert found("demo") == ["Book a demo"]
    assert found("newsl") == ["Newsletter sign-up"]
    assert found("nothing like it") == []
