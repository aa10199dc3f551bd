"""Running a conversation over a compiled flow: start, answer, and the advance between inputs."""

from collections import ChainMap
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.utils.html import escape
from django.utils.translation import gettext as _

from . import flow as f
from .inputs import BROWSER_INPUTS, TEXT_MAX_LENGTH, Accepted, check_capture, default_label
from .inputs import input_type as capture_input_type
from .rules import evaluate, qualify_person_values
from .state import ACTIVE, COMPLETED, load_state, new_state
from .tokens import html_to_text, render_tokens
from .types import Event, FlowError, InvalidAnswer, NotAwaited, Result

# Published flows cannot loop (check_flow); this bounds drafts and anything that slipped through.
MAX_CARDS_PER_ADVANCE = 1000

# Accessible names longer than this are cut: screen readers repeat them on every focus.
_LABEL_LENGTH = 120

_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


def _safe_url(url: str) -> str:
    """The URL if the widget may put it in an href (no ``javascript:`` and the like), else ""."""
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return ""
    if scheme in _SAFE_SCHEMES or (not scheme and url.startswith(("/", "?", "#"))):
        return url
    return ""


def _shorten(text: str) -> str:
    if len(text) <= _LABEL_LENGTH:
        return text
    return text[: _LABEL_LENGTH - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def _paragraph(text: str) -> str:
    """Plain text as a bot message's HTML (escaped: it may quote an agent's or editor's text)."""
    return f"<p>{escape(text)}</p>"


def _valid_score(value: Any) -> int | None:
    score = f.number(value)
    if score is None or score != int(score) or not 0 <= score <= 3:
        return None
    return int(score)


class _Run:
    """One call's worth of work on a (copied) state: what it shows, records and writes."""

    def __init__(
        self,
        all_branches,
        state: dict[str, Any],
        person: Mapping[str, Any] | None,
        facts: Mapping[str, Any] | None = None,
    ):
        self.branches = all_branches
        self.keys = f.branch_keys(all_branches)
        self.state = state
        # The conversation's own writes shadow the caller's person, so a value captured a moment
        # ago is already visible to the tokens and policies of the cards that follow.
        self.person = ChainMap(state["values"], person if person is not None else {})
        self.facts = facts if facts is not None else {}
        self.items: list[dict[str, Any]] = []
        self.events: list[Event] = []
        self.updates: dict[str, Any] = {}

    # -- results -------------------------------------------------------------------------------

    def card_at(self, branch: int, card: int) -> Mapping[str, Any]:
        return f.cards(self.branches[branch])[card]

    def result(self) -> Result:
        awaiting = None
        if self.state["awaiting"] is not None:
            card = self.card_at(self.state["branch"], self.state["card"])
            awaiting = {"card": self.state["awaiting"], "kind": f.card_type(card)}
        return Result(
            state=self.state,
            items=self.items,
            events=self.events,
            person_updates=self.updates,
            status=self.state["status"],
            awaiting=awaiting,
        )

    def write(self, field: str, value: Any) -> None:
        self.state["values"][field] = value
        self.updates[field] = value

    def html(self, card: Mapping[str, Any]) -> str:
        return render_tokens(f.text(card.get("html")), self.person)

    # -- moving --------------------------------------------------------------------------------

    def branch_of(self, key: str, card: Mapping[str, Any]) -> int:
        index = self.keys.get(key)
        if index is None:
            raise FlowError(f"Card {f.card_id(card)!r} targets the unknown branch {key!r}.")
        return index

    def complete(self) -> None:
        self.state.update(awaiting=None, status=COMPLETED)
        self.items.append({"kind": "end", "text": _("This conversation has ended. Thank you!")})
        self.events.append(Event("completed", None, {}))

    def advance(self) -> None:
        """Process cards from the current position until one awaits input or a branch ends."""
        branch, index = self.state["branch"], self.state["card"]
        processed = 0
        while True:
            cards = f.cards(self.branches[branch])
            if index >= len(cards):
                self.state.update(branch=branch, card=index)
                self.complete()
                return
            processed += 1
            if processed > MAX_CARDS_PER_ADVANCE:
                raise FlowError(
                    f"More than {MAX_CARDS_PER_ADVANCE} cards without an input: the flow loops."
                )
            card = cards[index]
            kind = f.card_type(card)
            if kind == "jump":
                branch, index = self.branch_of(f.target(card), card), 0
                continue
            if kind == "condition":
                key = f.target(card) if self.condition(card) else f.otherwise(card)
                # An empty branch key continues below, as a question's choice without a target.
                branch, index = (self.branch_of(key, card), 0) if key else (branch, index + 1)
                continue
            if kind == "question" or (kind == "capture" and not self.skips(card)):
                self.state.update(branch=branch, card=index, awaiting=f.card_id(card))
                self.items.append(self.question(card) if kind == "question" else self.ask(card))
                return
            if kind == "meeting":
                self.state.update(branch=branch, card=index, awaiting=f.card_id(card))
                self.items.append(self.offer(card))
                return
            if kind == "message":
                self.items.append(
                    {"kind": "message", "card": f.card_id(card), "html": self.html(card)}
                )
            elif kind == "goal":
                self.goal(card)
            elif kind == "document":
                self.document(card)
            # Unknown card types (a newer block, a half-built draft) are passed over.
            index += 1

    # -- cards ---------------------------------------------------------------------------------

    def skips(self, card: Mapping[str, Any]) -> bool:
        field = f.field_name(card)
        return (
            card.get("policy") == "skip_if_known"
            and bool(field)
            and f.is_known(self.person.get(field))
        )

    def question(self, card: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "kind": "question",
            "card": f.card_id(card),
            "html": self.html(card),
            "choices": [
                {"index": i, "label": f.text(choice.get("label"))}
                for i, choice in enumerate(f.choices(card))
            ],
        }

    def ask(self, card: Mapping[str, Any]) -> dict[str, Any]:
        kind = capture_input_type(card)
        html = self.html(card)
        return {
            "kind": "capture",
            "card": f.card_id(card),
            "html": html,
            "input": BROWSER_INPUTS[kind],
            "label": _shorten(html_to_text(html)) or default_label(kind),
            "placeholder": f.text(card.get("placeholder")),
            "required": bool(card.get("required")),
            "options": f.options(card) if kind == "picklist" else [],
        }

    def offer(self, card: Mapping[str, Any]) -> dict[str, Any]:
        # The times come from the booking service (they change by the minute); the item only
        # says whether the visitor must also give an e-mail address for the invitation.
        return {
            "kind": "meeting",
            "card": f.card_id(card),
            "html": self.html(card),
            "email": not f.is_known(self.person.get("email")),
        }

    def condition(self, card: Mapping[str, Any]) -> bool:
        # Recomputed per card: an answer earlier in this call may have captured a value.
        facts = ChainMap(qualify_person_values(self.state["values"]), self.facts)
        matched = evaluate(card.get("audience"), facts)
        self.events.append(Event("condition", f.card_id(card), {"matched": matched}))
        return matched

    def goal(self, card: Mapping[str, Any]) -> None:
        score = _valid_score(card.get("score"))
        if score is not None and (self.state["score"] is None or score > self.state["score"]):
            self.state["score"] = score
        data = {"name": f.text(card.get("name")), "score": score}
        self.events.append(Event("goal", f.card_id(card), data))

    def document(self, card: Mapping[str, Any]) -> None:
        title, url = f.text(card.get("title")), _safe_url(f.text(card.get("url")))
        card_id = f.card_id(card)
        self.items.append(
            {
                "kind": "document",
                "card": card_id,
                "html": self.html(card),
                "title": title,
                "url": url,
            }
        )
        self.events.append(Event("document", card_id, {"title": title, "url": url}))

    # -- answers -------------------------------------------------------------------------------

    def accept(self, card_id: str, text: str) -> None:
        if self.state["step"] == 0:
            self.events.append(Event("engaged", card_id, {}))
        self.state["step"] += 1
        self.state["awaiting"] = None
        self.items.append({"kind": "answer", "card": card_id, "text": text})

    def answer_question(self, card: Mapping[str, Any], value: Any) -> None:
        choices = f.choices(card)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAnswer(_("A question is answered with the index of a choice."))
        if not 0 <= value < len(choices):
            raise InvalidAnswer(_("This question has no choice %(index)d.") % {"index": value})
        choice = choices[value]
        # Resolve the target before changing anything, so a broken target leaves no trace.
        key = f.target(choice)
        next_position = (
            (self.branch_of(key, card), 0)
            if key
            else (self.state["branch"], self.state["card"] + 1)
        )
        card_id, label = f.card_id(card), f.text(choice.get("label"))
        stored = f.choice_value(choice)
        self.accept(card_id, label)
        self.events.append(Event("answered", card_id, {"value": stored, "label": label}))
        field = f.field_name(card)
        if field:
            self.write(field, stored)
            self.events.append(Event("captured", card_id, {"field": field, "value": stored}))
        self.state["branch"], self.state["card"] = next_position

    def answer_meeting(self, card: Mapping[str, Any], outcome: Any) -> bool:
        """Record what the booking service did with the visitor's choice (see :func:`answer`)."""
        card_id = f.card_id(card)
        if not isinstance(outcome, Mapping) or not (
            outcome.get("taken") or outcome.get("unavailable") or outcome.get("booked")
        ):
            raise InvalidAnswer(_("A meeting card is answered with a time from its offer."))
        if outcome.get("taken"):
            text = _("Sorry, that time was just taken. Please choose another one.")
            self.items.append({"kind": "retry", "card": card_id, "text": text})
            self.events.append(Event("rejected", card_id, {"reason": "slot_taken"}))
            return False
        if outcome.get("unavailable"):
            if self.state["step"] == 0:
                self.events.append(Event("engaged", card_id, {}))
            self.state["step"] += 1
            self.state["awaiting"] = None
            text = f.text(card.get("fallback")).strip() or _(
                "Sorry, nobody can take a meeting at the moment. We will get back to you by e-mail."
            )
            self.items.append({"kind": "message", "card": card_id, "html": _paragraph(text)})
            self.events.append(Event("meeting_unavailable", card_id, {}))
            self.state["card"] += 1
            return True
        booked = outcome["booked"]
        self.accept(card_id, f.text(booked.get("when")))
        if booked.get("email") and not f.is_known(self.person.get("email")):
            self.write("email", booked["email"])
        field = f.field_name(card)
        if field:
            agent = booked.get("agent_email" if card.get("agent_value") == "email" else "agent")
            self.write(field, agent)
            self.events.append(Event("captured", card_id, {"field": field, "value": agent}))
        self.events.append(
            Event(
                "meeting",
                card_id,
                {
                    "meeting": booked.get("meeting"),
                    "agent": booked.get("agent"),
                    "starts_at": booked.get("starts_at"),
                },
            )
        )
        text = _("You're booked with %(agent)s on %(when)s. The invitation is on its way.") % {
            "agent": f.text(booked.get("agent")),
            "when": f.text(booked.get("when")),
        }
        self.items.append({"kind": "message", "card": card_id, "html": _paragraph(text)})
        self.state["card"] += 1
        return True

    def answer_capture(self, card: Mapping[str, Any], value: Any, **limits: Any) -> bool:
        if value is not None and not isinstance(value, str):
            raise InvalidAnswer(_("This card is answered with text, or null to skip it."))
        card_id = f.card_id(card)
        outcome = check_capture(card, value, **limits)
        if not isinstance(outcome, Accepted):
            self.items.append({"kind": "retry", "card": card_id, "text": outcome.message})
            self.events.append(Event("rejected", card_id, {"reason": outcome.reason}))
            return False
        self.accept(card_id, outcome.text)
        self.events.append(
            Event("answered", card_id, {"value": outcome.value, "text": outcome.text})
        )
        field = f.field_name(card)
        if field and outcome.value is not None:
            existing = self.person.get(field)
            if not (card.get("policy") == "keep_existing" and f.is_known(existing)):
                self.write(field, outcome.value)
            self.events.append(Event("captured", card_id, {"field": field, "value": outcome.value}))
        self.state["card"] += 1
        return True


def start(
    flow: Mapping[str, Any],
    person: Mapping[str, Any] | None,
    *,
    facts: Mapping[str, Any] | None = None,
) -> Result:
    """Begin a conversation at the first card of the first branch.

    Shows and acts on cards until one awaits the visitor (a question, or a capture that is not
    skipped) or a branch ends. ``person`` maps person field names (and ``"company.<field>"``) to
    the visitor's known values. ``facts`` maps qualified attribute names (``"person.email"``,
    ``"visitor.device"``...) to what condition cards test; values this conversation captured
    shadow them as ``"person.<field>"`` (see :func:`~.rules.qualify_person_values`).

    Raises :class:`FlowError` when the flow has no branch, a jump or condition names no branch,
    or the flow loops without input.
    """
    all_branches = f.branches(flow)
    if not all_branches:
        raise FlowError("The flow has no branch.")
    run = _Run(all_branches, new_state(), person, facts)
    run.advance()
    return run.result()


def answer(
    flow: Mapping[str, Any],
    state: Mapping[str, Any],
    card_id: str,
    value: Any,
    person: Mapping[str, Any] | None,
    *,
    blocked_email_domains: Iterable[str] = (),
    blocked_email_message: str = "",
    max_text_length: int = TEXT_MAX_LENGTH,
    facts: Mapping[str, Any] | None = None,
) -> Result:
    """Answer the awaited card and advance to the next input or the end.

    ``value`` is a choice index (int) for a question, a string or None for a capture. A capture
    value that fails validation gives a Result with a ``retry`` item and the same card awaited.
    ``state`` is not modified; the Result carries the new one. ``facts`` are what condition cards
    test, as for :func:`start` (the visitor's facts as they are now).

    Raises :class:`InvalidState` if ``state`` does not fit ``flow``, :class:`NotAwaited` if
    ``card_id`` is not the awaited card, :class:`InvalidAnswer` if ``value`` has the wrong shape,
    and :class:`FlowError` for a broken flow (see :func:`start`).
    """
    all_branches = f.branches(flow)
    loaded = load_state(all_branches, state)
    if loaded["status"] != ACTIVE or not isinstance(card_id, str) or card_id != loaded["awaiting"]:
        raise NotAwaited(f"Card {card_id!r} is not awaited.")
    run = _Run(all_branches, loaded, person, facts)
    card = run.card_at(loaded["branch"], loaded["card"])
    if f.card_type(card) == "question":
        run.answer_question(card, value)
    elif f.card_type(card) == "meeting":
        if not run.answer_meeting(card, value):
            return run.result()
    elif not run.answer_capture(
        card,
        value,
        blocked_email_domains=blocked_email_domains,
        blocked_email_message=blocked_email_message,
        max_text_length=max_text_length,
    ):
        return run.result()
    run.advance()
    return run.result()


def teaser(flow: Mapping[str, Any]) -> str | None:
    """The poke teaser: the first card's prompt as plain text when it is a poked question."""
    all_branches = f.branches(flow)
    cards = f.cards(all_branches[0]) if all_branches else []
    if not cards or f.card_type(cards[0]) != "question" or not cards[0].get("poke"):
        return None
    # No person yet (the teaser is cached per dialogue): tokens fall back to their defaults.
    return html_to_text(render_tokens(f.text(cards[0].get("html")), None)) or None
