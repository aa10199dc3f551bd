from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..person_fields import person_field_choices
from .base import PROMPT_FEATURES, CardBlock, IdentifierBlock


class AnswerChoiceBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=80, label=_("Button label"))
    value = IdentifierBlock(
        max_length=255,
        required=False,
        label=_("Stored value"),
        help_text=_("Stored in the person field instead of the label (optional)."),
    )
    target = IdentifierBlock(
        max_length=50,
        required=False,
        label=_("Go to branch"),
        help_text=_("Key of the branch this answer leads to; empty continues below."),
    )

    class Meta:
        icon = "radio-full"
        label_format = "{label}"


class QuestionBlock(CardBlock):
    """A question answered with buttons; each answer may lead to its own branch."""

    card_type = "question"

    prompt = blocks.RichTextBlock(features=PROMPT_FEATURES, label=_("Question"))
    choices = blocks.ListBlock(AnswerChoiceBlock(), min_num=1, label=_("Answers"))
    field = blocks.ChoiceBlock(
        choices=person_field_choices,
        required=False,
        label=_("Store the answer in"),
    )
    poke = blocks.BooleanBlock(
        required=False,
        label=_("Poke"),
        help_text=_(
            "Show this question next to the chat button before the visitor opens the chat. "
            "Only for the first card of the dialogue."
        ),
    )

    class Meta:
        icon = "help"
        label = _("Question")
        label_format = "{prompt}"
        form_layout = blocks.BlockGroup(children=["prompt", "choices"], settings=["field", "poke"])

    def compile(self, value, *, render):
        return {
            "html": self.html(value["prompt"], render=render),
            "field": value.get("field") or "",
            "poke": bool(value.get("poke")),
            "choices": [
                {
                    "label": choice.get("label") or "",
                    "value": choice.get("value") or "",
                    "target": choice.get("target") or "",
                }
                for choice in value.get("choices") or []
            ],
        }
