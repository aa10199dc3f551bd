"""Values the engine hands back, and the errors it raises.

Everything stored inside these objects is JSON-safe, so the API layer can persist ``state`` in a
JSONField and ``Event.data`` in an event row without conversion.
"""

from dataclasses import dataclass, field
from typing import Any


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class NotAwaited(EngineError):
    """The answer names a card that is not awaited (a replay, or a finished conversation)."""


class InvalidAnswer(EngineError):
    """The answer is malformed for the awaited card (a protocol error, not a visitor's typo)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidState(EngineError):
    """A stored state does not fit the flow it is replayed against."""


class FlowError(EngineError):
    """The flow itself is broken in a way ``check_flow`` rejects on publish (drafts, previews)."""


@dataclass(frozen=True)
class Event:
    """Something worth recording: ``kind``, the card it came from (or None) and JSON-safe data."""

    kind: str
    card: str | None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "card": self.card, "data": dict(self.data)}


@dataclass
class Result:
    """What one call to :func:`start` or :func:`answer` produced.

    ``items`` holds only the transcript items produced by this call; ``person_updates`` only the
    person fields this call wants written.
    """

    state: dict[str, Any]
    items: list[dict[str, Any]]
    events: list[Event]
    person_updates: dict[str, Any]
    status: str
    awaiting: dict[str, str] | None


@dataclass(frozen=True)
class Problem:
    """One publish-time problem of a flow, addressed to the block the editor has to fix.

    ``branch`` is None only for problems of the whole flow (it has no branch at all).
    """

    branch: int | None
    card: int | None
    choice: int | None
    field: str | None
    code: str
    message: str
