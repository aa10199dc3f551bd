"""Which dialogues use a field: before a mapped Marketo field is removed from the mapping.

A dialogue uses the person field ``x`` when a capture, question or meeting card stores into
it, an audience or condition rule tests ``person.x``, or a text holds the token
``{{ person.x }}``; it uses the company field ``y`` through rules on ``company.y`` and tokens
``{{ company.y }}``. Uses are collected as qualified names (``"person.x"``, ``"company.y"``)
from the compiled flow and audience, the JSON the engine runs, so every card type and every
text is covered the same way.

Live dialogues are read from their live revision's snapshot (what visitors run), compiled from
the live row when no snapshot was made yet; drafts from their latest revision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..engine.flow import INPUT_TYPES

# The namespaces of personalisation tokens (see engine.tokens); the default part is ignored.
_TOKEN = re.compile(r"\{\{\s*(person|company)\.([A-Za-z_]\w*)")


def qualified_name(object_, name):
    """The attribute name of a mapped field: ``person.<name>`` or ``company.<name>``."""
    return f"{'company' if object_ == 'company' else 'person'}.{name}"


def names_used(flow: Any, audience: Any = None) -> set[str]:
    """The qualified field names a compiled flow and audience read or write."""
    found: set[str] = set()
    _walk(flow, found)
    _walk(audience, found)
    return found


def _walk(value: Any, found: set[str]) -> None:
    if isinstance(value, str):
        if "{{" in value:
            found.update(f"{ns}.{name}" for ns, name in _TOKEN.findall(value))
        return
    if isinstance(value, Mapping):
        stored = value.get("field")
        if value.get("type") in INPUT_TYPES and isinstance(stored, str) and stored.strip():
            found.add(f"person.{stored.strip()}")
        if isinstance(value.get("attribute"), str) and "operator" in value:
            found.add(value["attribute"].strip())
        for item in value.values():
            _walk(item, found)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _walk(item, found)


@dataclass
class Usage:
    """Dialogues using fields, by qualified name: live ones and those with a draft using it."""

    live: dict[str, list] = field(default_factory=dict)
    drafts: dict[str, list] = field(default_factory=dict)

    def live_for(self, name):
        return self.live.get(name, [])

    def drafts_for(self, name):
        return self.drafts.get(name, [])


def usage(names: Iterable[str] | None = None) -> Usage:
    """Which dialogues use which of ``names`` (all qualified names when None)."""
    from ..models import Dialogue, FlowSnapshot

    wanted = set(names) if names is not None else None
    result = Usage()

    def add(target, dialogue, used):
        for name in used if wanted is None else used & wanted:
            target.setdefault(name, []).append(dialogue)

    live = list(Dialogue.objects.filter(live=True).order_by("name", "pk"))
    snapshots = FlowSnapshot.objects.in_bulk(
        [d.live_revision_id for d in live if d.live_revision_id], field_name="revision_id"
    )
    for dialogue in live:
        snapshot = snapshots.get(dialogue.live_revision_id)
        if snapshot is not None:
            used = names_used(snapshot.flow, (snapshot.behaviour or {}).get("audience"))
        else:
            # The live row holds the live content (drafts live in revisions only).
            used = names_used(dialogue.compile_flow(), dialogue.compile_audience())
        add(result.live, dialogue, used)

    drafts = Dialogue.objects.filter(has_unpublished_changes=True).select_related("latest_revision")
    for dialogue in drafts.order_by("name", "pk"):
        if dialogue.latest_revision is None:
            continue
        draft = dialogue.latest_revision.as_object()
        add(result.drafts, dialogue, names_used(draft.compile_flow(), draft.compile_audience()))
    return result
