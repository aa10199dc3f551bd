"""What every card block shares: turning its value into the engine's JSON; and the text
field for names that stay the same in every language."""

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


class IdentifierBlock(blocks.CharBlock):
    """A one-line setting that is the same in every language: a branch key, a stored value, a
    CSS selector, a goal name that reports count.

    wagtail-localize offers every ``CharBlock`` to translators; it asks a block with these two
    methods instead, so translations keep the original's value (and follow its changes).
    """

    def get_translatable_segments(self, value):
        return []

    def restore_translated_segments(self, value, segments):
        return value


# Stored and migrated as a plain CharBlock: the difference only matters to wagtail-localize.
DECONSTRUCT_ALIASES = {IdentifierBlock: "wagtail.blocks.CharBlock"}
