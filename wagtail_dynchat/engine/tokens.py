"""Personalisation tokens in editor rich text, and plain-text views of that rich text."""

import html as html_lib
import re
from collections.abc import Mapping
from typing import Any

from django.utils.html import escape

# The default's quotes may come through rich-text HTML as an entity. Braces are excluded from the
# default so that one token's default can never swallow the next token.
_TOKEN = re.compile(
    r"\{\{\s*(?P<ns>[A-Za-z_]\w*)\.(?P<field>[A-Za-z_]\w*)\s*"
    r"(?:\|\s*(?P<q>\"|&quot;|&#0*34;|&#[xX]0*22;)(?P<default>(?:(?!(?P=q))[^{}])*)(?P=q)\s*)?"
    r"\}\}"
)
_TAG = re.compile(r"(<[^>]*>)")
# Tags that separate words when the markup is dropped; inline tags (b, a, em...) do not.
_BREAK_TAG = re.compile(
    r"</?(?:p|br|div|li|ul|ol|h[1-6]|blockquote|hr|tr|td|th|table|section|article)\b[^>]*>", re.I
)
_SPACE = re.compile(r"\s+")

_NAMESPACES = {"person": "", "company": "company."}


def _lookup(person: Mapping[str, Any] | None, name: str) -> str:
    if person is None:
        return ""
    value = person.get(name)
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value).strip()


def render_tokens(html: str, person: Mapping[str, Any] | None) -> str:
    """Replace ``{{ person.<field> }}`` and ``{{ person.<field>|"default" }}`` tokens in ``html``.

    ``company.<field>`` reads the person mapping's ``"company.<field>"`` key. The value (or the
    default when the value is missing or blank, or "") is HTML-escaped. Tokens of other namespaces
    are left as they are. Only text between tags is touched: a token inside an attribute (a link's
    href, say) could turn a visitor-typed value into a ``javascript:`` URL, so it stays literal.
    """
    if not isinstance(html, str) or "{{" not in html:
        return html if isinstance(html, str) else ""

    def replace(match: re.Match) -> str:
        prefix = _NAMESPACES.get(match["ns"])
        if prefix is None:
            return match[0]
        value = _lookup(person, prefix + match["field"])
        if not value and match["default"] is not None:
            # The default is HTML source already (``&amp;``); unescape first so it is not doubled.
            value = html_lib.unescape(match["default"])
        return str(escape(value))

    parts = _TAG.split(html)
    # re.split with a capturing group puts the tags at the odd positions.
    return "".join(part if i % 2 else _TOKEN.sub(replace, part) for i, part in enumerate(parts))


def html_to_text(html: str) -> str:
    """Rich text as one line of plain text: tags dropped, entities decoded, spaces collapsed."""
    if not isinstance(html, str):
        return ""
    without_tags = _TAG.sub("", _BREAK_TAG.sub(" ", html))
    return _SPACE.sub(" ", html_lib.unescape(without_tags)).strip()
