from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .base import CardBlock, IdentifierBlock

SCORES = [("0", "0"), ("1", "1"), ("2", "2"), ("3", "3")]


class GoalBlock(CardBlock):
    """Invisible to visitors: marks that the conversation reached a goal."""

    card_type = "goal"

    name = IdentifierBlock(max_length=100, label=_("Goal name"))
    score = blocks.ChoiceBlock(
        choices=SCORES,
        required=False,
        label=_("Conversation score"),
        help_text=_("Optional score from 0 to 3 given to conversations reaching this goal."),
    )

    class Meta:
        icon = "success"
        label = _("Goal")
        label_format = "{name}"

    def compile(self, value, *, render):
        score = value.get("score")
        return {"name": value.get("name") or "", "score": int(score) if score else None}
