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
from .consent import may_ask
from .privacy import host_allowed, policy

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
    return _render(json_script(config, CONFIG_ELEMENT_ID), nonce)


def _render(config_html, nonce):
    nonce_attr = format_html(' nonce="{}"', nonce) if nonce else ""
    return format_html(
        '{}<script type="module" src="{}"{}></script>',
        config_html,
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
        enabled, candidates, allowed_domains, ask = _page_state(page)
    else:
        page_id = None
        site_id = targeting.site_id_for_request(request)
        enabled = targeting.site_enabled(site_id)
        candidates = enabled and targeting.has_candidates(None, site_id)
        rules = policy(site_id)
        allowed_domains, ask = rules.allowed_domains, may_ask(rules)
    if not enabled:
        return ""
    # A host the site does not list (a staging copy, another name of the site) gets no chat.
    if allowed_domains and not host_allowed(request.get_host(), allowed_domains):
        return ""
    config_html = _config_html(get_script_prefix(), get_language(), page_id, candidates, ask)
    # The nonce changes with every response, so it stays out of the cached part.
    return _render(config_html, nonce)


def _page_state(page):
    """``(chat enabled, page has candidates, allowed domains, may ask for consent)`` for a page,
    in one cache entry: the tag runs on every page render, so it reads two cache keys (this and
    the version) and no more."""

    def compute():
        info = targeting.page_info(page)
        if not targeting.site_enabled(info.site_id):
            return (False, False, (), False)
        rules = policy(info.site_id)
        return (True, targeting.has_candidates(info), rules.allowed_domains, may_ask(rules))

    return targeting.cached(f"tag:{page.pk}", compute)


@lru_cache(maxsize=4096)
def _config_html(script_prefix, lang, page_id, candidates, ask):
    # The output is a pure function of these arguments; reversing URLs, resolving static files
    # and serialising JSON on every page render would cost more than the rest of the tag.
    extra = {"page": page_id, "candidates": candidates}
    if ask:
        # The loader then writes nothing to the browser's storage before a bootstrap answer
        # says that the visitor has consented (docs/api.md).
        extra["consent"] = True
    config = widget_config(reverse("wagtail_dynchat_api:api-root"), lang=lang, **extra)
    return json_script(config, CONFIG_ELEMENT_ID)


@receiver(setting_changed)
def _forget_rendered_tags(**kwargs):
    # Static and URL settings shape the output (override_settings in tests, mostly).
    _config_html.cache_clear()
