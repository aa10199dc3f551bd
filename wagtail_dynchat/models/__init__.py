"""Every concrete model of the app, so Django finds them all from one module."""

from ..snippets.models import Dialogue, DialogueTarget, DialogueURLRule
from .conversations import Conversation, ConversationEvent, FlowSnapshot
from .meetings import (
    Account,
    Agent,
    CalendarConnection,
    Meeting,
    MeetingQueue,
    QueueMember,
    RoutingRule,
)
from .outbox import OutboxItem
from .people import Person, Visitor
from .settings import ChatSettings

__all__ = [
    "Account",
    "Agent",
    "CalendarConnection",
    "ChatSettings",
    "Conversation",
    "ConversationEvent",
    "Dialogue",
    "DialogueTarget",
    "DialogueURLRule",
    "FlowSnapshot",
    "Meeting",
    "MeetingQueue",
    "OutboxItem",
    "Person",
    "QueueMember",
    "RoutingRule",
    "Visitor",
]
