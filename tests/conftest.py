"""Shared fixtures: the example site's page tree, dialogue factories and a visitor API client."""

import json
import os

import pytest
from django.core.cache import caches
from django.test import Client

from wagtail_dynchat.models import Dialogue, DialogueTarget
from wagtail_dynchat.snippets.blueprints import (
    BLUEPRINTS,
    branch,
    capture,
    goal,
    message,
    question,
    with_block_ids,
)

__all__ = ["branch", "capture", "goal", "message", "question"]


def require_service(name, reason):
    """Skip (or, with DYNCHAT_REQUIRE_SERVICES=1 as in CI, fail) a test needing a service."""
    message_ = f"{name} is not available: {reason}"
    if os.environ.get("DYNCHAT_REQUIRE_SERVICES") == "1":
        pytest.fail(message_)
    pytest.skip(message_)


@pytest.fixture(autouse=True)
def _clear_caches():
    # Rate-limit counters and targeting entries must not leak from one test to the next.
    for cache in caches.all():
        cache.clear()
    yield


def ensure_wagtail_base_rows():
    """Recreate the default locale and the tree's root when a transactional test flushed them.

    Wagtail's own migrations create these rows; flushing the database after a transactional
    test (the browser and concurrency tests) removes them for every test that follows.
    """
    from django.conf import settings
    from wagtail.coreutils import get_supported_content_language_variant
    from wagtail.models import Locale, Page

    Locale.objects.get_or_create(
        language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
    )
    if Page.get_first_root_node() is None:
        Page.add_root(instance=Page(title="Root", slug="root"))


@pytest.fixture
def pages(db):
    """The demo page tree: home, pricing, blog (with three posts) and contact."""
    from example_site.home.management.commands.load_dynchat_demo import create_demo_pages

    ensure_wagtail_base_rows()
    return create_demo_pages()


def make_dialogue(
    flow,
    *,
    name="Test dialogue",
    title="",
    targets=(),
    priority=50,
    publish=True,
):
    """Create a dialogue from raw flow data; ``targets`` are ``(page, scope, exclude)`` tuples."""
    dialogue = Dialogue(name=name, title=title, priority=priority, live=False)
    dialogue.flow = with_block_ids(json.loads(json.dumps(flow)))
    dialogue.targets = [
        DialogueTarget(page=target[0], scope=target[1], exclude=bool(target[2:] and target[2]))
        for target in targets
    ]
    dialogue.save()
    revision = dialogue.save_revision()
    if publish:
        revision.publish()
        dialogue.refresh_from_db()
    return dialogue


def make_blueprint_dialogue(slug, **kwargs):
    blueprint = BLUEPRINTS[slug]
    kwargs.setdefault("name", str(blueprint.name))
    kwargs.setdefault("title", str(blueprint.title))
    return make_dialogue(blueprint.flow, **kwargs)


@pytest.fixture
def dialogue_factory(db):
    return make_dialogue


SIMPLE_FLOW = [
    branch(
        "start",
        "Start",
        message('<p>Hello {{ person.first_name|"there" }}!</p>'),
        question(
            "<p>Want to hear more?</p>",
            [("Yes", "yes", "more"), ("No", "no", "bye")],
        ),
    ),
    branch(
        "more",
        "More",
        capture("email", "<p>Your e-mail?</p>", "email"),
        goal("Lead", 2),
        message("<p>Thanks!</p>"),
    ),
    branch("bye", "Bye", message("<p>Bye!</p>")),
]


@pytest.fixture
def simple_dialogue(pages):
    """A published dialogue on the pricing page: question → e-mail capture → goal."""
    return make_dialogue(SIMPLE_FLOW, name="Simple", targets=[(pages["pricing"], "page")])


class ChatClient:
    """A visitor's browser speaking the visitor API (cookies kept between calls)."""

    def __init__(self, client=None, origin="http://testserver"):
        self.client = client or Client()
        self.origin = origin

    def _post(self, path, payload=None, **extra):
        body = "" if payload is None else json.dumps(payload)
        headers = {"Origin": self.origin} if self.origin else {}
        headers.update(extra.pop("headers", {}))
        return self.client.post(
            f"/dynchat/api/{path}",
            body,
            content_type=extra.pop("content_type", "application/json"),
            headers=headers,
            **extra,
        )

    def bootstrap(self, page):
        return self.client.get("/dynchat/api/bootstrap", {"page": page.pk})

    def start(self, dialogue, page, url="http://testserver/"):
        return self._post("conversations", {"dialogue": dialogue.pk, "page": page.pk, "url": url})

    def answer(self, conversation, value, *, step=None, card=None):
        payload = {
            "step": conversation["step"] if step is None else step,
            "card": card or conversation["awaiting"]["card"],
            "value": value,
        }
        return self._post(f"conversations/{conversation['id']}/answers", payload)

    def event(self, conversation, kind, card):
        return self._post(
            f"conversations/{conversation['id']}/events", {"kind": kind, "card": card}
        )

    def close(self, conversation):
        return self._post(f"conversations/{conversation['id']}/close")


@pytest.fixture
def chat():
    return ChatClient()
