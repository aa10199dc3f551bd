from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.documents.blocks import DocumentChooserBlock

from .base import PROMPT_FEATURES, CardBlock


class DocumentCardBlock(CardBlock):
    """Offers a Wagtail document or a link; opening it is tracked."""

    card_type = "document"

    text = blocks.RichTextBlock(features=PROMPT_FEATURES, required=False, label=_("Message"))
    title = blocks.CharBlock(max_length=120, label=_("Link text"))
    document = DocumentChooserBlock(required=False, label=_("Document"))
    url = blocks.URLBlock(required=False, label=_("Or a URL"))

    class Meta:
        icon = "doc-full"
        label = _("Document")
        label_format = "{title}"

    def clean(self, value):
        value = super().clean(value)
        if not self.is_deferred_validation and bool(value.get("document")) == bool(
            value.get("url")
        ):
            message = _("Choose a document or enter a URL (one of the two).")
            raise blocks.StructBlockValidationError(
                block_errors={"document": ValidationError(message)}
            )
        return value

    def compile(self, value, *, render):
        document = value.get("document")
        return {
            "html": self.html(value.get("text"), render=render),
            "title": value.get("title") or (document.title if document else ""),
            "url": (document.url if document else value.get("url")) or "",
        }
