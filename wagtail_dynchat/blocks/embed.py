"""A dialogue embedded in page content: the product's "inline conversational flow".

Editors add the block to any StreamField of their pages. It renders an empty placeholder that the
loader (present on every page through ``{% dynchat %}``) fills with the chat, open and in place.
"""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock


class DialogueEmbedBlock(blocks.StructBlock):
    dialogue = SnippetChooserBlock("wagtail_dynchat.Dialogue", label=_("Dialogue"))
    fallback = blocks.CharBlock(
        max_length=200,
        required=False,
        label=_("Text without JavaScript"),
        help_text=_("Shown where the chat cannot run, e.g. “Write to hello@example.com”."),
    )

    class Meta:
        icon = "comment"
        label = _("Chat dialogue")
        template = "wagtail_dynchat/blocks/dialogue_embed.html"

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context)
        dialogue = value.get("dialogue")
        # Drafts can be chosen in the editor (Wagtail does not stop it); only live dialogues
        # with a slug can be opened on the site.
        context["slug"] = dialogue.slug if dialogue is not None and dialogue.live else ""
        return context
