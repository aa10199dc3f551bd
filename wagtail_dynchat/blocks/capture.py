from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from ..person_fields import person_field_choices
from .base import PROMPT_FEATURES, CardBlock, IdentifierBlock

INPUT_TYPES = [
    ("email", _("E-mail address")),
    ("phone", _("Phone number")),
    ("text", _("Text")),
    ("number", _("Number")),
    ("date", _("Date")),
    ("picklist", _("Pick list")),
]

POLICIES = [
    ("always", _("Always ask, and overwrite what we know")),
    ("skip_if_known", _("Skip when we already know it")),
    ("keep_existing", _("Ask, but keep what we already know")),
]


class OptionBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=80, label=_("Label"))
    value = IdentifierBlock(max_length=255, required=False, label=_("Stored value"))

    class Meta:
        icon = "list-ul"
        label_format = "{label}"


class CaptureBlock(CardBlock):
    """Asks the visitor to type (or pick) a value and stores it on the person."""

    card_type = "capture"

    input = blocks.ChoiceBlock(choices=INPUT_TYPES, default="email", label=_("Type"))
    prompt = blocks.RichTextBlock(features=PROMPT_FEATURES, label=_("Chatbot message"))
    field = blocks.ChoiceBlock(
        choices=person_field_choices, required=False, label=_("Map response to")
    )
    placeholder = blocks.CharBlock(max_length=80, required=False, label=_("Placeholder"))
    options = blocks.ListBlock(
        OptionBlock(),
        min_num=0,
        label=_("Options"),
        help_text=_("Only for pick lists."),
    )
    required = blocks.BooleanBlock(required=False, default=True, label=_("Required"))
    policy = blocks.ChoiceBlock(
        choices=POLICIES, default="skip_if_known", label=_("When the value is known")
    )
    retry = blocks.CharBlock(
        max_length=255,
        required=False,
        label=_("Retry message"),
        help_text=_("Shown when the answer is not valid. Leave empty for a friendly default."),
    )
    min = blocks.FloatBlock(
        required=False, label=_("Minimum"), help_text=_("Smallest number, or shortest text.")
    )
    max = blocks.FloatBlock(
        required=False, label=_("Maximum"), help_text=_("Largest number, or longest text.")
    )

    class Meta:
        icon = "form"
        label = _("Information capture")
        label_format = "{prompt}"
        form_layout = blocks.BlockGroup(
            children=["input", "prompt", "field", "placeholder", "options"],
            settings=["required", "policy", "retry", "min", "max"],
        )

    def compile(self, value, *, render):
        return {
            "html": self.html(value["prompt"], render=render),
            "input": value.get("input") or "text",
            "field": value.get("field") or "",
            "placeholder": value.get("placeholder") or "",
            "required": bool(value.get("required")),
            "policy": value.get("policy") or "always",
            "retry": value.get("retry") or "",
            "options": [
                {"label": option.get("label") or "", "value": option.get("value") or ""}
                for option in value.get("options") or []
            ],
            "min": value.get("min"),
            "max": value.get("max"),
        }
