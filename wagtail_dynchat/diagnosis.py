"""Which dialogue would show on a page to a given visitor, and why every other one would not.

The same targeting index, runtime cache and rule engine as bootstrap, asked for reasons instead of
an answer. Used by the admin's "Which dialogue would show here?" tool and by dialogue previews.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from . import engine, targeting
from .attributes import attribute_labels
from .models import Dialogue
from .snapshots import runtime


@dataclass
class Verdict:
    dialogue: Dialogue
    shown: bool
    reason: str
    # engine.explain() output when the audience decided it, for a rule-by-rule table.
    rules: list = field(default_factory=list)


@dataclass
class Diagnosis:
    winner: Dialogue | None
    verdicts: list
    switched_off: bool = False


def diagnose(info, url, facts):
    """Every live dialogue's verdict for a visitor with ``facts`` on the page ``info``.

    ``info`` is a :class:`targeting.PageInfo`. Candidates come first, in priority order, then the
    dialogues that don't target the page at all.
    """
    if not targeting.site_enabled(info.site_id):
        return Diagnosis(None, [], switched_off=True)
    candidate_ids = targeting.candidates(info, url)
    entries = runtime(candidate_ids)
    live = Dialogue.objects.filter(live=True).select_related("locale", "site")
    by_id = {dialogue.pk: dialogue for dialogue in live}
    labels = attribute_labels()
    verdicts, winner = [], None
    for pk in candidate_ids:
        entry, dialogue = entries.get(pk), by_id.get(pk)
        if entry is None or dialogue is None:
            continue
        if not engine.evaluate(entry["audience"], facts):
            verdicts.append(
                Verdict(
                    dialogue,
                    False,
                    _("Its audience doesn't include this visitor: %(audience)s.")
                    % {"audience": engine.summarise(entry["audience"], labels)},
                    engine.explain(entry["audience"], facts),
                )
            )
        elif winner is None:
            winner = dialogue
            verdicts.append(Verdict(dialogue, True, _("Shown: the highest priority that matches.")))
        else:
            verdicts.append(
                Verdict(
                    dialogue,
                    False,
                    _("It matches, but “%(winner)s” has a higher priority (%(priority)s).")
                    % {"winner": winner.name, "priority": winner.priority},
                )
            )
    for dialogue in sorted(by_id.values(), key=lambda d: (-d.priority, d.name)):
        if dialogue.pk not in candidate_ids:
            verdicts.append(Verdict(dialogue, False, _not_targeted_reason(dialogue, info)))
    return Diagnosis(winner, verdicts)


def _not_targeted_reason(dialogue, info):
    if dialogue.site_id not in (None, info.site_id):
        return _("It is limited to another site.")
    if dialogue.locale_id != info.locale_id:
        return _(
            "It is in another language (%(language)s), and a translation or no fallback applies."
        ) % {"language": dialogue.locale.get_display_name()}
    return _("Its targeting doesn't include this page or address.")
