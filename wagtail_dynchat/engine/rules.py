"""Audience rules: who a dialogue, a condition card or (later) a routing rule applies to.

An audience is JSON::

    {"match": "all" | "any",
     "groups": [{"match": "all" | "any",
                 "rules": [{"attribute": "person.email", "type": "text", "operator": "is_empty",
                            "value": "", "key": "", "keyed": false}]}]}

``value`` is the string the editor typed; ``type`` (one of :data:`TYPES`) says how both sides are
compared. ``keyed`` attributes (a query parameter, say) read the fact ``"<attribute>.<key>"``. No
groups means everyone; a group without rules matches. Anything malformed is read tolerantly, like
flows: an unknown ``match`` counts as "all", and a rule that :func:`validate_rule` rejects never
matches.

Facts map qualified attribute names (``"person.first_name"``, ``"company.name"``,
``"visitor.device"``, ``"visitor.query.<name>"``) to str, int, float, bool, date, ISO date strings
or None. A missing fact is an empty one.
"""

import datetime
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

TYPES = ("text", "number", "boolean", "date")
OPERATORS = (
    "is",
    "is_not",
    "contains",
    "starts_with",
    "gt",
    "lt",
    "is_empty",
    "is_not_empty",
    "in_list",
)

# Which operators each type supports. Any other pairing is invalid (validate_rule says so) and
# never matches: "greater than" on text or "contains" on a number has no meaning worth guessing.
OPERATORS_BY_TYPE = {
    "text": ("is", "is_not", "contains", "starts_with", "in_list", "is_empty", "is_not_empty"),
    "number": ("is", "is_not", "gt", "lt", "in_list", "is_empty", "is_not_empty"),
    "boolean": ("is", "is_not", "is_empty", "is_not_empty"),
    "date": ("is", "is_not", "gt", "lt", "is_empty", "is_not_empty"),
}
VALUELESS_OPERATORS = frozenset({"is_empty", "is_not_empty"})

OPERATOR_LABELS = {
    "is": gettext_lazy("is"),
    "is_not": gettext_lazy("is not"),
    "contains": gettext_lazy("contains"),
    "starts_with": gettext_lazy("starts with"),
    "gt": gettext_lazy("greater than / after"),
    "lt": gettext_lazy("less than / before"),
    "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"),
    "in_list": gettext_lazy("is one of (comma-separated)"),
}
TYPE_LABELS = {
    "text": gettext_lazy("text"),
    "number": gettext_lazy("number"),
    "boolean": gettext_lazy("yes/no"),
    "date": gettext_lazy("date"),
}

# What explain() reports for each rule.
MATCHED = "matched"
NO_MATCH = "no_match"
EMPTY = "empty"  # the fact is missing or blank
UNPARSEABLE = "unparseable"  # the fact is not a value of the rule's type
INVALID_RULE = "invalid_rule"

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_LIST_SEPARATOR = re.compile(r"[,\r\n]")
_SPACES = re.compile(r"\s+")
# Facts and values come from visitors; nothing longer than this is worth parsing as a number.
_MAX_NUMBER_LENGTH = 40

_EMPTY: Mapping[str, Any] = {}


# -- reading the JSON ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _match(value: Any) -> str:
    # "all" is the stricter reading, so a garbled audience shows a dialogue to fewer people.
    return "any" if value == "any" else "all"


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [item if isinstance(item, Mapping) else _EMPTY for item in value]


def _groups(audience: Any) -> tuple[str, list[tuple[str, list[Mapping[str, Any]]]]]:
    if not isinstance(audience, Mapping):
        return "all", []
    groups = [
        (_match(group.get("match")), _mappings(group.get("rules")))
        for group in _mappings(audience.get("groups"))
    ]
    return _match(audience.get("match")), groups


def iter_rules(audience: Any) -> Iterator[tuple[int, int, Mapping[str, Any]]]:
    """Yield ``(group index, rule index, rule)`` for every rule of ``audience``."""
    for g, group in enumerate(_groups(audience)[1]):
        for r, rule in enumerate(group[1]):
            yield g, r, rule


def _value_text(value: Any) -> str:
    """The rule's value as the editor's string (hand-written JSON may hold numbers or booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _text(value).strip()


def _rule_type(rule: Mapping[str, Any]) -> str:
    kind = rule.get("type")
    return "text" if kind is None or kind == "" else _text(kind) or repr(kind)


def fact_name(rule: Mapping[str, Any]) -> str:
    """The facts key a rule reads: its attribute, plus ``.<key>`` for keyed attributes."""
    attribute = _text(rule.get("attribute")).strip()
    key = _text(rule.get("key")).strip()
    return f"{attribute}.{key}" if rule.get("keyed") and key else attribute


# -- parsing both sides ----------------------------------------------------------------------------


def _is_empty(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    # Lists, dicts and other oddities have no comparable value: treat them as not there.
    return not isinstance(raw, int | float | bool | datetime.date)


def _parse_text(raw: Any) -> str | None:
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    elif isinstance(raw, datetime.date):
        raw = raw.isoformat()
    elif isinstance(raw, int | float):
        raw = str(raw)
    elif not isinstance(raw, str):
        return None
    # Case and spacing differences are typing accidents, never meaningful to an audience.
    return _SPACES.sub(" ", raw.strip()).casefold()


def _parse_number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        return Decimal(repr(raw)) if raw == raw and abs(raw) != float("inf") else None
    if not isinstance(raw, str):
        return None
    raw = raw.strip()
    # Only plain decimals: Decimal() alone would also take "NaN", "Infinity" and "1e999999".
    if len(raw) > _MAX_NUMBER_LENGTH or not _NUMBER.fullmatch(raw):
        return None
    return Decimal(raw)


def _parse_boolean(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return {1: True, 0: False}.get(raw)
    if isinstance(raw, str):
        return _BOOLEANS.get(raw.strip().lower())
    return None


def _parse_date(raw: Any, *, datetimes: bool = True) -> datetime.date | None:
    if isinstance(raw, datetime.datetime):
        return raw.date() if datetimes else None
    if isinstance(raw, datetime.date):
        return raw
    if not isinstance(raw, str):
        return None
    raw = raw.strip()
    try:
        # date.fromisoformat also takes "20250131" and week dates; only the plain form is meant.
        if _DATE.fullmatch(raw):
            return datetime.date.fromisoformat(raw)
        # A datetime is compared by the date it names in its own offset, not converted to ours.
        if datetimes and _DATE.match(raw) and raw[10:11] in ("T", " ") and len(raw) <= 40:
            return datetime.datetime.fromisoformat(raw).date()
    except ValueError:
        return None
    return None


_PARSERS = {
    "text": _parse_text,
    "number": _parse_number,
    "boolean": _parse_boolean,
    "date": _parse_date,
}


def list_items(value: str) -> list[str]:
    """The items of an "in list" value: split on commas and line breaks, stripped, no blanks."""
    return [item.strip() for item in _LIST_SEPARATOR.split(value) if item.strip()]


# -- checking a rule -------------------------------------------------------------------------------


def _value_errors(kind: str, operator: str, value: str) -> tuple[list[str], Any]:
    """Messages about the value, and the value parsed for comparison (None when invalid)."""
    if operator in VALUELESS_OPERATORS:
        return [], None
    items = list_items(value) if operator == "in_list" else ([value] if value else [])
    if not items:
        return [_("Enter a value to compare with.")], None
    parse = _PARSERS[kind]
    parsed = []
    for item in items:
        result = _parse_date(item, datetimes=False) if kind == "date" else parse(item)
        if result is None:
            return [_unparseable_value(kind, item)], None
        parsed.append(result)
    if operator == "in_list":
        return [], tuple(parsed)
    return [], parsed[0]


def _unparseable_value(kind: str, value: str) -> str:
    if kind == "number":
        return _("“%(value)s” is not a number. Write it like 42 or 3.5.") % {"value": value}
    if kind == "boolean":
        return _("“%(value)s” is not yes or no. Write yes, no, true, false, 1 or 0.") % {
            "value": value
        }
    return _("“%(value)s” is not a date. Write it as YYYY-MM-DD.") % {"value": value}


def _check(rule: Mapping[str, Any], attributes: Any = None) -> tuple[dict[str, list[str]], Any]:
    """Editor messages by rule field, and the parsed comparison value of a valid rule."""
    errors: dict[str, list[str]] = {}
    attribute = _text(rule.get("attribute")).strip()
    if not attribute:
        errors["attribute"] = [_("Choose what to check.")]
    elif attributes is not None and attribute not in attributes:
        message = _("“%(attribute)s” is not a known attribute; it may have been removed.")
        errors["attribute"] = [message % {"attribute": attribute}]
    if rule.get("keyed") and not _text(rule.get("key")).strip():
        errors["key"] = [_("Enter the name to look up, such as the query parameter's name.")]

    kind, operator = _rule_type(rule), _text(rule.get("operator"))
    if kind not in TYPES:
        errors["type"] = [_("Unknown value type “%(type)s”.") % {"type": kind}]
        return errors, None
    if not operator:
        errors["operator"] = [_("Choose an operator.")]
    elif operator not in OPERATORS:
        errors["operator"] = [_("Unknown operator “%(operator)s”.") % {"operator": operator}]
    elif operator not in OPERATORS_BY_TYPE[kind]:
        message = _("“%(operator)s” cannot be used with %(type)s values.") % {
            "operator": OPERATOR_LABELS[operator],
            "type": TYPE_LABELS[kind],
        }
        errors["operator"] = [message]
    if "operator" in errors:
        return errors, None
    value_errors, parsed = _value_errors(kind, operator, _value_text(rule.get("value")))
    if value_errors:
        errors["value"] = value_errors
    return errors, parsed


def rule_errors(rule: Mapping[str, Any], attributes: Any = None) -> dict[str, list[str]]:
    """Editor messages about ``rule``, keyed by the rule field they concern.

    Fields are ``attribute``, ``operator``, ``value``, ``key`` and ``type``. ``attributes``, when
    given, is a collection of known attribute names (a dict works), and an attribute outside it
    is reported; without it, any attribute name is accepted. Empty when the rule is valid.
    """
    if not isinstance(rule, Mapping):
        return {"attribute": [_("Choose what to check.")]}
    return _check(rule, attributes)[0]


def validate_rule(rule: Mapping[str, Any], attributes: Any = None) -> list[str]:
    """Editor messages about ``rule`` (empty when valid); see :func:`rule_errors`."""
    return [message for messages in rule_errors(rule, attributes).values() for message in messages]


# -- evaluating ------------------------------------------------------------------------------------


def _outcome(rule: Mapping[str, Any], facts: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether ``rule`` matches ``facts``, and the reason (one of the explain() reasons)."""
    errors, operand = _check(rule)
    if errors:
        return False, INVALID_RULE
    operator, raw = rule["operator"], facts.get(fact_name(rule))
    empty = _is_empty(raw)
    if operator in VALUELESS_OPERATORS:
        matched = empty if operator == "is_empty" else not empty
        return matched, MATCHED if matched else NO_MATCH
    if empty:
        # A value we don't have is certainly not the one named, so "is not" holds (as in
        # Marketo's smart lists); every other comparison fails.
        return (True, MATCHED) if operator == "is_not" else (False, EMPTY)
    fact = _PARSERS[_rule_type(rule)](raw)
    if fact is None:
        return False, UNPARSEABLE
    matched = _compare(operator, fact, operand)
    return matched, MATCHED if matched else NO_MATCH


def _compare(operator: str, fact: Any, operand: Any) -> bool:
    if operator == "is":
        return fact == operand
    if operator == "is_not":
        return fact != operand
    if operator == "contains":
        return operand in fact
    if operator == "starts_with":
        return fact.startswith(operand)
    if operator == "gt":
        return fact > operand
    if operator == "lt":
        return fact < operand
    return fact in operand  # in_list


def rule_matches(rule: Mapping[str, Any], facts: Mapping[str, Any] | None) -> bool:
    """Whether one rule matches ``facts``; an invalid rule never does."""
    if not isinstance(rule, Mapping):
        return False
    return _outcome(rule, facts or _EMPTY)[0]


def _combine(match: str, results: Iterator[bool]) -> bool:
    return any(results) if match == "any" else all(results)


def evaluate(audience: Any, facts: Mapping[str, Any] | None) -> bool:
    """Whether ``facts`` (qualified attribute name -> value) belong to ``audience``.

    No groups (or no audience) means everyone; a group without rules matches.
    """
    facts = facts if facts is not None else _EMPTY
    match, groups = _groups(audience)
    if not groups:
        return True
    return _combine(
        match,
        (
            _combine(group_match, (_outcome(rule, facts)[0] for rule in rules)) if rules else True
            for group_match, rules in groups
        ),
    )


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def explain(audience: Any, facts: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Why ``audience`` does or does not match ``facts``: one JSON-safe dict per group.

    Each group is ``{"index", "match", "matched", "rules"}`` and each rule
    ``{"index", "attribute", "key", "fact", "type", "operator", "value", "actual", "matched",
    "reason", "problems"}``: ``fact`` is the facts key read, ``actual`` the fact's value (None
    when missing), ``reason`` one of "matched", "no_match", "empty", "unparseable" and
    "invalid_rule", and ``problems`` the :func:`validate_rule` messages. The audience as a whole
    matches as :func:`evaluate` says (no groups: everyone).
    """
    facts = facts if facts is not None else _EMPTY
    explained = []
    for g, (match, rules) in enumerate(_groups(audience)[1]):
        entries = []
        for r, rule in enumerate(rules):
            matched, reason = _outcome(rule, facts)
            name = fact_name(rule)
            entries.append(
                {
                    "index": r,
                    "attribute": _text(rule.get("attribute")).strip(),
                    "key": _text(rule.get("key")).strip() if rule.get("keyed") else "",
                    "fact": name,
                    "type": _rule_type(rule),
                    "operator": _text(rule.get("operator")),
                    "value": _value_text(rule.get("value")),
                    "actual": _json_safe(facts.get(name)) if name else None,
                    "matched": matched,
                    "reason": reason,
                    "problems": validate_rule(rule),
                }
            )
        matched = _combine(match, (entry["matched"] for entry in entries)) if entries else True
        explained.append({"index": g, "match": match, "matched": matched, "rules": entries})
    return explained


# -- summaries -------------------------------------------------------------------------------------


def _or_list(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("%(items)s or %(last)s") % {"items": ", ".join(items[:-1]), "last": items[-1]}


def _shown_value(kind: str, value: str) -> str:
    if kind == "boolean":
        parsed = _parse_boolean(value)
        if parsed is not None:
            return _("yes") if parsed else _("no")
    return value


def summarise_rule(rule: Mapping[str, Any], labels: Mapping[str, Any] | None = None) -> str:
    """One rule as a phrase, e.g. "Visits greater than 2"; ``labels`` names the attributes."""
    if not isinstance(rule, Mapping):
        rule = _EMPTY
    attribute = _text(rule.get("attribute")).strip()
    label = str((labels or _EMPTY).get(attribute) or attribute or _("(nothing chosen)"))
    key = _text(rule.get("key")).strip()
    if rule.get("keyed") and key:
        label = _("%(attribute)s “%(key)s”") % {"attribute": label, "key": key}
    kind, operator = _rule_type(rule), _text(rule.get("operator"))
    value = _value_text(rule.get("value"))
    if operator == "in_list":
        value = _or_list([_shown_value(kind, item) for item in list_items(value)] or [""])
    else:
        value = _shown_value(kind, value)
    templates = {
        "is": _("%(attribute)s is %(value)s"),
        "is_not": _("%(attribute)s is not %(value)s"),
        "contains": _("%(attribute)s contains %(value)s"),
        "starts_with": _("%(attribute)s starts with %(value)s"),
        "gt": _("%(attribute)s greater than %(value)s"),
        "lt": _("%(attribute)s less than %(value)s"),
        "is_empty": _("%(attribute)s is empty"),
        "is_not_empty": _("%(attribute)s is not empty"),
        "in_list": _("%(attribute)s is %(value)s"),
    }
    if kind == "date":
        templates["gt"] = _("%(attribute)s after %(value)s")
        templates["lt"] = _("%(attribute)s before %(value)s")
    template = templates.get(operator, _("%(attribute)s (incomplete rule)"))
    return template % {"attribute": label, "value": value}


def _joined(texts: list[str], match: str) -> str:
    word = pgettext("audience rules", "or") if match == "any" else pgettext("audience rules", "and")
    return f" {word} ".join(texts)


def summarise(audience: Any, labels: Mapping[str, Any] | None = None) -> str:
    """A one-line summary of ``audience`` for listings, e.g. "Country is DE or AT and Visits
    greater than 2"; groups are parenthesised where "and" and "or" mix. "Everyone" when the
    audience has no rules (or an "any" audience has an empty group, which lets everyone in).
    """
    match, groups = _groups(audience)
    parts: list[tuple[str | None, str]] = []
    for group_match, rules in groups:
        if not rules:
            if match == "any":
                return _("Everyone")
            continue  # an empty group asks nothing of an "all" audience
        texts = [summarise_rule(rule, labels) for rule in rules]
        parts.append((group_match if len(texts) > 1 else None, _joined(texts, group_match)))
    if not parts:
        return _("Everyone")
    if len(parts) == 1:
        return parts[0][1]
    # "a and b or c" is ambiguous to readers; "a and b and c" is not, so only mixes get brackets.
    return _joined(
        [f"({text})" if inner not in (None, match) else text for inner, text in parts], match
    )


# -- person values as facts ------------------------------------------------------------------------


def qualify_person_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Person field values (``{"email": ...}``, as the engine's ``person``) as qualified facts.

    ``"company.<field>"`` keys stay as they are; other fields become ``"person.<field>"``. The
    derived facts follow the fields they come from: ``"company.name"`` from the ``company``
    field, ``"visitor.known"`` from ``email`` (only when that field is present, so a partial
    mapping, such as the values one conversation captured, does not hide what the caller knows).
    """
    facts: dict[str, Any] = {}
    for name, value in (values or _EMPTY).items():
        if not isinstance(name, str):
            continue
        facts[name if name.startswith("company.") else f"person.{name}"] = value
    if "company" in (values or _EMPTY):
        facts.setdefault("company.name", values["company"])
    if "email" in (values or _EMPTY):
        facts["visitor.known"] = not _is_empty(values["email"])
    return facts
