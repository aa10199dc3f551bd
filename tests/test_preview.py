"""Previewing dialogues in Wagtail's preview panel, and the admin-only endpoint behind it.

The preview renders the real widget over the editor's unsaved flow; talking to it must never
write conversations, events or people, and only logged-in admin users may use the endpoint.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse
from wagtail.test.utils import WagtailTestUtils

from tests.conftest import SIMPLE_FLOW, make_dialogue
from tests.test_admin_dialogues import dialogue_form, url
from wagtail_dynchat.models import (
    Conversation,
    ConversationEvent,
    FlowSnapshot,
    Person,
    Visitor,
)
from wagtail_dynchat.snippets.blueprints import branch, question

pytestmark = pytest.mark.django_db

PREVIEW_TEMPLATE = "wagtail_dynchat/preview/dialogue.html"


def config_of(response):
    assert response.status_code == 200
    assert PREVIEW_TEMPLATE in [template.name for template in response.templates]
    soup = WagtailTestUtils.get_soup(response.content)
    return json.loads(soup.select_one("script#dynchat-config").text)


def preview(client, preview_url, data):
    """POST the form to the preview view (as the panel does on each change), then GET it."""
    response = client.post(preview_url, data)
    assert response.status_code == 200
    assert response.json() == {"is_valid": True, "is_available": True}
    return client.get(preview_url, {"in_preview_panel": "true"})


def rows():
    return [
        model.objects.count()
        for model in (Conversation, ConversationEvent, Person, Visitor, FlowSnapshot)
    ]


class Widget:
    """Speaks to the preview endpoint like widget.js does (JSON bodies, X-CSRFToken header)."""

    def __init__(self, client, config):
        self.client = client
        self.config = config

    def post(self, path, payload=None):
        return self.client.post(
            self.config["api"] + path,
            json.dumps(payload or {}),
            content_type="application/json",
            headers={"X-CSRFToken": self.config["csrf"]},
        )

    def start(self):
        return self.post("conversations", {"dialogue": None, "page": None, "url": "about:srcdoc"})

    def answer(self, conversation, value):
        return self.post(
            f"conversations/{conversation['id']}/answers",
            {
                "step": conversation["step"],
                "card": conversation["awaiting"]["card"],
                "value": value,
            },
        )


def test_preview_on_add_renders_the_widget_for_the_unsaved_dialogue(admin_client):
    response = preview(
        admin_client,
        url("preview_on_add"),
        dialogue_form(SIMPLE_FLOW, name="Not saved", title="Ask us"),
    )
    config = config_of(response)
    assert config["preview"] is True
    assert config["candidates"] is True
    assert config["page"] is None
    assert config["csrf"]
    assert config["api"].startswith("/admin/dynchat/preview/")
    setup = config["bootstrap"].pop("setup")
    assert (setup["lang"], setup["strings"]["send"]) == ("en", "Send")
    assert config["bootstrap"] == {
        "dialogue": {
            "id": None,
            "slug": "",
            "title": "Ask us",
            "teaser": None,
            "triggers": [{"type": "immediately"}],
            "lang": None,
        },
        "conversation": None,
    }
    # The loader module follows the configuration, as on the site.
    assert "wagtail_dynchat/loader.js" in response.content.decode()
    assert "Not saved" in response.content.decode()
    assert rows() == [0, 0, 0, 0, 0]


def test_preview_on_edit_shows_the_unsaved_changes(admin_client):
    dialogue = make_dialogue(SIMPLE_FLOW, name="Saved", title="Saved title")
    flow = [
        branch(
            "start",
            "",
            question(
                "<p>Seen the new flow?</p>", [("Yes", "yes", ""), ("No", "no", "")], poke=True
            ),
        )
    ]
    response = preview(
        admin_client, url("preview_on_edit", dialogue.pk), dialogue_form(flow, title="Unsaved")
    )
    config = config_of(response)
    assert config["bootstrap"]["dialogue"] == {
        "id": dialogue.pk,
        "slug": "",
        "title": "Unsaved",
        "teaser": "Seen the new flow?",
        "triggers": [{"type": "immediately"}],
        "lang": None,
    }
    dialogue.refresh_from_db()
    assert dialogue.title == "Saved title"


def test_an_invalid_form_gives_no_preview(admin_client):
    flow = [branch("start", "", question("<p>Q</p>", [("A", "a", "")])), *SIMPLE_FLOW[1:2]] * 2
    response = admin_client.post(url("preview_on_add"), dialogue_form(flow))
    assert response.json() == {"is_valid": False, "is_available": False}


def strict_client(user):
    """A browser-like client: CSRF is enforced, so the widget must send its config's token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_talking_to_the_preview_records_nothing(simple_dialogue, admin_client, admin_user):
    before = rows()
    edit_data = dialogue_form(SIMPLE_FLOW, name=simple_dialogue.name)
    preview(admin_client, url("preview_on_edit", simple_dialogue.pk), edit_data)
    client = strict_client(admin_user)
    widget = Widget(client, config_of(client.get(url("preview_on_edit", simple_dialogue.pk))))

    started = widget.start()
    assert started.status_code == 201
    conversation = started.json()["conversation"]
    assert [item["kind"] for item in conversation["items"]] == ["message", "question"]
    assert conversation["items"][0]["html"] == "<p>Hello there!</p>"
    assert conversation["dialogue"]["id"] == simple_dialogue.pk

    answered = widget.answer(conversation, 0)
    assert answered.status_code == 200
    conversation = answered.json()["conversation"]
    assert conversation["awaiting"]["kind"] == "capture"

    retry = widget.answer(conversation, "not-an-email")
    assert retry.status_code == 200
    assert [item["kind"] for item in retry.json()["items"]] == ["retry"]
    assert retry.json()["conversation"]["step"] == conversation["step"]

    done = widget.answer(conversation, "ada@example.com")
    assert done.status_code == 200
    conversation = done.json()["conversation"]
    assert conversation["status"] == "completed"
    assert conversation["items"][-1]["kind"] == "end"

    # Document clicks and closing are accepted and dropped.
    assert widget.post(f"conversations/{conversation['id']}/close").status_code == 204
    assert rows() == before

    # Replaying an answer is a conflict; the widget then redraws from the preview's bootstrap.
    replay = widget.answer({**conversation, "awaiting": {"card": "x"}, "step": 0}, 0)
    assert replay.status_code == 409
    resync = client.get(widget.config["api"] + "bootstrap")
    assert resync.status_code == 200
    assert resync.json()["conversation"] == conversation


def test_the_widget_needs_the_csrf_token(admin_client, admin_user):
    preview(admin_client, url("preview_on_add"), dialogue_form(SIMPLE_FLOW))
    client = strict_client(admin_user)
    config = config_of(client.get(url("preview_on_add")))
    response = client.post(config["api"] + "conversations", "{}", content_type="application/json")
    assert response.status_code == 403
    assert Widget(client, config).start().status_code == 201


def test_a_broken_draft_can_be_previewed_up_to_the_break(admin_client):
    flow = [branch("start", "", question("<p>Where?</p>", [("Nowhere", "x", "nowhere")]))]
    config = config_of(preview(admin_client, url("preview_on_add"), dialogue_form(flow)))
    widget = Widget(admin_client, config)
    conversation = widget.start().json()["conversation"]
    response = widget.answer(conversation, 0)
    # The engine refuses to follow the dangling answer; the widget redraws what it had.
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    resync = admin_client.get(config["api"] + "bootstrap").json()
    assert resync["conversation"] == conversation


def test_the_endpoint_is_for_logged_in_admin_users_only(admin_client):
    config = config_of(preview(admin_client, url("preview_on_add"), dialogue_form(SIMPLE_FLOW)))
    anonymous = Client()
    response = anonymous.post(
        config["api"] + "conversations", "{}", content_type="application/json"
    )
    assert response.status_code == 302
    assert response.url.startswith(reverse("wagtailadmin_login"))
    assert anonymous.get(config["api"] + "bootstrap").status_code == 302
    assert rows() == [0, 0, 0, 0, 0]


def test_an_expired_preview_is_a_json_404(admin_client):
    api = reverse("wagtail_dynchat_admin:preview_api", args=["no-such-token"])
    widget = Widget(admin_client, {"api": api, "csrf": ""})
    for response in (
        widget.start(),
        widget.answer({"id": "preview", "step": 0, "awaiting": {"card": "c"}}, 0),
        admin_client.get(api + "bootstrap"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_answering_before_starting_is_a_404(admin_client):
    config = config_of(preview(admin_client, url("preview_on_add"), dialogue_form(SIMPLE_FLOW)))
    widget = Widget(admin_client, config)
    response = widget.answer({"id": "preview", "step": 0, "awaiting": {"card": "c"}}, 0)
    assert response.status_code == 404
    assert admin_client.get(config["api"] + "bootstrap").json()["conversation"] is None


def test_a_meeting_card_previews_with_sample_times_and_books_nothing(admin_client, admin_user):
    flow = [
        branch(
            "start",
            "",
            {
                "type": "meeting",
                "value": {
                    "prompt": "<p>When?</p>",
                    "queue": "",
                    "invitation": "",
                    "online_meeting": True,
                    "agent_field": "",
                    "agent_value": "name",
                    "fallback": "",
                },
            },
        )
    ]
    before = rows()
    preview(admin_client, url("preview_on_add"), dialogue_form(flow, name="Meet"))
    client = strict_client(admin_user)
    widget = Widget(client, config_of(client.get(url("preview_on_add"))))
    conversation = widget.start().json()["conversation"]
    assert conversation["awaiting"]["kind"] == "meeting"

    offered = client.get(
        f"{widget.config['api']}conversations/{conversation['id']}/slots", {"tz": "Asia/Tokyo"}
    ).json()
    assert offered["tz"] == "Asia/Tokyo" and len(offered["days"]) == 3
    start = offered["days"][0]["times"][0]
    assert start.endswith("T09:00:00+09:00")

    done = widget.answer(conversation, {"start": start, "tz": "Asia/Tokyo", "email": None})
    assert done.status_code == 200
    assert "Sample agent" in done.json()["items"][1]["html"]
    assert done.json()["conversation"]["status"] == "completed"
    assert widget.answer(conversation, "9:00").status_code in (400, 409)
    assert rows() == before
