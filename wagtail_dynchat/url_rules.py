"""URL rules: address patterns with ``*`` wildcards, in the format the product we replace uses.

``https://*.example.com/folder/*`` compares the whole address (scheme, host, path; the query
string is ignored: query and UTM conditions belong in audiences). A pattern starting with ``/``
compares the path only, so one rule works on every host a site answers to.
"""

import re
from functools import lru_cache
from urllib.parse import urlsplit

from django.utils.translation import gettext as _


@lru_cache(maxsize=2048)
def _compile(pattern):
    pattern = pattern.strip()
    parts = (re.escape(part) for part in pattern.split("*"))
    return re.compile(".*".join(parts) + r"\Z", re.DOTALL)


def check_pattern(pattern):
    """An editor-facing problem with ``pattern``, or None when it is usable."""
    pattern = (pattern or "").strip()
    if not pattern:
        return _("Enter a pattern.")
    if any(char.isspace() for char in pattern):
        return _("A pattern cannot contain spaces.")
    if pattern.startswith("/") or pattern == "*":
        return None
    scheme, _sep, rest = pattern.partition("://")
    if not rest or not re.fullmatch(r"(\*|https?|https\*|http\*)", scheme):
        return _("Start with / for a path, or with http:// or https:// for a whole address.")
    return None


def _subject(pattern, url):
    """The part of ``url`` a pattern is compared with, normalised the same way."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if pattern.startswith("/") or pattern == "*":
        return path
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def _normalised(pattern):
    # Schemes and hosts compare case-insensitively, as browsers treat them; paths exactly.
    pattern = pattern.strip()
    if "://" in pattern:
        scheme, rest = pattern.split("://", 1)
        host, slash, path = rest.partition("/")
        pattern = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return pattern


def matches(pattern, url):
    """Whether ``url`` (an absolute address) matches ``pattern``."""
    if check_pattern(pattern):
        return False
    pattern = _normalised(pattern)
    try:
        return bool(_compile(pattern).match(_subject(pattern, url)))
    except ValueError:
        return False


def url_verdict(rules, url):
    """``True`` (an include matches and no exclude does), ``False`` (an exclude matches) or
    ``None`` (no rule says anything about this address). ``rules`` are ``(pattern, exclude)``."""
    verdict = None
    for pattern, exclude in rules:
        if matches(pattern, url):
            if exclude:
                return False
            verdict = True
    return verdict
