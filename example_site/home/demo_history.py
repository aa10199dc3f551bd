"""Thirty days of demo visitors, so the demo's dashboard and reports have numbers to show.

Every conversation is played through the visitor API, as a browser would (bootstrap, start,
answers, close), so its transcript, events and people are exactly what real visitors leave; only
its timestamps are then moved back to a day in the past. The past days are rolled up as the
nightly task would. Random but seeded: every demo shows the same history.
"""

import datetime
import json
import random

from django.db.models import F
from django.test import Client
from django.utils import timezone
from wagtail.models import Page

from wagtail_dynchat.models import Conversation, ConversationEvent, Dialogue, Person, Visitor
from wagtail_dynchat.reports.rollup import day_bounds, local_today, rollup_day

ORIGIN = "http://localhost:8000"
API = "/dynchat/api/"
FIRST_NAMES = ["Alex", "Sam", "Noor", "Kai", "Mia", "Jonas", "Léa", "Diego", "Aiko", "Ravi"]
COMPANIES = ["Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"]


class _Visitor:
    """One browser: its own cookies, talking to the API in-process."""

    def __init__(self, number):
        # An address of its own, as visitors have: the API limits calls per address.
        address = f"10.0.{number // 250}.{number % 250 + 1}"
        self.client = Client(HTTP_HOST="localhost:8000", HTTP_ORIGIN=ORIGIN, REMOTE_ADDR=address)

    def post(self, path, payload=None):
        body = "" if payload is None else json.dumps(payload)
        response = self.client.post(API + path, body, content_type="application/json")
        return response.status_code, response.json() if response.content else {}

    def bootstrap(self, page):
        self.client.get(API + "bootstrap", {"page": page.pk})
        self.post("consent", {"accept": True})


def _answer_for(awaiting, item, rng, number):
    """A plausible answer to the card the conversation waits on."""
    if awaiting["kind"] == "question":
        choices = item.get("choices") or [{"index": 0}]
        return rng.choice(choices)["index"]
    field = (item.get("input") or item.get("field") or "").lower()
    if "mail" in field:
        return f"{rng.choice(FIRST_NAMES).lower()}.{number}@{rng.choice(COMPANIES).lower()}.example"
    if "company" in field:
        return rng.choice(COMPANIES)
    if "phone" in field or "tel" in field:
        return f"+1 555 01{number % 100:02d}"
    return rng.choice(FIRST_NAMES)


def _play(visitor, dialogue, page, rng, number):
    """Start ``dialogue`` on ``page`` and answer until the end or until the visitor leaves."""
    status, body = visitor.post(
        "conversations",
        {"dialogue": dialogue.pk, "page": page.pk, "url": f"{ORIGIN}{page.url}"},
    )
    if status != 201:
        return None
    conversation = body["conversation"]
    keen = rng.random()
    for _turn in range(20):
        awaiting = conversation.get("awaiting")
        if not awaiting or rng.random() > keen + 0.15:
            break
        item = next(
            (item for item in conversation["items"] if item.get("card") == awaiting["card"]), {}
        )
        status, body = visitor.post(
            f"conversations/{conversation['id']}/answers",
            {
                "step": conversation["step"],
                "card": awaiting["card"],
                "value": _answer_for(awaiting, item, rng, number),
            },
        )
        if status != 200:
            break
        conversation = body["conversation"]
    if conversation.get("awaiting") and rng.random() < 0.5:
        visitor.post(f"conversations/{conversation['id']}/close")
    return conversation["id"]


def _move_back(public_id, when):
    """Move a played conversation, its events, visitor and person to ``when``."""
    conversation = Conversation.objects.get(public_id=public_id)
    shift = when - conversation.started_at
    ConversationEvent.objects.filter(conversation=conversation).update(
        created_at=F("created_at") + shift
    )
    moved = {"started_at": F("started_at") + shift, "updated_at": F("updated_at") + shift}
    for name in ("engaged_at", "completed_at"):
        if getattr(conversation, name):
            moved[name] = F(name) + shift
    Conversation.objects.filter(pk=conversation.pk).update(**moved)
    Visitor.objects.filter(pk=conversation.visitor_id).update(
        created_at=F("created_at") + shift, last_seen_at=F("last_seen_at") + shift
    )
    if conversation.person_id:
        Person.objects.filter(pk=conversation.person_id, created_at__gt=when).update(
            created_at=F("created_at") + shift
        )


def play_history(*, days=30, seed=7, log=print):
    """Play ``days`` days of visitors on the demo dialogues and roll those days up.

    Does nothing when conversations exist already (the demo is loaded again, or real visitors
    came). Returns the number of conversations played.
    """
    if ConversationEvent.objects.exists():
        return 0
    rng = random.Random(seed)
    live = list(Dialogue.objects.filter(live=True).order_by("pk"))
    targets = []
    for dialogue in live:
        for page in Page.objects.filter(pk__in=dialogue.targets.values("page_id")).specific():
            targets.append((dialogue, page))
    if not targets:
        return 0
    today = local_today()
    played = 0
    for offset in range(days, 0, -1):
        day = today - datetime.timedelta(days=offset)
        start, _end = day_bounds(day)
        # Busier on weekdays, and growing over the month.
        visits = rng.randint(3, 6) + (0 if day.weekday() >= 5 else 3) + (days - offset) // 6
        for _visit in range(visits):
            dialogue, page = rng.choice(targets)
            visitor = _Visitor(played)
            visitor.bootstrap(page)
            public_id = _play(visitor, dialogue, page, rng, played)
            if public_id is None:
                continue
            when = start + datetime.timedelta(minutes=rng.randint(8 * 60, 20 * 60))
            _move_back(public_id, min(when, timezone.now()))
            played += 1
        rollup_day(day)
    log(f"Demo history: {played} conversations over {days} days, rolled up")
    return played
