"""Branches and the flow that holds them.

A dialogue is a flat list of named branches, each an ordered list of cards. Questions and jumps
send the visitor to another branch by key; reaching the end of any branch completes the dialogue.
Keeping branches flat (no recursive blocks) keeps the StreamField small while still modelling a
tree with merges.
"""

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..engine import check_flow
from .base import CardBlock, IdentifierBlock
from .capture import CaptureBlock
from .conditions import ConditionBlock
from .documents import DocumentCardBlock
from .goals import GoalBlock
from .meetings import MeetingCardBlock
from .messages import MessageBlock
from .questions import QuestionBlock

# Problems that stop even a draft from being saved: two branches with one key make every
# reference to that key ambiguous, so the draft could not be reasoned about.
CHECKED_ON_DRAFT = frozenset({"duplicate_key"})


class JumpBlock(CardBlock):
    """Continues the conversation at the start of another branch."""

    card_type = "jump"

    target = IdentifierBlock(max_length=50, label=_("Go to branch"))

    class Meta:
        icon = "redirect"
        label = _("Jump")
        label_format = "→ {target}"

    def compile(self, value, *, render):
        return {"target": value.get("target") or ""}


def bind_children(value):
    """Turn every child of a stream value into a block, so that saving goes through the blocks.

    A stream loaded from the database (or assigned as data in code) is saved back as it came,
    so lists (answers, options, rules) written without item ids stay without them, and each load
    gives them new random ids. wagtail-localize records translations of list items by those ids.
    """
    for _child in value or ():
        pass
    return value


class CardsBlock(blocks.StreamBlock):
    message = MessageBlock()
    question = QuestionBlock()
    capture = CaptureBlock()
    goal = GoalBlock()
    document = DocumentCardBlock()
    meeting = MeetingCardBlock()
    condition = ConditionBlock()
    jump = JumpBlock()

    class Meta:
        label = _("Cards")

    def get_prep_value(self, value):
        return super().get_prep_value(bind_children(value))


class BranchBlock(blocks.StructBlock):
    key = IdentifierBlock(
        max_length=50,
        validators=[validate_slug],
        label=_("Key"),
        help_text=_("Short unique name that answers and jumps use to lead here, e.g. 'demo'."),
    )
    name = blocks.CharBlock(max_length=100, required=False, label=_("Description"))
    cards = CardsBlock()

    class Meta:
        icon = "list-ol"
        label = _("Branch")
        label_format = "{key}: {name}"


class FlowBlock(blocks.StreamBlock):
    """The whole flow of a dialogue; the first branch is where every conversation starts."""

    branch = BranchBlock()

    class Meta:
        label = _("Flow")

    def get_prep_value(self, value):
        return super().get_prep_value(bind_children(value))

    def compile(self, value, *, render=True):
        """Return the engine's JSON for a flow value (a ``StreamValue`` of branches).

        ``render`` expands and sanitises rich text; the structural checks skip that work.
        """
        branches = []
        for branch_index, branch in enumerate(value or []):
            cards = []
            for card_index, card in enumerate(branch.value.get("cards") or []):
                if not isinstance(card.block, CardBlock):
                    continue
                cards.append(
                    {
                        # Unsaved blocks built in code have no id yet; a positional one keeps
                        # the structural checks and previews working until they are saved.
                        "id": card.id or f"b{branch_index}c{card_index}",
                        "type": card.block.card_type,
                        **card.block.compile(card.value, render=render),
                    }
                )
            branches.append(
                {
                    "key": branch.value.get("key") or "",
                    "name": branch.value.get("name") or "",
                    "cards": cards,
                }
            )
        return {"branches": branches}

    def clean(self, value):
        # The flow is checked even when some cards have field errors, so that the editor sees
        # every problem at once; the checks are tolerant of the uncleaned values.
        try:
            cleaned, block_error = super().clean(value), None
        except blocks.StreamBlockValidationError as error:
            cleaned, block_error = value, error
        problems = check_flow(self.compile(cleaned, render=False))
        if self.is_deferred_validation:
            problems = [problem for problem in problems if problem.code in CHECKED_ON_DRAFT]
        if problems:
            flow_error = self._validation_error(cleaned, problems)
            raise merge_errors(block_error, flow_error) if block_error else flow_error
        if block_error:
            raise block_error
        return cleaned

    def _validation_error(self, value, problems):
        """Turn engine problems into nested block errors, so each shows on its own block."""
        by_branch = defaultdict(list)
        flow_errors = []
        for problem in problems:
            if problem.branch is None:
                flow_errors.append(problem.message)
            else:
                by_branch[problem.branch].append(problem)

        branch_errors = {}
        for branch_index, branch_problems in by_branch.items():
            cards = value[branch_index].value.get("cards") or []
            branch_errors[branch_index] = _branch_error(cards, branch_problems)
        return blocks.StreamBlockValidationError(
            block_errors=branch_errors, non_block_errors=flow_errors
        )


def _branch_error(cards, problems):
    field_messages = defaultdict(list)
    by_card = defaultdict(list)
    for problem in problems:
        if problem.card is None:
            field_messages[problem.field or "key"].append(problem.message)
        else:
            by_card[problem.card].append(problem)

    cards_messages = field_messages.pop("cards", [])
    block_errors = {field: ValidationError(messages) for field, messages in field_messages.items()}
    if by_card or cards_messages:
        block_errors["cards"] = blocks.StreamBlockValidationError(
            block_errors={
                card_index: _card_error(cards[card_index].block, card_problems)
                for card_index, card_problems in by_card.items()
            },
            non_block_errors=cards_messages,
        )
    return blocks.StructBlockValidationError(block_errors=block_errors)


def _card_error(card_block, problems):
    field_messages = defaultdict(list)
    choice_messages = defaultdict(lambda: defaultdict(list))
    general = []
    for problem in problems:
        if problem.choice is not None:
            choice_messages[problem.choice][problem.field or "target"].append(problem.message)
        elif problem.field and problem.field in card_block.child_blocks:
            field_messages[problem.field].append(problem.message)
        else:
            general.append(problem.message)

    block_errors = {field: ValidationError(messages) for field, messages in field_messages.items()}
    if choice_messages:
        block_errors["choices"] = blocks.ListBlockValidationError(
            block_errors={
                index: blocks.StructBlockValidationError(
                    block_errors={f: ValidationError(m) for f, m in fields.items()}
                )
                for index, fields in choice_messages.items()
            }
        )
    return blocks.StructBlockValidationError(block_errors=block_errors, non_block_errors=general)


NESTED_ERRORS = (
    blocks.StreamBlockValidationError,
    blocks.StructBlockValidationError,
    blocks.ListBlockValidationError,
)


def merge_errors(first, second):
    """Combine two block errors for the same block; ``first`` wins where both name one child."""
    if type(first) is not type(second) or not isinstance(first, NESTED_ERRORS):
        return first
    block_errors = dict(second.block_errors)
    for key, error in first.block_errors.items():
        block_errors[key] = merge_errors(error, block_errors[key]) if key in block_errors else error
    # Messages about the block as a whole tend to say the same thing twice ("required" and "has
    # no cards"), so the block's own ones are kept when it has any.
    non_block_errors = first.non_block_errors or second.non_block_errors
    return type(first)(block_errors=block_errors, non_block_errors=non_block_errors)
