"""One-line descriptions of where, to whom and when a dialogue shows, for admin listings:
"Pricing and descendants · anonymous visitors · after 20 s or 50 % scroll"."""

from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import engine
from .attributes import attribute_labels


def where(dialogue):
    """Pages, page types and URL rules, exclusions last. Reads prefetched relations."""
    parts = []
    for target in dialogue.targets.all():
        if target.exclude:
            continue
        title = target.page.title if target.page else _("(deleted page)")
        parts.append(
            _("%(page)s and descendants") % {"page": title}
            if target.scope == "descendants"
            else title
        )
    parts.extend(
        _("every %(type)s") % {"type": content_type.name}
        for content_type in dialogue.page_types.all()
    )
    parts.extend(rule.pattern for rule in dialogue.url_rules.all() if not rule.exclude)
    text = get_text_list(parts, _("and")) if parts else _("no pages (links and embeds only)")
    excluded = [t.page.title for t in dialogue.targets.all() if t.exclude and t.page] + [
        rule.pattern for rule in dialogue.url_rules.all() if rule.exclude
    ]
    if excluded:
        text = _("%(pages)s, except %(excluded)s") % {
            "pages": text,
            "excluded": get_text_list(excluded, _("and")),
        }
    if dialogue.site_id:
        text = _("%(pages)s on %(site)s") % {"pages": text, "site": dialogue.site}
    return text


def who(dialogue):
    """The audience in words ("Everyone" without rules)."""
    return engine.summarise(dialogue.compile_audience(), attribute_labels())


def when(dialogue):
    """The triggers in words: "immediately", "after 20 s or 50 % scroll", "only when opened"."""
    texts = [
        trigger_text(trigger)
        for trigger in dialogue.triggers.stream_block.compile(dialogue.triggers)
    ]
    if not texts:
        return _("only when opened by a link, embed or script")
    return get_text_list(texts, _("or"))


def trigger_text(trigger):
    kind = trigger.get("type")
    if kind == "immediately":
        return _("immediately")
    if kind == "time_on_page":
        return _("after %(seconds)s s on the page") % trigger
    if kind == "time_on_site":
        return _("after %(seconds)s s on the site") % trigger
    if kind == "scroll":
        return _("at %(percent)s %% scroll") % trigger
    if kind == "exit_intent":
        return _("on exit intent")
    if kind == "inactivity":
        return (
            ngettext(
                "after %(seconds)s second idle",
                "after %(seconds)s seconds idle",
                trigger["seconds"],
            )
            % trigger
        )
    if kind == "click":
        return _("on click of %(selector)s") % trigger
    return kind


def summary(dialogue):
    """Where · who · when, as one line."""
    return " · ".join((where(dialogue), who(dialogue), when(dialogue)))
