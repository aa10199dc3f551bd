"""Tolerant reading of a compiled flow.

The same flows reach the engine from published revisions and from editors' unsaved drafts (preview,
admin validation), so every accessor accepts missing keys, None and wrong types and falls back to an
empty value instead of raising. Lists keep their length so that indexes still point at the blocks
the editor sees.
"""

from collections.abc import Mapping
from typing import Any

INPUT_TYPES = frozenset({"question", "capture", "meeting"})

_EMPTY: Mapping[str, Any] = {}


def text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def number(value: Any) -> int | float | None:
    """The value as a number, or None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and value != value:  # NaN compares false with everything
        return None
    return value


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, Mapping) else _EMPTY for item in value]


def branches(flow: Any) -> list[Mapping[str, Any]]:
    return _mappings(flow.get("branches") if isinstance(flow, Mapping) else None)


def cards(branch: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _mappings(branch.get("cards"))


def choices(card: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _mappings(card.get("choices"))


def key(branch: Mapping[str, Any]) -> str:
    return text(branch.get("key")).strip()


def target(item: Mapping[str, Any]) -> str:
    return text(item.get("target")).strip()


def otherwise(card: Mapping[str, Any]) -> str:
    """A condition's branch for when its audience does not match ("" continues below)."""
    return text(card.get("otherwise")).strip()


def card_id(card: Mapping[str, Any]) -> str:
    return text(card.get("id"))


def card_type(card: Mapping[str, Any]) -> str:
    return text(card.get("type"))


def field_name(card: Mapping[str, Any]) -> str:
    return text(card.get("field")).strip()


def choice_value(choice: Mapping[str, Any]) -> str:
    """The value a choice stores: its own value, or its label when the editor left value empty."""
    return text(choice.get("value")) or text(choice.get("label"))


def options(card: Mapping[str, Any]) -> list[dict[str, str]]:
    """A picklist's options as ``{"value", "label"}``, the value falling back to the label."""
    found = []
    for option in _mappings(card.get("options")):
        label = text(option.get("label"))
        value = text(option.get("value")) or label
        if value:
            found.append({"value": value, "label": label or value})
    return found


def branch_keys(all_branches: list[Mapping[str, Any]]) -> dict[str, int]:
    """Branch key -> index; with duplicate keys the first branch wins, as at runtime."""
    found: dict[str, int] = {}
    for index, branch in enumerate(all_branches):
        found.setdefault(key(branch), index)
    found.pop("", None)
    return found


def find_card(all_branches: list[Mapping[str, Any]], wanted: str) -> tuple[int, int] | None:
    for b, branch in enumerate(all_branches):
        for c, card in enumerate(cards(branch)):
            if card_id(card) == wanted:
                return b, c
    return None


def is_known(value: Any) -> bool:
    """Whether a person value counts as already known (skip_if_known, keep_existing)."""
    return value is not None and str(value).strip() != ""
