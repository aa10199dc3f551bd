"""Every concrete model of the app, so Django finds them all from one module."""

from ..snippets.models import Dialogue, DialogueTarget, DialogueURLRule
from .conversations import Conversation, ConversationEvent, FlowSnapshot
from .people import Person, Visitor
from .settings import ChatSettings

__all__ = [
    "ChatSettings",
    "Conversation",
    "ConversationEvent",
    "Dialogue",
    "DialogueTarget",
    "DialogueURLRule",
    "FlowSnapshot",
    "Person",
    "Visitor",
]
