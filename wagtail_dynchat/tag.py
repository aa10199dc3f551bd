"""What ``{% dynchat %}`` renders, shared by the Django and Jinja2 template tags.

The output depends only on the page, never on the visitor, so pages stay cacheable by any CDN:
everything per visitor happens later, in the API calls the loader makes.
"""

from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html, json_script
from django.utils.translation import get_language

from . import targeting
from .conf import dynchat_settings

CONFIG_ELEMENT_ID = "dynchat-config"


def widget_config(api_url, **extra):
    """The configuration the loader reads: where the API and the widget's files are."""
    return {
        "api": api_url,
        "widget": static("wagtail_dynchat/widget.js"),
        "css": static("wagtail_dynchat/widget.css"),
        "lang": get_language(),
        **extra,
    }


def render_config(config, nonce=None):
    """The configuration as a JSON element, followed by the loader module."""
    nonce_attr = format_html(' nonce="{}"', nonce) if nonce else ""
    return format_html(
        '{}<script type="module" src="{}"{}></script>',
        json_script(config, CONFIG_ELEMENT_ID),
        static("wagtail_dynchat/loader.js"),
        nonce_attr,
    )


def render_tag(request, page=None, nonce=None):
    """HTML for the chat on a page (empty when the chat is switched off or in page previews)."""
    if not dynchat_settings.ENABLED or request is None:
        return ""
    # Page previews render drafts for editors; real conversations there would pollute reports.
    if getattr(request, "is_preview", False):
        return ""
    has_path = bool(getattr(page, "path", None))
    config = widget_config(
        reverse("wagtail_dynchat_api:api-root"),
        page=page.pk if has_path else None,
        candidates=bool(has_path and targeting.candidates_for_page(page)),
    )
    return render_config(config, nonce)
