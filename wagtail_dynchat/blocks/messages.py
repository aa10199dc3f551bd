from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from .base import MESSAGE_FEATURES, CardBlock


class MessageBlock(CardBlock):
    """A statement from the bot; no answer expected."""

    card_type = "message"

    text = blocks.RichTextBlock(
        features=MESSAGE_FEATURES,
        label=_("Message"),
        help_text=_('Personalise with tokens such as {{ person.first_name|"there" }}.'),
    )

    class Meta:
        icon = "comment"
        label = _("Message")
        label_format = "{text}"

    def compile(self, value, *, render):
        return {"html": self.html(value["text"], render=render)}
