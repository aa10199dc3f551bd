"""The meeting card in a conversation: the times it offers and what booking one does.

The engine is pure, so it cannot book: the conversation service asks this module for the outcome
of the visitor's choice (booked, taken or nobody available) and hands that to the engine, which
writes the transcript. A visitor can only send a time and an e-mail; outcomes never come from them.
"""

import datetime
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import formats
from django.utils.translation import gettext as _

from ..engine import flow as f

MAX_TIME_ZONE_LENGTH = 64


class InvalidChoice(ValueError):
    """The visitor's choice is malformed; the message says why, for a 400 answer."""


def meeting_card(conversation, card_id):
    """The compiled meeting card ``card_id`` of the conversation's flow, or None."""
    all_branches = f.branches(conversation.snapshot.flow)
    position = f.find_card(all_branches, card_id)
    if position is None:
        return None
    card = f.cards(all_branches[position[0]])[position[1]]
    return card if f.card_type(card) == "meeting" else None


def visitor_zone(name):
    """The visitor's time zone by IANA name; raises InvalidChoice for anything else."""
    if not isinstance(name, str) or len(name) > MAX_TIME_ZONE_LENGTH:
        raise InvalidChoice(_("Send the visitor's time zone as a name such as Europe/Berlin."))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidChoice(
            _("“%(zone)s” is not a time zone name such as Europe/Berlin.") % {"zone": name[:64]}
        ) from None


def offer(conversation, card, time_zone, *, facts):
    """The times the card offers this visitor, days then times in ``time_zone``."""
    from . import booking

    visitor_zone(time_zone)
    person = conversation.person
    return booking.offer(
        queue_id=card.get("queue"),
        email=(person.email if person else None) or "",
        person=person,
        facts=facts,
        visitor_tz=time_zone,
    )


def outcome(conversation, card, value, *, facts):
    """Book the visitor's choice ``{"start": ISO, "tz": zone, "email": …}``; returns the outcome
    the engine records: ``{"booked": {...}}``, ``{"taken": True}`` or ``{"unavailable": True}``."""
    from . import booking

    if not isinstance(value, dict):
        raise InvalidChoice(_("Answer a meeting card with the chosen start time and time zone."))
    zone = visitor_zone(value.get("tz"))
    if not value.get("start"):
        # Offered no time at all, the visitor goes on: the card's fallback, if that is still so.
        if not offer(conversation, card, zone.key, facts=facts)["days"]:
            return {"unavailable": True}
        raise InvalidChoice(_("Choose one of the times offered."))
    try:
        start = datetime.datetime.fromisoformat(str(value.get("start", ""))[:40])
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise InvalidChoice(_("Send the start time as an ISO 8601 date and time with its offset."))
    person = conversation.person
    email = (person.email if person else None) or str(value.get("email") or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidChoice(_("Send a valid e-mail address for the invitation.")) from None
    try:
        meeting = booking.book(
            start=start.astimezone(datetime.UTC),
            email=email,
            person=person,
            facts=facts,
            queue_id=card.get("queue"),
            conversation=conversation,
            dialogue=conversation.dialogue_id and conversation.dialogue,
            page_url=conversation.url,
            answers=_answers(conversation),
            invitation=card.get("invitation") or "",
            online_meeting=bool(card.get("online_meeting", True)),
        )
    except booking.SlotTaken:
        return {"taken": True}
    except booking.NoAgentAvailable:
        return {"unavailable": True}
    return {
        "booked": {
            "meeting": meeting.public_id,
            "agent": meeting.agent.name,
            "agent_email": meeting.agent.user.email,
            "starts_at": meeting.starts_at.isoformat(),
            "when": when(meeting.starts_at, zone),
            "email": email,
        }
    }


def when(moment, zone):
    """A meeting time as the visitor reads it: their zone, the active language's formats."""
    local = moment.astimezone(zone)
    return _("%(date)s at %(time)s (%(zone)s)") % {
        "date": formats.date_format(local, "DATE_FORMAT"),
        "time": formats.time_format(local, "TIME_FORMAT"),
        "zone": zone.key,
    }


def _answers(conversation):
    """What the visitor answered so far, for the agent's e-mail: ``[[prompt, answer], …]``."""
    pairs, prompt = [], ""
    for item in conversation.transcript:
        if item.get("kind") in ("question", "capture"):
            prompt = item.get("label") or _strip(item.get("html"))
        elif item.get("kind") == "answer":
            pairs.append([prompt, item.get("text", "")])
    return pairs


def _strip(html):
    from ..engine.tokens import html_to_text

    return html_to_text(html or "")
