"""The pure conversation engine: a compiled flow in, transcript items, events and state out.

No HTTP, no ORM, no cache: everything in and out is JSON-safe so that the API layer can store the
state in a JSONField and cache compiled flows.
"""

from .graph import check_flow
from .inputs import TEXT_MAX_LENGTH
from .interpreter import MAX_CARDS_PER_ADVANCE, answer, start, teaser
from .tokens import html_to_text, render_tokens
from .types import (
    EngineError,
    Event,
    FlowError,
    InvalidAnswer,
    InvalidState,
    NotAwaited,
    Problem,
    Result,
)

__all__ = [
    "MAX_CARDS_PER_ADVANCE",
    "TEXT_MAX_LENGTH",
    "EngineError",
    "Event",
    "FlowError",
    "InvalidAnswer",
    "InvalidState",
    "NotAwaited",
    "Problem",
    "Result",
    "answer",
    "check_flow",
    "html_to_text",
    "render_tokens",
    "start",
    "teaser",
]
