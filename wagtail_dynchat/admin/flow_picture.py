"""A dialogue's funnel drawn on its flow: a lane per branch, a box per card with its numbers, and
arrows from choices, conditions and jumps to the branches they lead to.

Three pure steps (no database): :func:`figures` merges a flow (the engine's JSON, read with
:mod:`wagtail_dynchat.engine.flow`) with :meth:`Report.funnel
<wagtail_dynchat.reports.metrics.Report.funnel>` output into per-card figures in flow order,
which the report's table and exports read too; :func:`lay_out` places them; :func:`render` writes
the layout as SVG, escaping every text.

Arrows never cross a box: each leaves its port to the right, climbs the gutter beside its lane
on its own vertical track, crosses a band above the lane headers on a horizontal track, and drops
into the header of its target lane. The band's tracks are packed, so arrows that do not overlap
share one, which keeps the band short for wide flows.
"""

import bisect
import dataclasses
import html
import re

from django.utils.formats import get_format, number_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..engine import flow as flow_reader
from .charts import format_count

TYPE_LABELS = {
    "message": gettext_lazy("Message"),
    "question": gettext_lazy("Question"),
    "capture": gettext_lazy("Information capture"),
    "goal": gettext_lazy("Goal"),
    "document": gettext_lazy("Document"),
    "meeting": gettext_lazy("Meeting"),
    "condition": gettext_lazy("Condition"),
    "jump": gettext_lazy("Jump"),
}
#: Cards the rollups count (they leave events or wait for an answer); messages and jumps leave
#: no trace, so they have no numbers.
COUNTED_TYPES = flow_reader.INPUT_TYPES | {"goal", "document", "condition"}

# Geometry, in CSS pixels at the admin's 12px text.
COLUMN_WIDTH = 240
PADDING = 10
CHAR_WIDTH = 6.6
CHARS = int((COLUMN_WIDTH - 2 * PADDING) / CHAR_WIDTH)
LINE = 16
PORT_LINE = 18
BAR_HEIGHT = 6
CARD_GAP = 12
HEADER_HEIGHT = 44
MARGIN = 16
TRACK = 7
GUTTER_PADDING = 10
GUTTER_MIN = 40
# Where arrows drop into a lane's header, from its left edge.
ENTRY = 24
TAG = re.compile(r"<[^>]*>")


def percent(rate):
    """A rate (0 to 1, or None) as a short percentage for people."""
    if rate is None:
        return "\N{EN DASH}"
    value = rate * 100
    if 0 < value < 1:
        return "<1%"
    return f"{number_format(round(value), decimal_pos=0, force_grouping=True)}%"


def _share(part, whole):
    return round(part / whole, 4) if whole else None


# -- figures: the flow and the funnel merged --------------------------------------------------


@dataclasses.dataclass
class Exit:
    """Where a card can send the visitor: a question's choice, a condition's outcome, a jump.

    ``target`` is a branch key ("" continues with the next card). A choice has the number of
    times it was picked and its share of the card's picks; ``in_flow`` is False for choices
    counted in the period but no longer in the flow.
    """

    kind: str  # "choice", "match", "otherwise" or "jump"
    label: str
    target: str = ""
    value: str = ""
    count: int | None = None
    share: float | None = None
    in_flow: bool = True

    @property
    def share_text(self):
        return percent(self.share)


@dataclasses.dataclass
class CardFigures:
    """One card with its funnel numbers."""

    card: str
    type: str
    label: str
    branch: str
    branch_name: str
    in_flow: bool = True
    reached: int = 0
    answered: int = 0
    dropped: int = 0
    drop_rate: float | None = None
    exits: list = dataclasses.field(default_factory=list)

    @property
    def type_label(self):
        return TYPE_LABELS.get(self.type, self.type or _("Card"))

    @property
    def counted(self):
        """Whether reports count this card at all."""
        return self.type in COUNTED_TYPES or not self.in_flow

    @property
    def waits(self):
        """Whether the card waits for the visitor, and so can be answered or dropped at."""
        return self.type in flow_reader.INPUT_TYPES or not self.in_flow

    @property
    def choices(self):
        return [exit_ for exit_ in self.exits if exit_.kind == "choice"]

    @property
    def drop_rate_text(self):
        return percent(self.drop_rate)


@dataclasses.dataclass
class BranchFigures:
    key: str
    name: str
    cards: list


@dataclasses.dataclass
class FlowFigures:
    """A flow's branches with the figures of their cards, and the counted cards no longer in it."""

    branches: list
    removed: list

    def cards(self):
        """The counted cards, each once, in flow order, then those no longer in the flow: the
        rows of the report's table and exports."""
        seen = set()
        rows = []
        for branch in self.branches:
            for card in branch.cards:
                if card.counted and card.card not in seen:
                    seen.add(card.card)
                    rows.append(card)
        return rows + self.removed

    @property
    def max_reached(self):
        return max((card.reached for card in self.cards()), default=0)

    @property
    def card_count(self):
        return sum(len(branch.cards) for branch in self.branches)


def card_text(card):
    """A card's text for people: its name, title or rich text without tags.

    The compiled rich text is the admin's own sanitised HTML, so dropping its tags with a
    pattern is enough (and much quicker than an HTML parser); the text is escaped again
    wherever it is shown.
    """
    for name in ("name", "title", "html"):
        text = flow_reader.text(card.get(name))
        if text:
            return " ".join(html.unescape(TAG.sub(" ", text)).split())
    return ""


def _choice_exits(card, counted):
    """A question's choices in flow order with their counts, then counted choices the flow no
    longer has. Picks are matched by stored value, as the engine records them."""
    remaining = list(counted)
    total = sum(choice["count"] for choice in remaining)
    exits = []
    for choice in flow_reader.choices(card):
        value = flow_reader.choice_value(choice)
        label = flow_reader.text(choice.get("label"))
        found = next((c for c in remaining if c["value"] == value), None)
        if found is None:
            found = next((c for c in remaining if not c["value"] and c["label"] == label), None)
        if found is not None:
            remaining.remove(found)
        picked = found["count"] if found else 0
        exits.append(
            Exit(
                "choice",
                label or value,
                target=flow_reader.target(choice),
                value=value,
                count=picked,
                share=_share(picked, total),
            )
        )
    for choice in remaining:
        exits.append(
            Exit(
                "choice",
                choice["label"] or choice["value"],
                value=choice["value"],
                count=choice["count"],
                share=_share(choice["count"], total),
                in_flow=False,
            )
        )
    return exits


def _exits(card, counted_choices):
    card_type = flow_reader.card_type(card)
    if card_type == "question":
        return _choice_exits(card, counted_choices)
    if card_type == "condition":
        return [
            Exit("match", _("Matches"), target=flow_reader.target(card)),
            Exit("otherwise", _("Otherwise"), target=flow_reader.otherwise(card)),
        ]
    if card_type == "jump":
        return [Exit("jump", _("Go to"), target=flow_reader.target(card))]
    return []


def _numbers(found):
    return {name: found[name] for name in ("reached", "answered", "dropped", "drop_rate") if found}


def figures(flow, funnel):
    """Merge a flow and a funnel (``Report.funnel()``) into :class:`FlowFigures`.

    Every card of the flow is kept (those reports do not count have no numbers); funnel cards
    the flow no longer has come in ``removed``, with their choices.
    """
    by_card = {card["card"]: card for card in (funnel or {}).get("cards", [])}
    placed = set()
    branches = []
    for branch in flow_reader.branches(flow):
        key, name = flow_reader.key(branch), flow_reader.text(branch.get("name"))
        cards = []
        for card in flow_reader.cards(branch):
            card_id = flow_reader.card_id(card)
            found = by_card.get(card_id)
            placed.add(card_id)
            cards.append(
                CardFigures(
                    card=card_id,
                    type=flow_reader.card_type(card),
                    label=card_text(card) or (found or {}).get("label", ""),
                    branch=key,
                    branch_name=name,
                    exits=_exits(card, (found or {}).get("choices", [])),
                    **_numbers(found),
                )
            )
        branches.append(BranchFigures(key, name, cards))
    removed = []
    for card_id, found in by_card.items():
        if card_id in placed:
            continue
        choices = found.get("choices", [])
        total = sum(choice["count"] for choice in choices)
        removed.append(
            CardFigures(
                card=card_id,
                type=found.get("type", ""),
                label=found.get("label", ""),
                branch="",
                branch_name="",
                in_flow=False,
                exits=[
                    Exit(
                        "choice",
                        choice["label"] or choice["value"],
                        value=choice["value"],
                        count=choice["count"],
                        share=_share(choice["count"], total),
                        in_flow=False,
                    )
                    for choice in choices
                ],
                **_numbers(found),
            )
        )
    return FlowFigures(branches, removed)


# -- layout ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Port:
    """A row of a box that an exit leaves from (with an arrow when it leads to a branch)."""

    exit: Exit
    text: str
    count_text: str
    title: str
    y: float = 0
    arrow: bool = False

    @property
    def text_y(self):
        return self.y + 4


@dataclasses.dataclass
class Box:
    card: CardFigures
    type_label: str
    short_label: str
    reached_text: str
    numbers_text: str
    title: str
    height: float
    ports: list
    x: float = 0
    y: float = 0
    width: float = COLUMN_WIDTH
    bar_width: float = 0
    dropped_width: float = 0

    # Baselines and the bar, from the box's top (the template adds ``y``).
    @property
    def type_y(self):
        return self.y + PADDING + 10

    @property
    def label_y(self):
        return self.type_y + LINE

    @property
    def numbers_y(self):
        return (self.label_y if self.short_label else self.type_y) + LINE

    @property
    def bar_y(self):
        return (self.numbers_y if self.numbers_text else self.numbers_y - LINE) + 6

    @property
    def text_x(self):
        return self.x + PADDING

    @property
    def right_x(self):
        return self.x + self.width - PADDING

    @property
    def bar_max_width(self):
        return self.width - 2 * PADDING

    @property
    def dropped_x(self):
        return self.text_x + self.bar_width - self.dropped_width


@dataclasses.dataclass
class Lane:
    key: str
    heading: str
    subheading: str
    title: str
    boxes: list
    start: bool = False
    removed: bool = False
    x: float = 0
    y: float = 0
    width: float = COLUMN_WIDTH
    header_height: float = HEADER_HEIGHT

    @property
    def heading_y(self):
        return self.y + 18

    @property
    def subheading_y(self):
        return self.y + 34

    @property
    def text_x(self):
        return self.x + PADDING

    @property
    def height(self):
        return self.header_height + sum(box.height + CARD_GAP for box in self.boxes)


@dataclasses.dataclass
class Arrow:
    d: str
    title: str


@dataclasses.dataclass
class FlowPicture:
    id: str
    title: str
    description: str
    lanes: list
    arrows: list
    width: float = 0
    height: float = 0


class _Words:
    """The picture's phrases and number format, looked up once per picture: on a slow host a
    translation or format lookup costs as much as laying out a whole box."""

    def __init__(self):
        self.types = {name: str(label) for name, label in TYPE_LABELS.items()}
        self.card = _("Card")
        self.reached = _("%(count)s reached")
        self.numbers = _("%(answered)s answered · %(dropped)s dropped (%(rate)s)")
        self.removed = _("%(label)s (removed)")
        self.removed_title = _("%(label)s: no longer in the flow")
        self.continues = _("%(label)s: continues with the next card")
        self.missing = _("%(label)s → %(key)s (missing)")
        self.missing_title = _("%(label)s: there is no branch “%(key)s”")
        self.goes_to = _("%(label)s: goes to branch “%(key)s”")
        self._separator = get_format("THOUSAND_SEPARATOR")
        self._grouping = get_format("NUMBER_GROUPING")

    def type_label(self, card_type):
        return self.types.get(card_type, card_type or self.card)

    def count(self, value):
        if self._grouping != 3 or not isinstance(value, int):
            return format_count(value)
        return f"{value:,}".replace(",", self._separator)

    def percent(self, rate):
        if rate is None or 0 < rate < 0.01:
            return percent(rate)
        return f"{self.count(round(rate * 100))}%"


def _fit(text, chars):
    """``text`` cut to ``chars`` characters with an ellipsis (boxes have a fixed width)."""
    chars = max(chars, 4)
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def _port(exit_, keys, words, *, card_in_flow=True):
    count_text = ""
    if exit_.kind == "choice":
        count_text = f"{words.count(exit_.count or 0)} · {words.percent(exit_.share)}"
    names = {"label": exit_.label, "key": exit_.target}
    if not exit_.in_flow:
        title = words.removed_title % names
        # In the lane of removed cards, saying it of every choice would be noise.
        text = words.removed % names if card_in_flow else exit_.label
    elif not exit_.target:
        text = f"{exit_.label} ↓"
        title = words.continues % names
    elif exit_.target not in keys:
        text = words.missing % names
        title = words.missing_title % names
    else:
        text = f"{exit_.label} → {exit_.target}"
        title = words.goes_to % names
    if count_text:
        title = f"{title} ({count_text})"
    chars = CHARS - (len(count_text) + 2 if count_text else 0)
    return Port(
        exit_,
        _fit(text, chars),
        count_text,
        title,
        arrow=exit_.in_flow and exit_.target in keys,
    )


def _box(card, keys, max_reached, words):
    ports = [_port(exit_, keys, words, card_in_flow=card.in_flow) for exit_ in card.exits]
    reached_text = ""
    numbers_text = ""
    if card.counted:
        reached_text = words.reached % {"count": words.count(card.reached)}
        if card.waits:
            numbers_text = words.numbers % {
                "answered": words.count(card.answered),
                "dropped": words.count(card.dropped),
                "rate": words.percent(card.drop_rate),
            }
    type_label = words.type_label(card.type)
    short_label = _fit(card.label, CHARS)
    title = f"{type_label}: {card.label}" if card.label else type_label
    if reached_text:
        title = f"{title}. {reached_text}" + (f", {numbers_text}" if numbers_text else "")
    height = PADDING + LINE  # the type row
    if short_label:
        height += LINE
    if numbers_text:
        height += LINE
    if card.counted:
        height += BAR_HEIGHT + 6
    height += len(ports) * PORT_LINE + PADDING
    box = Box(card, type_label, short_label, reached_text, numbers_text, title, height, ports)
    if card.counted and max_reached:
        box.bar_width = round(box.bar_max_width * card.reached / max_reached, 1)
        box.dropped_width = round(
            box.bar_max_width * min(card.dropped, card.reached) / max_reached, 1
        )
    return box


def _lanes(flow_figures, words):
    keys = flow_reader.branch_keys([{"key": branch.key} for branch in flow_figures.branches])
    max_reached = flow_figures.max_reached
    lanes = []
    for index, branch in enumerate(flow_figures.branches):
        subheading = branch.name
        if index == 0:
            start = _("Start")
            subheading = start
            if branch.name and branch.name.casefold() != start.casefold():
                subheading = _("Start · %(name)s") % {"name": branch.name}
        lanes.append(
            Lane(
                key=branch.key,
                heading=_fit(branch.key or "?", CHARS),
                subheading=_fit(subheading, CHARS + 4),
                title=_("Branch %(key)s: %(name)s") % {"key": branch.key, "name": branch.name},
                boxes=[_box(card, keys, max_reached, words) for card in branch.cards],
                start=index == 0,
            )
        )
    if flow_figures.removed:
        lanes.append(
            Lane(
                key="",
                heading=_fit(_("No longer in the flow"), CHARS),
                subheading=_fit(_("Counted in this period"), CHARS + 4),
                title=_("Cards counted in this period that the flow no longer has"),
                boxes=[_box(card, {}, max_reached, words) for card in flow_figures.removed],
                removed=True,
            )
        )
    return lanes, keys


def _pack_tracks(spans):
    """Give each ``(left, right)`` span a horizontal track (0 is the highest) where it overlaps
    no other span.

    Longest first, from the top: a long span high up is crossed by fewer of the arrows that
    climb to, or drop from, the tracks below it.
    """
    taken = []  # per track, its spans sorted by left end
    tracks = [0] * len(spans)
    for index in sorted(range(len(spans)), key=lambda i: spans[i][0] - spans[i][1]):
        left, right = spans[index]
        for track, used in enumerate(taken):
            at = bisect.bisect(used, (left, right))
            clear_before = at == 0 or used[at - 1][1] + TRACK < left
            clear_after = at == len(used) or right + TRACK < used[at][0]
            if clear_before and clear_after:
                used.insert(at, (left, right))
                tracks[index] = track
                break
        else:
            tracks[index] = len(taken)
            taken.append([(left, right)])
    return tracks, len(taken)


def lay_out(flow_figures, *, title, picture_id="dynchat-flow"):
    """Place :class:`FlowFigures` as a :class:`FlowPicture`, or None when there is no card."""
    lanes, keys = _lanes(flow_figures, _Words())
    if not any(lane.boxes for lane in lanes):
        return None

    # Boxes top to bottom within their lane (relative to the lanes' top for now).
    for lane in lanes:
        y = lane.header_height + CARD_GAP
        for box in lane.boxes:
            box.y = y
            y += box.height + CARD_GAP

    # Each lane's outgoing arrows, top to bottom: lower ports climb further out, so the
    # arrows of one gutter never cross each other.
    outgoing = []
    for lane in lanes:
        ports = []
        for box in lane.boxes:
            for row, port in enumerate(box.ports):
                port.y = box.y + box.height - PADDING - (len(box.ports) - row - 0.5) * PORT_LINE
                if port.arrow:
                    ports.append((box, port))
        outgoing.append(ports)

    x = MARGIN
    for lane, ports in zip(lanes, outgoing, strict=True):
        lane.x = x
        x += lane.width + max(GUTTER_MIN, 2 * GUTTER_PADDING + len(ports) * TRACK)
    width = x

    routes = []
    for lane, ports in zip(lanes, outgoing, strict=True):
        for slot, (box, port) in enumerate(ports):
            climb_x = lane.x + lane.width + GUTTER_PADDING + slot * TRACK
            entry_x = lanes[keys[port.exit.target]].x + ENTRY
            routes.append((box, port, climb_x, entry_x))
    tracks, track_count = _pack_tracks(
        [(min(climb, entry), max(climb, entry)) for _box, _port, climb, entry in routes]
    )
    band = (track_count + 1) * TRACK if routes else 0
    top = MARGIN + band

    for lane in lanes:
        lane.y = top
        for box in lane.boxes:
            box.x = lane.x
            box.y += top
            for port in box.ports:
                port.y += top
    arrows = []
    for (box, port, climb_x, entry_x), track in zip(routes, tracks, strict=True):
        track_y = MARGIN + TRACK + track * TRACK
        arrows.append(
            Arrow(
                f"M{box.x + box.width:g},{port.y:g} H{climb_x:g} V{track_y:g} "
                f"H{entry_x:g} V{top - 2:g}",
                f"{box.card.label or box.type_label}: {port.title}",
            )
        )
    height = top + max(lane.height for lane in lanes) + MARGIN
    return FlowPicture(
        id=picture_id,
        title=title,
        description=describe(flow_figures),
        lanes=lanes,
        arrows=arrows,
        width=round(width),
        height=round(height),
    )


def describe(flow_figures):
    """What the picture shows, in words (its ``<desc>``)."""
    branches = len(flow_figures.branches)
    cards = flow_figures.card_count
    parts = [
        ngettext("%(count)s branch", "%(count)s branches", branches) % {"count": branches}
        + ", "
        + ngettext("%(count)s card.", "%(count)s cards.", cards) % {"count": cards}
    ]
    counted = flow_figures.cards()
    if counted:
        first = counted[0]
        parts.append(
            _("%(count)s conversations reached the first counted card, “%(label)s”.")
            % {"count": format_count(first.reached), "label": first.label or first.type_label}
        )
        worst = max(counted, key=lambda card: card.dropped)
        if worst.dropped:
            parts.append(
                _("Most conversations were dropped at “%(label)s”: %(count)s (%(rate)s).")
                % {
                    "label": worst.label or worst.type_label,
                    "count": format_count(worst.dropped),
                    "rate": worst.drop_rate_text,
                }
            )
    parts.append(_("The table below lists every number."))
    return " ".join(parts)


def escape(text):
    """``text`` (a string or a lazy translation) escaped for markup; the standard library's
    escaping, as Django's own adds a wrapper's cost to each of thousands of calls."""
    return html.escape(str(text))


def _n(value):
    # Coordinates keep a decimal point whatever the active language.
    return f"{value:g}"


def _text(classname, x, y, text, *, end=False):
    anchor = ' text-anchor="end"' if end else ""
    return f'<text class="{classname}" x="{_n(x)}" y="{_n(y)}"{anchor}>{escape(text)}</text>'


def _rect(classname, x, y, width, height):
    radius = 2 if height <= BAR_HEIGHT else 4
    return (
        f'<rect class="{classname}" x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
        f'height="{_n(height)}" rx="{radius}"/>'
    )


def _box_markup(box):
    card = box.card
    parts = [
        f'<g class="dynchat-flow-card dynchat-flow-card--{escape(card.type or "card")}" '
        f'data-card="{escape(card.card)}"><title>{escape(box.title)}</title>',
        _rect("dynchat-flow-box", box.x, box.y, box.width, box.height),
        _text("dynchat-flow-type", box.text_x, box.type_y, box.type_label),
    ]
    if box.reached_text:
        parts.append(
            _text("dynchat-flow-reached", box.right_x, box.type_y, box.reached_text, end=True)
        )
    if box.short_label:
        parts.append(_text("dynchat-flow-label", box.text_x, box.label_y, box.short_label))
    if box.numbers_text:
        parts.append(_text("dynchat-flow-numbers", box.text_x, box.numbers_y, box.numbers_text))
    if card.counted:
        bar = ("dynchat-flow-bar-track", box.text_x, box.bar_y, box.bar_max_width, BAR_HEIGHT)
        parts.append(_rect(*bar))
        parts.append(_rect("dynchat-flow-bar", box.text_x, box.bar_y, box.bar_width, BAR_HEIGHT))
        if box.dropped_width:
            dropped = (box.dropped_x, box.bar_y, box.dropped_width, BAR_HEIGHT)
            parts.append(_rect("dynchat-flow-bar-dropped", *dropped))
    for port in box.ports:
        arrow_class = " dynchat-flow-port--arrow" if port.arrow else ""
        parts.append(
            f'<g class="dynchat-flow-port{arrow_class}" data-target="{escape(port.exit.target)}">'
            f"<title>{escape(port.title)}</title>"
        )
        parts.append(_text("dynchat-flow-port-label", box.text_x, port.text_y, port.text))
        if port.count_text:
            count_at = (box.right_x, port.text_y, port.count_text)
            parts.append(_text("dynchat-flow-port-count", *count_at, end=True))
        parts.append("</g>")
    parts.append("</g>")
    return parts


def render(picture):
    """The SVG markup of a :class:`FlowPicture` ("" for None).

    Written with f-strings rather than a template, as a 10 by 10 flow has thousands of
    elements: every text goes through ``escape``, every number through ``_n``, and class names
    are the module's own.
    """
    if picture is None:
        return ""
    pid = escape(picture.id)
    width, height = _n(picture.width), _n(picture.height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dynchat-flow-picture" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{pid}-title {pid}-desc">',
        f'<title id="{pid}-title">{escape(picture.title)}</title>',
        f'<desc id="{pid}-desc">{escape(picture.description)}</desc>',
        f'<defs><marker id="{pid}-arrowhead" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto">'
        '<path class="dynchat-flow-arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>',
        '<g class="dynchat-flow-arrows">',
    ]
    for arrow in picture.arrows:
        parts.append(
            f'<path class="dynchat-flow-arrow" d="{escape(arrow.d)}" '
            f'marker-end="url(#{pid}-arrowhead)"><title>{escape(arrow.title)}</title></path>'
        )
    parts.append("</g>")
    for lane in picture.lanes:
        classes = "dynchat-flow-lane"
        if lane.start:
            classes += " dynchat-flow-lane--start"
        if lane.removed:
            classes += " dynchat-flow-lane--removed"
        parts.append(
            f'<g class="{classes}" data-branch="{escape(lane.key)}">'
            f"<title>{escape(lane.title)}</title>"
        )
        parts.append(_rect("dynchat-flow-header", lane.x, lane.y, lane.width, lane.header_height))
        parts.append(_text("dynchat-flow-heading", lane.text_x, lane.heading_y, lane.heading))
        parts.append(
            _text("dynchat-flow-subheading", lane.text_x, lane.subheading_y, lane.subheading)
        )
        for box in lane.boxes:
            parts.extend(_box_markup(box))
        parts.append("</g>")
    parts.append("</svg>")
    # Safe: built above from escaped texts, formatted numbers and fixed markup only.
    return mark_safe("".join(parts))
