"""Every concrete model of the app, so Django finds them all from one module."""

from ..snippets.models import Dialogue, DialogueTarget
from .conversations import Conversation, ConversationEvent, FlowSnapshot
from .people import Person, Visitor

__all__ = [
    "Conversation",
    "ConversationEvent",
    "Dialogue",
    "DialogueTarget",
    "FlowSnapshot",
    "Person",
    "Visitor",
]
