"""Editor rich text as the widget receives it: expanded from Wagtail's storage format, then
sanitised, because the widget inserts it as HTML on pages we do not control."""

import nh3
from wagtail.rich_text import expand_db_html

ALLOWED_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "ul", "ol", "li", "h2", "h3", "h4"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def render_rich_text(source):
    """Return widget-safe HTML for a rich text value (a ``RichText`` or its source string)."""
    source = getattr(source, "source", source) or ""
    return nh3.clean(
        expand_db_html(source),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )
