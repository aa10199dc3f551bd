"""The page a visitor API call is about, and the visitor facts derived from the request.

Bootstrap and start both need the same picture of "this visitor on this page": which page (or
address outside the page tree), its site and locale, and the facts audiences and Condition cards
test (referrer, UTM parameters, device, language, visits, local time).
"""

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

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
    # Visitor facts of this request ("visitor.*"), without the person's.
    facts: dict = field(default_factory=dict)

    @property
    def page_id(self):
        return self.page.id if self.page else None


def page_view(request, *, page_id, url, referrer, visitor):
    """Describe the page of an API call from its parameters and headers."""
    info = targeting.page_info_for_id(page_id) if page_id else None
    if info is not None:
        site_id, locale_id = info.site_id, info.locale_id
    else:
        site_id = targeting.site_id_for_request(request)
        locale_id = targeting.locale_id_for_language(get_language())
    facts = visitor_facts(
        url=url,
        referrer=referrer,
        user_agent=request.headers.get("User-Agent", ""),
        accept_language=request.headers.get("Accept-Language", ""),
        visits=visitor.visits if visitor is not None else 0,
        now=timezone.now(),
        time_zone=ZoneInfo(dynchat_settings.TIME_ZONE or settings.TIME_ZONE),
    )
    return PageView(info, site_id, locale_id, url, facts)


def all_facts(person, visitor_facts_):
    """Person and visitor facts together, as audiences and conditions read them."""
    facts = dict(visitor_facts_)
    if person is not None:
        facts.update(person_facts(person))
    else:
        facts["visitor.known"] = False
    return facts
