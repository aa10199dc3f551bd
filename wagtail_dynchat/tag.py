"""What ``{% dynchat %}`` renders, shared by the Django and Jinja2 template tags.

The output depends only on the page, never on the visitor, so pages stay cacheable by any CDN:
everything per visitor happens later, in the API calls the loader makes.
"""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html, json_script
from django.utils.translation import get_language

from . import targeting
from .conf import dynchat_settings

CONFIG_ELEMENT_ID = "dynchat-config"


def widget_config(api_url, *, lang=None, **extra):
    """The configuration the loader reads: where the API and the widget's files are."""
    return {
        "api": api_url,
        "widget": static("wagtail_dynchat/widget.js"),
        "css": static("wagtail_dynchat/widget.css"),
        "lang": lang or get_language(),
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
    if getattr(page, "path", None):
        page_id = page.pk
        enabled, candidates = _page_state(page)
    else:
        page_id = None
        site_id = targeting.site_id_for_request(request)
        enabled = targeting.site_enabled(site_id)
        candidates = enabled and targeting.has_candidates(None, site_id)
    if not enabled:
        return ""
    return _tag_html(get_script_prefix(), get_language(), page_id, candidates, nonce)


def _page_state(page):
    """``(chat enabled on the page's site, page has candidates)``, in one cache entry: the tag
    runs on every page render, so it reads two cache keys (this and the version) and no more."""

    def compute():
        info = targeting.page_info(page)
        enabled = targeting.site_enabled(info.site_id)
        return (enabled, enabled and targeting.has_candidates(info))

    return targeting.cached(f"tag:{page.pk}", compute)


@lru_cache(maxsize=4096)
def _tag_html(script_prefix, lang, page_id, candidates, nonce):
    # The output is a pure function of these arguments; reversing URLs, resolving static files
    # and serialising JSON on every page render would cost more than the rest of the tag.
    config = widget_config(
        reverse("wagtail_dynchat_api:api-root"), lang=lang, page=page_id, candidates=candidates
    )
    return render_config(config, nonce)


@receiver(setting_changed)
def _forget_rendered_tags(**kwargs):
    # Static and URL settings shape the output (override_settings in tests, mostly).
    _tag_html.cache_clear()
