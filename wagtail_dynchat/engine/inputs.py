"""Validation and normalisation of what visitors type into capture cards.

A value that fails here is a visitor's slip, not an error: the caller gets a :class:`Rejected` with
a reason code and a friendly message, and asks again.
"""

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from . import flow as f

TEXT_MAX_LENGTH = 500

# Capture input type -> the browser's input type the widget renders.
BROWSER_INPUTS = {
    "email": "email",
    "phone": "tel",
    "text": "text",
    "number": "number",
    "date": "date",
    "picklist": "select",
}

# Longest raw strings worth parsing per type; anything longer is malformed for sure and is not
# handed to regular expressions or validators.
_MAX_RAW = {"email": 254, "phone": 40, "number": 40, "date": 10, "picklist": 500}

# NUL and other control characters cannot be stored in PostgreSQL text/JSON and lone surrogates
# cannot be encoded as UTF-8: drop them before anything else sees the value.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_PHONE = re.compile(r"\+?[0-9\s().\-]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Accepted:
    """A value to store (None when the visitor skipped) and the text the transcript shows."""

    value: Any
    text: str


@dataclass(frozen=True)
class Rejected:
    """Why a value was refused (a stable code for events) and what to tell the visitor."""

    reason: str
    message: str


def input_type(card: Mapping[str, Any]) -> str:
    """The capture's input type; unknown types are treated as free text."""
    kind = f.text(card.get("input"))
    return kind if kind in BROWSER_INPUTS else "text"


def default_label(kind: str) -> str:
    """A short accessible name for an input of ``kind`` when the prompt gives none."""
    labels = {
        "email": _("Your e-mail address"),
        "phone": _("Your phone number"),
        "number": _("A number"),
        "date": _("A date"),
        "picklist": _("Your choice"),
    }
    return labels.get(kind, _("Your answer"))


def _format_number(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _default_message(kind: str, reason: str, card: Mapping[str, Any], max_length: int) -> str:
    low, high = f.number(card.get("min")), f.number(card.get("max"))
    if reason == "required":
        return _("We need an answer to this one to continue.")
    if reason == "blocked_domain":
        return _("Please use your work e-mail address.")
    if kind == "email":
        return _("That doesn't look like an e-mail address. Could you check it?")
    if kind == "phone":
        return _("That doesn't look like a phone number. Could you check it?")
    if kind == "date":
        return _("That doesn't look like a date. Could you enter it as YYYY-MM-DD?")
    if kind == "picklist":
        return _("Please choose one of the options.")
    if kind == "number":
        if reason != "out_of_range":
            return _("Please enter a number, like 42 or 3.5.")
        if low is not None and high is not None:
            return _("Please enter a number between %(min)s and %(max)s.") % {
                "min": _format_number(low),
                "max": _format_number(high),
            }
        if low is not None:
            return _("Please enter a number of at least %(min)s.") % {"min": _format_number(low)}
        return _("Please enter a number of at most %(max)s.") % {"max": _format_number(high)}
    if reason == "too_short":
        return _("Could you tell us a little more? At least %(min)d characters, please.") % {
            "min": int(low or 0)
        }
    return _("That's a bit long. Could you keep it under %(max)d characters?") % {"max": max_length}


def _email(value: str, blocked: Iterable[str]) -> Accepted | str:
    try:
        validate_email(value)
    except ValidationError:
        return "invalid"
    local, domain = value.rsplit("@", 1)
    domain = domain.lower()
    for entry in blocked:
        entry = str(entry).strip().lstrip("@").lower()
        if entry and (domain == entry or domain.endswith("." + entry)):
            return "blocked_domain"
    return Accepted(f"{local}@{domain}", value)


def _phone(value: str) -> Accepted | str:
    if not _PHONE.fullmatch(value):
        return "invalid"
    digits = sum(char.isdigit() for char in value)
    if not 6 <= digits <= 20:
        return "invalid"
    normalised = _WHITESPACE.sub("", value)
    return Accepted(normalised, value)


def _number(value: str, card: Mapping[str, Any]) -> Accepted | str:
    if not _NUMBER.fullmatch(value):
        return "invalid"
    parsed = Decimal(value)
    low, high = f.number(card.get("min")), f.number(card.get("max"))
    # Compare as Decimal so 0.1 + 0.2 style float noise cannot let a bound slip.
    if (low is not None and parsed < Decimal(str(low))) or (
        high is not None and parsed > Decimal(str(high))
    ):
        return "out_of_range"
    normalised = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
    return Accepted(normalised, value)


def _date(value: str) -> Accepted | str:
    # date.fromisoformat also takes "20250131" and week dates; only the plain form is offered.
    if not _DATE.fullmatch(value):
        return "invalid"
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return "invalid"
    return Accepted(value, value)


def _picklist(value: str, card: Mapping[str, Any]) -> Accepted | str:
    for option in f.options(card):
        if option["value"] == value:
            return Accepted(value, option["label"])
    return "not_offered"


def _text(value: str, card: Mapping[str, Any], max_length: int) -> Accepted | str:
    low = f.number(card.get("min"))
    if len(value) > max_length:
        return "too_long"
    if low is not None and len(value) < low:
        return "too_short"
    return Accepted(value, value)


def text_max_length(card: Mapping[str, Any], limit: int = TEXT_MAX_LENGTH) -> int:
    """The longest text a capture accepts: the editor's max, never above the site's ``limit``."""
    high = f.number(card.get("max"))
    if high is None:
        return limit
    return max(0, min(int(high), limit))


def check_capture(
    card: Mapping[str, Any],
    raw: str | None,
    *,
    blocked_email_domains: Iterable[str] = (),
    blocked_email_message: str = "",
    max_text_length: int = TEXT_MAX_LENGTH,
) -> Accepted | Rejected:
    """Validate and normalise a visitor's value for the capture ``card``.

    ``raw`` is the string the visitor submitted, or None. Blank values skip an optional card
    (``Accepted(None, "Skipped")``). A refusal carries the editor's retry message when there is
    one, else a default for the input type; an e-mail on a blocked domain gets the site's
    ``blocked_email_message`` first, since it says exactly what is wrong.
    """
    kind = input_type(card)
    value = _UNSTORABLE.sub("", raw or "").strip()
    max_length = text_max_length(card, max_text_length)
    if not value:
        outcome: Accepted | str = (
            "required" if card.get("required") else Accepted(None, _("Skipped"))
        )
    elif len(value) > _MAX_RAW.get(kind, max_length):
        outcome = "too_long" if kind == "text" else "invalid"
    elif kind == "email":
        outcome = _email(value, blocked_email_domains)
    elif kind == "phone":
        outcome = _phone(value)
    elif kind == "number":
        outcome = _number(value, card)
    elif kind == "date":
        outcome = _date(value)
    elif kind == "picklist":
        outcome = _picklist(value, card)
    else:
        outcome = _text(value, card, max_length)
    if isinstance(outcome, Accepted):
        return outcome
    message = (
        (blocked_email_message.strip() if outcome == "blocked_domain" else "")
        or f.text(card.get("retry")).strip()
        or _default_message(kind, outcome, card, max_length)
    )
    return Rejected(outcome, message)
