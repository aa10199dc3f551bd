"""The pure conversation engine: a compiled flow in, transcript items, events and state out.

No HTTP, no ORM, no cache: everything in and out is JSON-safe so that the API layer can store the
state in a JSONField and cache compiled flows.
"""

from .graph import check_flow
from .inputs import TEXT_MAX_LENGTH
from .interpreter import MAX_CARDS_PER_ADVANCE, answer, start, teaser
from .rules import (
    OPERATORS,
    OPERATORS_BY_TYPE,
    TYPES,
    evaluate,
    explain,
    qualify_person_values,
    rule_errors,
    summarise,
    summarise_rule,
    validate_rule,
)
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
    "OPERATORS",
    "OPERATORS_BY_TYPE",
    "TEXT_MAX_LENGTH",
    "TYPES",
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
    "evaluate",
    "explain",
    "html_to_text",
    "qualify_person_values",
    "render_tokens",
    "rule_errors",
    "start",
    "summarise",
    "summarise_rule",
    "teaser",
    "validate_rule",
]
