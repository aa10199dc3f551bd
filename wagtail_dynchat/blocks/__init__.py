"""The card vocabulary of dialogues: one module per family, and the branch container."""

from .capture import CaptureBlock
from .conditions import ConditionBlock
from .documents import DocumentCardBlock
from .embed import DialogueEmbedBlock
from .flow import BranchBlock, CardsBlock, FlowBlock, JumpBlock
from .goals import GoalBlock
from .messages import MessageBlock
from .questions import QuestionBlock
from .rules import AudienceBlock, RuleBlock, RuleGroupBlock

__all__ = [
    "AudienceBlock",
    "BranchBlock",
    "CaptureBlock",
    "CardsBlock",
    "ConditionBlock",
    "DialogueEmbedBlock",
    "DocumentCardBlock",
    "FlowBlock",
    "GoalBlock",
    "JumpBlock",
    "MessageBlock",
    "QuestionBlock",
    "RuleBlock",
    "RuleGroupBlock",
]
