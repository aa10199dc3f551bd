"""The card vocabulary of dialogues: one module per family, and the branch container."""

from .capture import CaptureBlock
from .documents import DocumentCardBlock
from .flow import BranchBlock, CardsBlock, FlowBlock, JumpBlock
from .goals import GoalBlock
from .messages import MessageBlock
from .questions import QuestionBlock

__all__ = [
    "BranchBlock",
    "CaptureBlock",
    "CardsBlock",
    "DocumentCardBlock",
    "FlowBlock",
    "GoalBlock",
    "JumpBlock",
    "MessageBlock",
    "QuestionBlock",
]
