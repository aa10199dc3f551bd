"""The condition card: sends the visitor to a branch depending on who they are."""

from django.utils.translation import gettext_lazy as _

from .base import CardBlock, IdentifierBlock
from .rules import AudienceBlock


class ConditionBlock(CardBlock):
    """Invisible to visitors: goes to one branch when the rules match, else to another (or on)."""

    card_type = "condition"

    audience = AudienceBlock(label=_("When"))
    target = IdentifierBlock(
        max_length=50,
        label=_("Go to branch"),
        help_text=_("Key of the branch for visitors who match the rules."),
    )
    otherwise = IdentifierBlock(
        max_length=50,
        required=False,
        label=_("Otherwise go to branch"),
        help_text=_("Key of the branch for everyone else; empty continues below."),
    )

    class Meta:
        icon = "sliders"
        label = _("Condition")
        label_format = "{audience} → {target}"

    def compile(self, value, *, render):
        return {
            "audience": self.child_blocks["audience"].compile(value.get("audience")),
            "target": value.get("target") or "",
            "otherwise": value.get("otherwise") or "",
        }
