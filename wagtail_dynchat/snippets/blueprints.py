"""Starter dialogues editors can copy instead of beginning from a blank flow.

Each blueprint is plain StreamField data, so applying one is just assigning it to a new dialogue:
the editor then changes whatever they like before saving.
"""

import copy
import uuid
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


def message(html):
    return {"type": "message", "value": {"text": html}}


def question(html, choices, *, poke=False, store_in=""):
    return {
        "type": "question",
        "value": {
            "prompt": html,
            "choices": [
                {"label": label, "value": value, "target": target}
                for label, value, target in choices
            ],
            "field": store_in,
            "poke": poke,
        },
    }


def capture(kind, html, store_in, *, placeholder="", policy="skip_if_known", required=True):
    return {
        "type": "capture",
        "value": {
            "input": kind,
            "prompt": html,
            "field": store_in,
            "placeholder": placeholder,
            "options": [],
            "required": required,
            "policy": policy,
            "retry": "",
            "min": None,
            "max": None,
        },
    }


def picklist(html, store_in, options, **kwargs):
    """A capture card choosing from ``options``, ``[(label, stored value), …]``."""
    card = capture("picklist", html, store_in, **kwargs)
    card["value"]["options"] = [{"label": label, "value": value} for label, value in options]
    return card


def document(html, title, url):
    return {
        "type": "document",
        "value": {"text": html, "title": title, "document": None, "url": url},
    }


def goal(name, score=None):
    return {"type": "goal", "value": {"name": name, "score": str(score) if score else ""}}


def jump(target):
    return {"type": "jump", "value": {"target": target}}


def branch(key, name, *cards):
    return {"type": "branch", "value": {"key": key, "name": name, "cards": list(cards)}}


@dataclass(frozen=True)
class Blueprint:
    slug: str
    name: str
    description: str
    title: str
    flow: list = field(default_factory=list)

    def apply(self, dialogue):
        """Fill a new (unsaved) dialogue with this blueprint's content."""
        dialogue.name = str(self.name)
        dialogue.slug = self.slug
        dialogue.description = str(self.description)
        dialogue.title = str(self.title)
        dialogue.flow = with_block_ids(copy.deepcopy(self.flow))
        return dialogue


def with_block_ids(stream):
    """Give every branch and card its own block id up front.

    Card ids are what events and reports refer to, so they must be fixed before the first save
    rather than generated separately for the database row and each revision.
    """
    for branch_data in stream:
        branch_data["id"] = str(uuid.uuid4())
        for card in branch_data["value"]["cards"]:
            card["id"] = str(uuid.uuid4())
    return stream


BOOK_A_DEMO = Blueprint(
    slug="book-a-demo",
    name=_("Book a demo"),
    description=_("Offers a demo, captures who is asking and marks a demo request as a goal."),
    title=_("Book a demo"),
    flow=[
        branch(
            "start",
            "Opening",
            question(
                '<p>Hi {{ person.first_name|"there" }}! Would you like to see it in action?</p>',
                [("Yes, book a demo", "yes", "demo"), ("Just browsing", "no", "browsing")],
                poke=True,
            ),
        ),
        branch(
            "demo",
            "Wants a demo",
            message("<p>Great! Just a few details so we can set it up.</p>"),
            capture(
                "email",
                "<p>What's your work e-mail address?</p>",
                "email",
                placeholder="you@company.com",
            ),
            capture("text", "<p>And your first name?</p>", "first_name", placeholder="Ada"),
            capture("text", "<p>Which company are you with?</p>", "company", required=False),
            goal("Demo requested", 3),
            message(
                '<p>Thanks {{ person.first_name|"" }}! Someone from our team will be in touch '
                "within one business day to find a time.</p>"
            ),
        ),
        branch(
            "browsing",
            "Just browsing",
            message("<p>No problem. If anything comes up, I'm right here.</p>"),
        ),
    ],
)

NEWSLETTER = Blueprint(
    slug="newsletter-sign-up",
    name=_("Newsletter sign-up"),
    description=_("Invites visitors to the newsletter and records their role."),
    title=_("Stay in the loop"),
    flow=[
        branch(
            "start",
            "Opening",
            question(
                "<p>Want our monthly tips in your inbox?</p>",
                [("Yes please", "yes", "subscribe"), ("No thanks", "no", "decline")],
                poke=True,
            ),
        ),
        branch(
            "subscribe",
            "Subscribes",
            capture(
                "email",
                "<p>Lovely. Which e-mail address should we use?</p>",
                "email",
                placeholder="you@example.com",
            ),
            question(
                "<p>What best describes your role?</p>",
                [
                    ("Marketing", "Marketing", ""),
                    ("Product", "Product", ""),
                    ("Engineering", "Engineering", ""),
                    ("Something else", "Other", ""),
                ],
                store_in="job_title",
            ),
            goal("Newsletter sign-up", 1),
            message("<p>You're subscribed. Watch your inbox for the next issue!</p>"),
        ),
        branch("decline", "Declines", message("<p>No worries. Enjoy your visit!</p>")),
    ],
)

QUALIFY = Blueprint(
    slug="qualify-a-visitor",
    name=_("Qualify a visitor"),
    description=_("Sorts visitors by team size and scores the conversation accordingly."),
    title=_("Find the right plan"),
    flow=[
        branch(
            "start",
            "Opening",
            message("<p>Hi there! Mind if I ask a quick question to point you the right way?</p>"),
            question(
                "<p>How big is your team?</p>",
                [
                    ("Just me or a few people", "1-10", "small"),
                    ("11 to 200", "11-200", "growing"),
                    ("More than 200", "200+", "enterprise"),
                ],
            ),
        ),
        branch(
            "small",
            "Small team",
            message("<p>Our Starter plan is made for small teams, and it's free to try.</p>"),
            goal("Qualified: small team", 1),
        ),
        branch(
            "growing",
            "Growing team",
            capture("email", "<p>Where can we send a tailored proposal?</p>", "email"),
            goal("Qualified: growing team", 2),
            jump("thanks"),
        ),
        branch(
            "enterprise",
            "Enterprise",
            capture("email", "<p>Which work e-mail should our team use?</p>", "email"),
            capture("text", "<p>And your company's name?</p>", "company"),
            goal("Qualified: enterprise", 3),
            jump("thanks"),
        ),
        branch(
            "thanks",
            "Thanks",
            message("<p>Thank you! Someone from our team will reach out shortly.</p>"),
        ),
    ],
)

BLUEPRINTS = {blueprint.slug: blueprint for blueprint in (BOOK_A_DEMO, NEWSLETTER, QUALIFY)}
