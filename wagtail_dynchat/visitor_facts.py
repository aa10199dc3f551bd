"""Facts about a visitor that come from the request: where they came from, on what, and when.

Everything here is pure given its inputs (no request object, no clock, no settings), so the API
layer decides which headers and which time zone to trust, and tests need no fixtures. All inputs
come from the visitor's browser: they are cut to a bounded length before anything parses them.
"""

import datetime
import re
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Browsers send URLs up to a few KB; beyond this nothing useful for an audience is left.
_MAX_URL = 2048
_MAX_HEADER = 512
_MAX_QUERY_FIELDS = 50
_MAX_LANGUAGES = 20

# Device type from the User-Agent, the way most analytics tools do it: by well-known tokens,
# tablets first because tablet UAs often contain phone tokens too. This is a heuristic; iPads on
# iPadOS 13+ send a desktop Safari UA by default and are counted as desktops.
#
# Tablets: "iPad"; Android without "Mobile" (Google's guidance: Android phones add "Mobile",
# tablets do not, checked in code below); Firefox's "(Android …; Tablet; …)"; Kindle/Silk.
# "Tablet PC" is an old Windows desktop token, not a tablet.
_TABLET = re.compile(r"ipad|tablet(?! pc)|kindle|silk/", re.IGNORECASE)
# Phones: "Mobi" covers "Mobile" (Android phones, iOS Safari, Firefox) and "Mobi" (Opera); the
# rest are phones whose UAs lack it.
_PHONE = re.compile(r"mobi|iphone|ipod|windows phone|blackberry|opera mini", re.IGNORECASE)
_LANGUAGE = re.compile(r"[a-z]{1,8}", re.ASCII)


def device_type(user_agent: str | None) -> str:
    """The device type of a User-Agent header: "mobile", "tablet" or "desktop" (the default)."""
    agent = (user_agent or "")[:_MAX_HEADER]
    lowered = agent.lower()
    if _TABLET.search(agent) or ("android" in lowered and "mobile" not in lowered):
        return "tablet"
    if _PHONE.search(agent):
        return "mobile"
    return "desktop"


def primary_language(accept_language: str | None) -> str:
    """The primary subtag of the most preferred language, e.g. "de" for "de-CH,de;q=0.9"."""
    best, best_q = "", 0.0
    for entry in (accept_language or "")[:_MAX_HEADER].split(",")[:_MAX_LANGUAGES]:
        tag, _sep, params = entry.partition(";")
        language = tag.strip().split("-")[0].lower()
        if not _LANGUAGE.fullmatch(language):
            continue  # "*" and garbage name no language
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        # Strictly greater: among equal weights the header's order decides.
        if q > best_q:
            best, best_q = language, q
    return best


def _zone(time_zone: datetime.tzinfo | str | None) -> datetime.tzinfo:
    if isinstance(time_zone, datetime.tzinfo):
        return time_zone
    try:
        return ZoneInfo(time_zone) if time_zone else datetime.UTC
    except (ZoneInfoNotFoundError, ValueError):
        # A typo in a setting should not break every chat; UTC is at worst a few hours off.
        return datetime.UTC


def _url_facts(url: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return {"visitor.url": url}
    facts = {"visitor.url": url, "visitor.path": parts.path}
    seen: set[str] = set()
    fields = parse_qsl(parts.query, keep_blank_values=True)[:_MAX_QUERY_FIELDS]
    for name, value in fields:
        if name in seen:
            continue  # the first value wins, as in most analytics tools
        seen.add(name)
        facts[f"visitor.query.{name}"] = value
        if name in UTM_PARAMETERS:
            facts[f"visitor.{name}"] = value
    return facts


def visitor_facts(
    *,
    url: str | None,
    referrer: str | None,
    user_agent: str | None,
    accept_language: str | None,
    visits: int | None,
    now: datetime.datetime,
    time_zone: datetime.tzinfo | str | None,
) -> dict[str, object]:
    """The ``visitor.*`` facts of one request, as audiences and condition cards read them.

    ``url`` is the page's address (query parameters become ``visitor.query.<name>``, first value,
    and ``utm_*`` ones also ``visitor.utm_*``), ``referrer`` the page's referrer, ``visits`` the
    visitor's visit count including this one (None when unknown). ``now`` is an aware datetime (a
    naive one is taken as UTC); ``visitor.weekday`` and ``visitor.hour`` are local to
    ``time_zone`` (a tzinfo or an IANA name; unknown names fall back to UTC). Facts that cannot
    be known (no referrer, no visit count) are left out: a missing fact is an empty one.
    """
    facts: dict[str, object] = {}
    url = (url or "")[:_MAX_URL].strip()
    if url:
        facts.update(_url_facts(url))
    referrer = (referrer or "")[:_MAX_URL].strip()
    if referrer:
        facts["visitor.referrer"] = referrer
        try:
            host = urlsplit(referrer).hostname or ""
        except ValueError:
            host = ""
        if host:
            facts["visitor.referrer_host"] = host
    facts["visitor.device"] = device_type(user_agent)
    language = primary_language(accept_language)
    if language:
        facts["visitor.language"] = language
    if visits is not None:
        facts["visitor.visits"] = visits
        facts["visitor.returning"] = visits > 1
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    local = now.astimezone(_zone(time_zone))
    facts["visitor.weekday"] = WEEKDAYS[local.weekday()]
    facts["visitor.hour"] = local.hour
    return facts


# A typical User-Agent per device type, for the admin's sample visitors (previews, the "which
# dialogue" tool): they go through the same detection as real visitors.
SAMPLE_USER_AGENTS = {
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126 Safari/537.36",
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    "tablet": "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15",
}
