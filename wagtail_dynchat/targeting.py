"""Which live dialogues target a page: an index computed in one query and cached per page.

Entries are keyed by a version token that the signal receivers replace whenever a dialogue is
published or unpublished or the page tree changes, so a warm cache answers without touching the
database and a stale entry is never read.
"""

import secrets

import swapper
from django.core.cache import caches

from .conf import dynchat_settings

VERSION_KEY = "dynchat:targeting:version"


def _cache():
    return caches[dynchat_settings.CACHE_ALIAS]


def _version():
    cache = _cache()
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, secrets.token_hex(4), None)
        version = cache.get(VERSION_KEY)
    return version


def invalidate():
    """Forget every cached targeting entry (they are unreachable under a new version)."""
    _cache().set(VERSION_KEY, secrets.token_hex(4), None)


def _entry_key(version, page_id):
    return f"dynchat:targeting:{version}:page:{page_id}"


def candidates_for_page(page):
    """Ids of live dialogues targeting ``page``, highest priority first (cached)."""
    return candidates_for_page_id(page.pk, path=page.path)


def candidates_for_page_id(page_id, *, path=None):
    """Like :func:`candidates_for_page` for a page id; unknown pages have no candidates.

    ``path`` saves a query on a cache miss when the caller already holds the page.
    """
    cache = _cache()
    key = _entry_key(_version(), page_id)
    candidates = cache.get(key)
    if candidates is None:
        if path is None:
            page_model = swapper.load_model("wagtailcore", "Page")
            path = page_model.objects.filter(pk=page_id).values_list("path", flat=True).first()
        candidates = _compute(path) if path else []
        cache.set(key, candidates, dynchat_settings.CACHE_TIMEOUT)
    return candidates


def _compute(path):
    from .models import DialogueTarget

    page_model = swapper.load_model("wagtailcore", "Page")
    steplen = page_model.steplen
    # The page and all its ancestors, from the materialised path: one indexed lookup.
    paths = [path[:end] for end in range(steplen, len(path) + 1, steplen)]
    rows = DialogueTarget.objects.filter(page__path__in=paths, dialogue__live=True).values_list(
        "dialogue_id", "dialogue__priority", "page__path", "scope", "exclude"
    )
    included, excluded, priority = set(), set(), {}
    for dialogue_id, dialogue_priority, target_path, scope, exclude in rows:
        if target_path != path and scope != "descendants":
            continue
        (excluded if exclude else included).add(dialogue_id)
        priority[dialogue_id] = dialogue_priority
    chosen = included - excluded
    return sorted(chosen, key=lambda dialogue_id: (-priority[dialogue_id], dialogue_id))
