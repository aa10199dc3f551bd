"""Searching the admin's conversations by what was said in them, and people by who they are.

Each conversation keeps the text a reader sees in its transcript, case-folded, in
``Conversation.search_text`` (visitor answers, the bot's texts without markup, choice labels,
document titles; see :func:`wagtail_dynchat.engine.transcript.search_text`). Searching compares
the case-folded term with it, so "CAFÉ" finds "café" on every database, and JSON keys, item kinds,
card ids or markup never match.
"""

from django.db.models import Q

#: Shorter terms would match nearly every transcript; they search people only.
MIN_LENGTH = 2


def transcript_q(term):
    """A condition finding conversations whose transcript shows ``term``, or None when
    ``term`` is shorter than :data:`MIN_LENGTH`."""
    term = term.strip()
    if len(term) < MIN_LENGTH:
        return None
    # Both sides are case-folded already: a plain (case-sensitive) contains is exact.
    return Q(search_text__contains=term.casefold())


def words_q(fields, text):
    """Every word of ``text`` in one of ``fields``: "ada love" finds Ada Lovelace."""
    query = Q()
    for word in text.split():
        any_field = Q()
        for field in fields:
            any_field |= Q(**{f"{field}__icontains": word})
        query &= any_field
    return query
