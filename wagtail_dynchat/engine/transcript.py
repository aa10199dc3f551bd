"""A transcript (the items the engine writes) as plain text, for people and for search."""

from collections.abc import Iterable, Mapping
from typing import Any

from .tokens import html_to_text


def as_lines(items: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """One line per item a reader sees: ``Visitor: …`` for answers, ``Bot: …`` for the rest."""
    lines = []
    for item in items or []:
        kind = item.get("kind")
        if kind == "answer":
            lines.append(f"Visitor: {item.get('text', '')}")
        elif kind == "document":
            text = html_to_text(item.get("html"))
            title = item.get("title", "")
            lines.append(f"Bot: {text} [{title}]".replace("  ", " ") if text else f"Bot: [{title}]")
        elif kind in ("retry", "end"):
            lines.append(f"Bot: {item.get('text', '')}")
        else:
            text = html_to_text(item.get("html")) or item.get("label") or item.get("text") or ""
            if text:
                lines.append(f"Bot: {text}")
    return lines


def search_text(items: Iterable[Mapping[str, Any]] | None) -> str:
    """What a reader sees in the transcript, case-folded: answers, the bot's texts without
    markup, choice labels and document titles (no keys, kinds or card ids)."""
    parts = []
    for item in items or []:
        parts.append(html_to_text(item.get("html")))
        for name in ("text", "label", "title"):
            if isinstance(item.get(name), str):
                parts.append(item[name])
        for choice in item.get("choices") or []:
            if isinstance(choice, Mapping) and isinstance(choice.get("label"), str):
                parts.append(choice["label"])
    return "\n".join(part for part in parts if part).casefold()
