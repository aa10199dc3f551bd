"""Where dialogues appear: the candidate index and URL rules, cached and kept in step by signals.

A dialogue matches a page through its target pages (this page only, or with descendants; a
target on any translation of a page counts for all its translations), its page types, or its URL
rules; exclusions win. Its optional site limits all of these. Among the translations of one
dialogue, the one in the page's locale is used, or (when the editor allows it) the default-locale
original where no translation exists.

Page matches are computed in a few indexed queries and cached per page; URL rules need the address,
so the (small) list of dialogues that have them is cached once and applied per request. Entries are
keyed by a version token that the receivers replace whenever a dialogue is published, unpublished or
deleted, or the page tree changes, so a warm cache answers without the database and a stale entry
is never read.
"""

import secrets
from dataclasses import dataclass

import swapper
from django.core.cache import caches

from .conf import dynchat_settings
from .url_rules import url_verdict

VERSION_KEY = "dynchat:targeting:version"


def _cache():
    return caches[dynchat_settings.CACHE_ALIAS]


def version():
    """The current version token; part of every cache key that targeting depends on."""
    cache = _cache()
    current = cache.get(VERSION_KEY)
    if current is None:
        cache.add(VERSION_KEY, secrets.token_hex(4), None)
        current = cache.get(VERSION_KEY)
    return current


_MISSING = object()


def cached(name, compute):
    """The value cached as ``name`` under the current version, computed on a miss.

    Everything targeting reads from the database goes through here, so one version bump
    (:func:`invalidate`) retires all of it at once.
    """
    cache = _cache()
    key = f"dynchat:targeting:{version()}:{name}"
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, dynchat_settings.CACHE_TIMEOUT)
    return value


def invalidate():
    """Forget every cached targeting entry (they are unreachable under a new version)."""
    _cache().set(VERSION_KEY, secrets.token_hex(4), None)


@dataclass(frozen=True)
class PageInfo:
    """What targeting needs to know about a page."""

    id: int
    path: str
    translation_key: str
    locale_id: int
    content_type_id: int
    site_id: int | None


def page_info(page):
    """:class:`PageInfo` for a page instance (no query when Wagtail's site cache is warm)."""
    from wagtail.models import Site

    # Wagtail caches the sites' root URL paths; the longest one that prefixes the page's URL
    # path is its site (a site may be rooted inside another's tree).
    roots = [
        root
        for root in Site.get_site_root_paths()
        if page.url_path and page.url_path.startswith(root.root_path)
    ]
    site_id = max(roots, key=lambda root: len(root.root_path)).site_id if roots else None
    return PageInfo(
        page.pk,
        page.path,
        str(page.translation_key),
        page.locale_id,
        page.content_type_id,
        site_id,
    )


def page_candidates(info):
    """``(id, priority)`` of live dialogues matching a page (a :class:`PageInfo`) by targets or
    page types."""
    return cached(f"page:{info.id}", lambda: _compute_page_candidates(info))


def page_info_for_id(page_id):
    """:class:`PageInfo` for a page id, cached; None for unknown pages."""

    def compute():
        page_model = swapper.load_model("wagtailcore", "Page")
        page = (
            page_model.objects.filter(pk=page_id)
            .only("path", "url_path", "translation_key", "locale_id", "content_type_id")
            .first()
        )
        return page_info(page) if page else None

    return cached(f"page-info:{page_id}", compute)


def url_rule_dialogues():
    """Live dialogues that have URL rules, as plain dicts (cached)."""
    return cached("url-rules", _compute_url_rule_dialogues)


def has_candidates(info, site_id=None):
    """Whether a page (a :class:`PageInfo`; None for a view outside the page tree of a site)
    may show a dialogue.

    True when a dialogue matches the page, or when some dialogue has URL rules that could include
    an address of this site: those are decided per request, from the address.
    """
    if info is not None:
        site_id = info.site_id
        if page_candidates(info):
            return True
    return any(
        rule_dialogue["includes"] and rule_dialogue["site_id"] in (None, site_id)
        for rule_dialogue in url_rule_dialogues()
    )


def candidates(info, url, *, site_id=None, locale_id=None):
    """Ids of live dialogues for a page view, by priority: page matches and URL rules together.

    ``info`` (a :class:`PageInfo`) is None for addresses outside the page tree; then ``site_id``
    and ``locale_id`` say where the request is.
    """
    if info is not None:
        site_id, locale_id = info.site_id, info.locale_id
    matched = dict(page_candidates(info)) if info is not None else {}
    rule_dialogues = url_rule_dialogues()
    if rule_dialogues:
        verdicts = {d["id"]: url_verdict(d["rules"], url) if url else None for d in rule_dialogues}
        # An exclusion by address wins over a page match, as page exclusions do.
        matched = {pk: p for pk, p in matched.items() if verdicts.get(pk) is not False}
        included = [
            d for d in rule_dialogues if verdicts[d["id"]] and d["site_id"] in (None, site_id)
        ]
        # A live translation in this locale counts even where its own rules leave it out: the
        # original then does not stand in for it (as with page targets).
        translated = [
            {**d, "id": None, "locale_id": locale_id, "matched": False}
            for d in included
            if d["locale_id"] != locale_id
            and any(
                locale == locale_id and site in (None, site_id)
                # .get: entries cached by an older release lack the key.
                for locale, site in d.get("translations", ())
            )
        ]
        for pk in _choose_translations(included + translated, locale_id):
            matched[pk] = next(d["priority"] for d in included if d["id"] == pk)
    return [pk for pk, _ in sorted(matched.items(), key=lambda item: (-item[1], item[0]))]


def _compute_page_candidates(info):
    from .models import Dialogue, DialogueTarget

    page_model = swapper.load_model("wagtailcore", "Page")
    steplen = page_model.steplen
    paths = [info.path[:end] for end in range(steplen, len(info.path) + 1, steplen)]
    # The translation keys of the page and its ancestors: a target on any translation of them
    # counts, so a translated tree is targeted by the same rows.
    ancestor_keys = {
        str(key)
        for key in page_model.objects.filter(path__in=paths).values_list(
            "translation_key", flat=True
        )
    }
    included, excluded = set(), set()
    rows = DialogueTarget.objects.filter(
        page__translation_key__in=ancestor_keys, dialogue__live=True
    ).values_list("dialogue_id", "page__translation_key", "scope", "exclude")
    for dialogue_id, target_key, scope, exclude in rows:
        if str(target_key) != info.translation_key and scope != "descendants":
            continue
        (excluded if exclude else included).add(dialogue_id)
    included.update(
        Dialogue.page_types.through.objects.filter(
            contenttype_id=info.content_type_id, dialogue__live=True
        ).values_list("dialogue_id", flat=True)
    )
    matched = included - excluded
    if not matched:
        return []
    members = list(
        Dialogue.objects.filter(
            live=True,
            translation_key__in=Dialogue.objects.filter(pk__in=matched).values("translation_key"),
        ).values("id", "translation_key", "locale_id", "priority", "site_id", "locale_fallback")
    )
    eligible = [
        {**member, "matched": member["id"] in matched}
        for member in members
        if member["site_id"] in (None, info.site_id)
    ]
    chosen = set(_choose_translations(eligible, info.locale_id))
    ordered = sorted(
        (member for member in eligible if member["id"] in chosen),
        key=lambda member: (-member["priority"], member["id"]),
    )
    return [(member["id"], member["priority"]) for member in ordered]


def _choose_translations(members, locale_id):
    """Per translation group, the member to show in ``locale_id``.

    The member in that locale when it is live (and matched); otherwise a matched member that
    allows showing untranslated, in the default locale. ``members`` are dicts with ``id``,
    ``translation_key``, ``locale_id``, ``locale_fallback`` and optionally ``matched``.
    """
    from wagtail.models import Locale

    default_locale_id = _default_locale_id(Locale)
    groups = {}
    for member in members:
        groups.setdefault(str(member["translation_key"]), []).append(member)
    chosen = []
    for group in groups.values():
        local = [m for m in group if locale_id is None or m["locale_id"] == locale_id]
        if local:
            chosen.extend(m["id"] for m in local if m.get("matched", True))
            continue
        chosen.extend(
            m["id"]
            for m in group
            if m.get("matched", True)
            and m["locale_fallback"]
            and m["locale_id"] == default_locale_id
        )
    return chosen


def _default_locale_id(locale_model):
    return cached("default-locale", lambda: locale_model.get_default().pk)


def _compute_url_rule_dialogues():
    from .models import Dialogue

    queryset = (
        Dialogue.objects.filter(live=True, url_rules__isnull=False)
        .distinct()
        .prefetch_related("url_rules")
    )
    translations = {}
    for key, locale_id, site_id in Dialogue.objects.filter(
        live=True, translation_key__in=queryset.values("translation_key")
    ).values_list("translation_key", "locale_id", "site_id"):
        translations.setdefault(str(key), []).append((locale_id, site_id))
    dialogues = []
    for dialogue in queryset:
        rules = [(rule.pattern, rule.exclude) for rule in dialogue.url_rules.all()]
        dialogues.append(
            {
                "id": dialogue.pk,
                "translation_key": str(dialogue.translation_key),
                "locale_id": dialogue.locale_id,
                "locale_fallback": dialogue.locale_fallback,
                "priority": dialogue.priority,
                "site_id": dialogue.site_id,
                "rules": rules,
                "includes": any(not exclude for _, exclude in rules),
                # (locale id, site id) of every live member of its translation group.
                "translations": translations.get(str(dialogue.translation_key), []),
            }
        )
    return dialogues


def by_slug(slug, locale_id, site_id):
    """Ids (zero or one) of the live dialogue opened by ``slug`` on a page in ``locale_id``.

    Explicitly opened dialogues skip page targeting, but not their site, nor the choice of the
    translation for the page's locale.
    """

    def compute():
        from .models import Dialogue

        translation_keys = Dialogue.objects.filter(slug=slug, live=True).values("translation_key")
        return list(
            Dialogue.objects.filter(live=True, translation_key__in=translation_keys).values(
                "id", "translation_key", "locale_id", "site_id", "locale_fallback", "slug"
            )
        )

    members = cached(f"slug:{slug}", compute)
    eligible = [m for m in members if m["site_id"] in (None, site_id)]
    return _choose_translations(eligible, locale_id)[:1]


def site_enabled(site_id):
    """Whether the chat is switched on for a site (its ChatSettings; on when never set)."""
    if site_id is None:
        return True

    def compute():
        from .models import ChatSettings

        row = ChatSettings.objects.filter(site_id=site_id).values_list("enabled", flat=True)
        # Reading must not create the row (BaseSiteSetting.for_site would).
        return next(iter(row), True)

    return cached(f"enabled:{site_id}", compute)


def site_id_for_request(request):
    """The Wagtail site a request is for (cached per host), or None."""
    from wagtail.models import Site

    def compute():
        site = Site.find_for_request(request)
        return site.pk if site else None

    return cached(f"host:{request.get_host().lower()}", compute)


def locale_id_for_language(language_code):
    """The id of the Wagtail locale for a language code (cached), or the default locale's."""
    from wagtail.models import Locale

    def compute():
        locale = Locale.objects.filter(language_code=language_code).first()
        return locale.pk if locale else _default_locale_id(Locale)

    return cached(f"language:{language_code}", compute)


def language_for_locale(locale_id):
    """The language code of a Wagtail locale (cached), or None when it no longer exists."""
    from wagtail.models import Locale

    def compute():
        return Locale.objects.filter(pk=locale_id).values_list("language_code", flat=True).first()

    return cached(f"locale:{locale_id}", compute)
