"""The conversation state: a small JSON-safe dict stored between calls.

Keys:

- ``version``: the layout of this dict (1), so a future layout can migrate old rows.
- ``branch``, ``card``: where the conversation stands. While active, ``card`` is the index of the
  awaited card (the next card to process once it is answered); once completed, it may equal the
  branch's length (the end of the branch).
- ``awaiting``: the id of the awaited card, or None once completed.
- ``step``: how many answers were accepted.
- ``status``: "active" or "completed".
- ``score``: the highest goal score reached (0-3), or None.
- ``values``: person fields this conversation wrote, so that later cards (tokens, skip_if_known)
  see them even where the caller does not persist person updates (the admin preview).
"""

import copy
from collections.abc import Mapping
from typing import Any

from . import flow as f
from .types import InvalidState

VERSION = 1
ACTIVE = "active"
COMPLETED = "completed"


def new_state() -> dict[str, Any]:
    return {
        "version": VERSION,
        "branch": 0,
        "card": 0,
        "awaiting": None,
        "step": 0,
        "status": ACTIVE,
        "score": None,
        "values": {},
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def load_state(all_branches: list[Mapping[str, Any]], state: Any) -> dict[str, Any]:
    """A validated deep copy of ``state``, positioned on its awaited card.

    The awaited card is looked up at the stored position first and, failing that, by id anywhere
    in the flow (an edited preview draft may have moved it). Raises :class:`InvalidState` when the
    state is malformed or does not fit the flow.
    """
    if not isinstance(state, Mapping):
        raise InvalidState("The state is not a mapping.")
    loaded = copy.deepcopy(dict(state))
    loaded.setdefault("values", {})
    if loaded.get("version", VERSION) != VERSION:
        raise InvalidState(f"Unsupported state version {loaded.get('version')!r}.")
    for name in ("branch", "card", "step"):
        if not _is_int(loaded.get(name)) or loaded[name] < 0:
            raise InvalidState(f"The state's {name!r} is not a non-negative integer.")
    score = loaded.get("score")
    if score is not None and not _is_int(score):
        raise InvalidState("The state's 'score' is not an integer or None.")
    values = loaded["values"]
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and _is_scalar(v) for k, v in values.items()
    ):
        raise InvalidState("The state's 'values' is not a mapping of field names to values.")
    if loaded.get("status") not in (ACTIVE, COMPLETED):
        raise InvalidState(f"Unknown conversation status {loaded.get('status')!r}.")

    if loaded["branch"] >= len(all_branches):
        raise InvalidState("The state's branch is not in the flow.")
    cards = f.cards(all_branches[loaded["branch"]])
    if loaded["card"] > len(cards):
        raise InvalidState("The state's card is not in its branch.")

    awaiting = loaded.get("awaiting")
    if loaded["status"] == COMPLETED:
        if awaiting is not None:
            raise InvalidState("A completed conversation awaits nothing.")
        return loaded
    if not isinstance(awaiting, str) or not awaiting:
        raise InvalidState("An active conversation must await a card.")
    position: tuple[int, int] | None = (loaded["branch"], loaded["card"])
    if loaded["card"] >= len(cards) or f.card_id(cards[loaded["card"]]) != awaiting:
        position = f.find_card(all_branches, awaiting)
    if position is None:
        raise InvalidState("The awaited card is not in the flow.")
    card = f.cards(all_branches[position[0]])[position[1]]
    if f.card_type(card) not in f.INPUT_TYPES:
        raise InvalidState("The awaited card does not take answers.")
    loaded["branch"], loaded["card"] = position
    return loaded
