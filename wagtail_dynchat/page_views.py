"""The page a visitor API call is about, and the visitor facts derived from the request.

Bootstrap and start both need the same picture of "this visitor on this page": which page (or
address outside the page tree), its site and locale, and the facts audiences and Condition cards
test (referrer, UTM parameters, device, language, visits, local time).
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language, get_language_from_path

from . import targeting
from .attributes import person_facts
from .conf import dynchat_settings
from .visitor_facts import visitor_facts


@dataclass
class PageView:
    page: targeting.PageInfo | None
    site_id: int | None
    locale_id: int | None
    url: str
    # Visitor facts of this request ("visitor.*", "page.language"), without the person's.
    facts: dict = field(default_factory=dict)
    # The language the chat speaks on this page (system texts, validation messages).
    language: str = ""

    @property
    def page_id(self):
        return self.page.id if self.page else None


def page_view(request, *, page_id, url, referrer, visitor, session=None):
    """Describe the page of an API call from its parameters and headers.

    ``session`` is the visit key of the request (see :func:`visit_count`).
    """
    info = targeting.page_info_for_id(page_id) if page_id else None
    if info is not None:
        site_id, locale_id = info.site_id, info.locale_id
        language = targeting.language_for_locale(locale_id) or get_language()
    else:
        site_id = targeting.site_id_for_request(request)
        language = url_language(url)
        locale_id = targeting.locale_id_for_language(language)
    facts = visitor_facts(
        url=url,
        referrer=referrer,
        user_agent=request.headers.get("User-Agent", ""),
        accept_language=request.headers.get("Accept-Language", ""),
        visits=visit_count(visitor, session),
        now=timezone.now(),
        # A name, not a ZoneInfo: visitor_facts reads an unknown name (a typo in the setting)
        # as UTC instead of failing every request.
        time_zone=dynchat_settings.TIME_ZONE or settings.TIME_ZONE,
    )
    facts["page.language"] = language
    return PageView(info, site_id, locale_id, url, facts, language)


def site_of(request, page_id):
    """The site of the page an API call names, else of the request's host (both cached)."""
    info = targeting.page_info_for_id(page_id) if page_id else None
    return info.site_id if info is not None else targeting.site_id_for_request(request)


def url_language(url):
    """The language of an address outside the page tree: its ``i18n_patterns`` prefix, if any.

    The API's own request carries no language (the loader sends none, to stay small), so the
    page's address is the best witness; without a prefix the site's default language applies.
    """
    try:
        path = urlsplit(url).path
    except ValueError:
        path = ""
    return get_language_from_path(path) or settings.LANGUAGE_CODE


def visit_count(visitor, session):
    """The visitor's visit count including the visit of this request.

    Only starting a conversation records a visit; bootstrap never writes. So the first bootstrap
    of a new visit (no visit cookie, or one that expired) sees the stored count one short, and a
    browser without a visitor cookie is on its first visit. Bootstrap and start must agree, or a
    dialogue offered to "new visitors" would be refused when started.
    """
    if visitor is None:
        return 1
    return visitor.visits + (0 if session and session == visitor.session else 1)


def all_facts(person, visitor_facts_):
    """Person and visitor facts together, as audiences and conditions read them."""
    facts = dict(visitor_facts_)
    if person is not None:
        facts.update(person_facts(person))
    else:
        facts["visitor.known"] = False
    return facts
