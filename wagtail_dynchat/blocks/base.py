"""What every card block shares: turning its value into the engine's JSON."""

from wagtail import blocks

from ..richtext import render_rich_text

PROMPT_FEATURES = ["bold", "italic", "link"]
MESSAGE_FEATURES = ["bold", "italic", "link", "ol", "ul"]


class CardBlock(blocks.StructBlock):
    """A card of a branch. Subclasses say how their value looks to the engine."""

    card_type = None

    def compile(self, value, *, render):
        """Return the engine's dict for this card, without ``id`` and ``type``.

        With ``render`` False, rich text is left out: the structural checks do not need it and
        should not pay for link expansion on every keystroke-driven validation.
        """
        raise NotImplementedError

    @staticmethod
    def html(value, *, render):
        return render_rich_text(value) if render else ""
