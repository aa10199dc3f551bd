"""Publish-time structural checks of a flow (:func:`check_flow`).

The admin also runs them on drafts to put errors on the offending block, so nothing here may
assume a complete flow: missing keys, None values and empty lists yield problems, never crashes.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from . import flow as f
from .rules import iter_rules, validate_rule
from .types import Problem


@dataclass
class _Branch:
    """What the checks need to know about one branch."""

    cards: list[Mapping[str, Any]]
    # Cards from this index on never run (they follow a jump, or a question that always leaves).
    live: int
    # Branch indexes the live cards can send the visitor to.
    targets: set[int]
    # (card index, field, target branch) of the ways out of this branch that the visitor can
    # take without answering anything: jumps, and conditions (they test facts, they ask nothing).
    silent: list[tuple[int, str, int]]


def _asks(card: Mapping[str, Any]) -> bool:
    """Whether the card always waits for the visitor when reached."""
    kind = f.card_type(card)
    if kind == "question":
        return True
    # skip_if_known may pass over the card, so it cannot be counted on to stop a loop.
    return kind == "capture" and not (card.get("policy") == "skip_if_known" and f.field_name(card))


def _check_keys(all_branches, problems: list[Problem]) -> set[int]:
    """Key problems; returns the branches they concern (already flagged, so not 'unreachable')."""
    seen: set[str] = set()
    flagged = set()
    for b, branch in enumerate(all_branches):
        key = f.key(branch)
        if not key:
            flagged.add(b)
            problems.append(
                Problem(b, None, None, "key", "missing_key", _("Give this branch a key."))
            )
        elif key in seen:
            flagged.add(b)
            message = _(
                "Another branch already uses the key “%(key)s”. Branch keys must be unique."
            ) % {"key": key}
            problems.append(Problem(b, None, None, "key", "duplicate_key", message))
        seen.add(key)
    return flagged


def _dangling(b: int, c: int, choice: int | None, key: str, field: str = "target") -> Problem:
    message = _("No branch has the key “%(key)s”.") % {"key": key}
    return Problem(b, c, choice, field, "dangling_target", message)


def _check_question(b, c, card, keys, problems) -> set[int]:
    choices = f.choices(card)
    if not choices:
        problems.append(Problem(b, c, None, "choices", "no_choices", _("Add at least one choice.")))
    if card.get("poke") and (b, c) != (0, 0):
        message = _("Only a question that opens the first branch can poke visitors.")
        problems.append(Problem(b, c, None, "poke", "poke", message))
    targets = set()
    for i, choice in enumerate(choices):
        if not f.text(choice.get("label")).strip():
            problems.append(
                Problem(b, c, i, "label", "missing_label", _("Give this choice a label."))
            )
        key = f.target(choice)
        if key and key not in keys:
            problems.append(_dangling(b, c, i, key))
        elif key:
            targets.add(keys[key])
    return targets


def _check_capture(b, c, card, problems) -> None:
    if card.get("input") == "picklist" and not f.options(card):
        message = _("Add at least one option to choose from.")
        problems.append(Problem(b, c, None, "options", "no_options", message))
    low, high = f.number(card.get("min")), f.number(card.get("max"))
    if low is not None and high is not None and low > high:
        message = _("The minimum is greater than the maximum.")
        problems.append(Problem(b, c, None, "min", "bounds", message))


def _check_condition(b, c, card, keys, problems) -> dict[str, int]:
    """Problems of a condition card; returns its valid targets by field."""
    targets = {}
    key = f.target(card)
    if not key:
        message = _("Choose the branch to go to when the rules match.")
        problems.append(Problem(b, c, None, "target", "missing_target", message))
    elif key not in keys:
        problems.append(_dangling(b, c, None, key))
    else:
        targets["target"] = keys[key]
    key = f.otherwise(card)
    if key and key not in keys:
        problems.append(_dangling(b, c, None, key, "otherwise"))
    elif key:
        targets["otherwise"] = keys[key]

    audience = card.get("audience")
    rules = list(iter_rules(audience))
    if not rules:
        message = _("Add at least one rule: without rules the condition always matches.")
        problems.append(Problem(b, c, None, "audience", "no_rules", message))
    for group, index, rule in rules:
        for error in validate_rule(rule):
            message = _("Group %(group)d, rule %(rule)d: %(message)s") % {
                "group": group + 1,
                "rule": index + 1,
                "message": error,
            }
            problems.append(Problem(b, c, None, "audience", "invalid_rule", message))
    return targets


def _walk_branch(b: int, branch, keys, problems: list[Problem]) -> _Branch:
    cards = f.cards(branch)
    info = _Branch(cards=cards, live=len(cards), targets=set(), silent=[])
    if not cards:
        problems.append(
            Problem(b, None, None, "cards", "empty_branch", _("This branch has no cards."))
        )
    asked = False
    for c, card in enumerate(cards):
        live = c < info.live
        kind = f.card_type(card)
        targets: set[int] = set()
        if kind == "question":
            targets = _check_question(b, c, card, keys, problems)
            choices = f.choices(card)
            if live and choices and all(f.target(ch) for ch in choices) and c + 1 < len(cards):
                info.live = c + 1
                message = _(
                    "Every choice of the question above leads to another branch, "
                    "so this card is never shown."
                )
                problems.append(Problem(b, c + 1, None, None, "after_question", message))
        elif kind == "capture":
            _check_capture(b, c, card, problems)
        elif kind == "jump":
            key = f.target(card)
            if not key:
                message = _("Choose the branch to jump to.")
                problems.append(Problem(b, c, None, "target", "missing_target", message))
            elif key not in keys:
                problems.append(_dangling(b, c, None, key))
            else:
                targets = {keys[key]}
                if live and not asked:
                    info.silent.append((c, "target", keys[key]))
            if live and c + 1 < len(cards):
                info.live = c + 1
                message = _("This card follows a jump, so it is never shown.")
                problems.append(Problem(b, c + 1, None, None, "after_jump", message))
        elif kind == "condition":
            by_field = _check_condition(b, c, card, keys, problems)
            targets = set(by_field.values())
            if live and not asked:
                info.silent.extend((c, field, target) for field, target in by_field.items())
            if live and f.target(card) and f.otherwise(card) and c + 1 < len(cards):
                info.live = c + 1
                message = _(
                    "The condition above leads elsewhere whether or not it matches, "
                    "so this card is never shown."
                )
                problems.append(Problem(b, c + 1, None, None, "after_condition", message))
        if live:
            info.targets |= targets
            asked = asked or _asks(card)
    return info


def _reachable(start: int, edges: Mapping[int, set[int]]) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def check_flow(flow: Any) -> list[Problem]:
    """Return the structural problems that block publishing ``flow`` (empty when it is sound).

    Problems come as key problems, then each branch's card problems in order, then the ones only
    the whole graph shows (unreachable branches, loops). A flow without any branch gives a single
    ``no_branches`` problem with ``branch`` None.
    """
    all_branches = f.branches(flow)
    if not all_branches:
        message = _("Add a first branch: every conversation starts there.")
        return [Problem(None, None, None, "branches", "no_branches", message)]

    problems: list[Problem] = []
    flagged = _check_keys(all_branches, problems)
    keys = f.branch_keys(all_branches)
    infos = [_walk_branch(b, branch, keys, problems) for b, branch in enumerate(all_branches)]

    reachable = _reachable(0, {b: info.targets for b, info in enumerate(infos)})
    for b in range(len(all_branches)):
        if b not in reachable and b not in flagged:
            message = _("No choice or jump leads to this branch, so visitors never see it.")
            problems.append(Problem(b, None, None, "key", "unreachable", message))

    # A condition's way out counts even though it depends on facts: facts do not change until
    # the visitor answers something, so a loop that is taken once is taken forever.
    silent = {b: {target for _c, _f, target in info.silent} for b, info in enumerate(infos)}
    for b, info in enumerate(infos):
        for card, field, target in info.silent:
            if b in _reachable(target, silent):
                problems.append(Problem(b, card, None, field, "loop", _loop_message(info, card)))
    return problems


def _loop_message(info: _Branch, card: int) -> str:
    if f.card_type(info.cards[card]) == "condition":
        return _(
            "This condition can send visitors round in a circle without asking them anything. "
            "Add a question or a capture on the way, or lead elsewhere."
        )
    return _(
        "This jump sends visitors round in a circle without asking them anything. "
        "Add a question or a capture on the way, or jump elsewhere."
    )
