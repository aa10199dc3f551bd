"""Every concrete model of the app, so Django finds them all from one module."""

from ..snippets.models import Dialogue, DialogueTarget, DialogueURLRule
from .conversations import Conversation, ConversationEvent, FlowSnapshot
from .marketo import MarketoActivityType, MarketoField, SyncRun
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
from .people import Company, Person, Visitor
from .settings import ChatSettings
from .stats import (
    DailyCardStats,
    DailyChoiceStats,
    DailyGoalStats,
    DailyMeetingStats,
    DailyStats,
    RetentionMark,
    RollupDay,
)

__all__ = [
    "Account",
    "Agent",
    "CalendarConnection",
    "ChatSettings",
    "Company",
    "Conversation",
    "ConversationEvent",
    "DailyCardStats",
    "DailyChoiceStats",
    "DailyGoalStats",
    "DailyMeetingStats",
    "DailyStats",
    "Dialogue",
    "DialogueTarget",
    "DialogueURLRule",
    "FlowSnapshot",
    "MarketoActivityType",
    "MarketoField",
    "Meeting",
    "MeetingQueue",
    "OutboxItem",
    "Person",
    "QueueMember",
    "RetentionMark",
    "RollupDay",
    "RoutingRule",
    "SyncRun",
    "Visitor",
]
