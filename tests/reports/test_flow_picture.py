"""The funnel drawn on the flow: figures merged in flow order, lanes, boxes and routed arrows,
and the SVG they make. Pure functions on hand-written flows and funnels (no database)."""

import itertools
import random
import re
import xml.etree.ElementTree as ET

from django.utils import translation

from wagtail_dynchat.admin import flow_picture
from wagtail_dynchat.admin.flow_picture import CHARS, ENTRY, figures, lay_out, render

SVG = "{http://www.w3.org/2000/svg}"

FLOW = {
    "branches": [
        {
            "key": "start",
            "name": "Opening",
            "cards": [
                {"id": "hello", "type": "message", "html": "<p>Hello &amp; <b>welcome</b></p>"},
                {
                    "id": "ask",
                    "type": "question",
                    "html": "<p>Talk about &lt;script&gt;?</p>",
                    "choices": [
                        {"label": "Yes", "value": "yes", "target": "talk"},
                        # No stored value: the engine records the label.
                        {"label": "No", "value": "", "target": "bye"},
                        {"label": "Later", "value": "later", "target": ""},
                    ],
                },
            ],
        },
        {
            "key": "talk",
            "name": "Talks",
            "cards": [
                {"id": "email", "type": "capture", "html": "<p>Your e-mail?</p>"},
                {"id": "vip", "type": "condition", "target": "bye", "otherwise": ""},
                {"id": "lead", "type": "goal", "name": "Lead", "score": 2},
                {"id": "back", "type": "jump", "target": "start"},
            ],
        },
        {"key": "bye", "name": "Leaves", "cards": [{"id": "ciao", "type": "message"}]},
    ]
}

FUNNEL = {
    "translation_key": None,
    "cards": [
        {
            "card": "ask",
            "type": "question",
            "label": "",
            "reached": 10,
            "answered": 8,
            "dropped": 2,
            "drop_rate": 0.2,
            "choices": [
                {"value": "yes", "label": "Yes", "count": 5},
                {"value": "No", "label": "No", "count": 2},
                {"value": "maybe", "label": "Maybe", "count": 1},
            ],
        },
        {
            "card": "email",
            "type": "capture",
            "label": "",
            "reached": 5,
            "answered": 4,
            "dropped": 1,
            "drop_rate": 0.2,
            "choices": [],
        },
        {
            "card": "lead",
            "type": "goal",
            "label": "Lead",
            "reached": 4,
            "answered": 0,
            "dropped": 0,
            "drop_rate": 0.0,
            "choices": [],
        },
        {
            "card": "gone",
            "type": "question",
            "label": "Old question",
            "reached": 3,
            "answered": 3,
            "dropped": 0,
            "drop_rate": 0.0,
            "choices": [{"value": "a", "label": "A", "count": 3}],
        },
    ],
}


def by_card(picture):
    return {box.card.card: box for lane in picture.lanes for box in lane.boxes}


def lane_of(picture, key):
    return next(lane for lane in picture.lanes if lane.key == key and not lane.removed)


def segments(d):
    """The straight segments of an arrow path written as ``M x,y H x V y …``."""
    tokens = re.findall(r"([MHV])([-\d.]+)(?:,([-\d.]+))?", d)
    x = y = None
    points = []
    for command, first, second in tokens:
        if command == "M":
            x, y = float(first), float(second)
        elif command == "H":
            x = float(first)
        else:
            y = float(first)
        points.append((x, y))
    return list(itertools.pairwise(points))


def test_figures_follow_the_flow_with_the_funnels_numbers():
    merged = figures(FLOW, FUNNEL)
    rows = merged.cards()
    # Counted cards once each, in flow order; messages and jumps leave no trace to count.
    assert [card.card for card in rows] == ["ask", "email", "vip", "lead", "gone"]
    ask = rows[0]
    assert (ask.label, ask.branch, ask.reached, ask.answered, ask.dropped) == (
        "Talk about <script>?",
        "start",
        10,
        8,
        2,
    )
    # Picks are matched by stored value (the label when there is none); a choice nobody
    # picked counts 0, and one the flow no longer has comes last.
    assert [(c.label, c.target, c.count, c.share, c.in_flow) for c in ask.choices] == [
        ("Yes", "talk", 5, 0.625, True),
        ("No", "bye", 2, 0.25, True),
        ("Later", "", 0, 0.0, True),
        ("Maybe", "", 1, 0.125, False),
    ]
    # A card reached by nobody is still listed, with zeros.
    vip = rows[2]
    assert (vip.reached, vip.waits) == (0, False)
    assert [(e.kind, e.target) for e in vip.exits] == [("match", "bye"), ("otherwise", "")]
    lead = rows[3]
    assert (lead.label, lead.reached, lead.waits) == ("Lead", 4, False)
    gone = rows[4]
    assert (gone.in_flow, gone.label, gone.reached) == (False, "Old question", 3)
    assert [(c.label, c.count) for c in gone.choices] == [("A", 3)]
    hello = merged.branches[0].cards[0]
    assert (hello.label, hello.counted) == ("Hello & welcome", False)


def test_a_lane_per_branch_and_a_box_per_card():
    picture = lay_out(figures(FLOW, FUNNEL), title="Funnel")
    assert [(lane.key, lane.removed) for lane in picture.lanes] == [
        ("start", False),
        ("talk", False),
        ("bye", False),
        ("", True),
    ]
    assert [len(lane.boxes) for lane in picture.lanes] == [2, 4, 1, 1]
    lanes_x = [lane.x for lane in picture.lanes]
    assert lanes_x == sorted(lanes_x)
    boxes = by_card(picture)
    assert boxes["ask"].reached_text == "10 reached"
    assert boxes["ask"].numbers_text == "8 answered · 2 dropped (20%)"
    assert boxes["lead"].reached_text == "4 reached"
    assert boxes["lead"].numbers_text == ""  # goals are passed, not answered
    assert boxes["hello"].reached_text == ""  # messages are not counted
    assert [port.text for port in boxes["ask"].ports] == [
        "Yes → talk",
        "No → bye",
        "Later ↓",
        "Maybe (removed)",
    ]
    assert [port.count_text for port in boxes["ask"].ports] == [
        "5 · 62%",
        "2 · 25%",
        "0 · 0%",
        "1 · 12%",
    ]


def test_bars_are_proportional_to_reached_with_the_dropped_part_at_their_end():
    boxes = by_card(lay_out(figures(FLOW, FUNNEL), title="Funnel"))
    ask, email = boxes["ask"], boxes["email"]
    assert ask.bar_width == ask.bar_max_width  # the most reached card fills its bar
    assert email.bar_width == ask.bar_max_width / 2
    assert ask.dropped_width == ask.bar_max_width / 5
    assert ask.dropped_x + ask.dropped_width == ask.text_x + ask.bar_width
    assert boxes["vip"].bar_width == 0


def test_arrows_lead_from_choices_conditions_and_jumps_to_their_branch():
    picture = lay_out(figures(FLOW, FUNNEL), title="Funnel")
    boxes = by_card(picture)
    # Yes → talk, No → bye, the condition's match → bye, the jump → start; "Later",
    # "otherwise" (both continue below) and the removed choice have none.
    assert len(picture.arrows) == 4
    ends = {}
    for arrow in picture.arrows:
        (start, _), *_rest, (_, end) = segments(arrow.d)
        ends[start] = end
    for card, row, target in [("ask", 0, "talk"), ("ask", 1, "bye"), ("vip", 0, "bye")]:
        box = boxes[card]
        start = (box.x + box.width, box.ports[row].y)
        lane = lane_of(picture, target)
        assert ends[start] == (lane.x + ENTRY, lane.y - 2)
    jump = boxes["back"]
    assert ends[(jump.x + jump.width, jump.ports[0].y)] == (
        lane_of(picture, "start").x + ENTRY,
        picture.lanes[0].y - 2,
    )
    titles = [arrow.title for arrow in picture.arrows]
    assert "Talk about <script>?: Yes: goes to branch “talk” (5 · 62%)" in titles


def test_a_missing_branch_is_said_and_gets_no_arrow():
    flow = {
        "branches": [
            {
                "key": "start",
                "cards": [
                    {
                        "id": "q",
                        "type": "question",
                        "html": "<p>?</p>",
                        "choices": [{"label": "Go", "value": "go", "target": "ghost"}],
                    }
                ],
            }
        ]
    }
    picture = lay_out(figures(flow, {"cards": []}), title="t")
    (port,) = by_card(picture)["q"].ports
    assert port.text == "Go → ghost (missing)"
    assert picture.arrows == []


def big_flow(branches=10, cards=10, seed=7):
    """A dense flow: every branch full of questions, conditions and jumps to any branch."""
    rng = random.Random(seed)
    keys = [f"branch-{b}" for b in range(branches)]
    flow, funnel = {"branches": []}, {"cards": []}
    for b, key in enumerate(keys):
        items = []
        for c in range(cards):
            card_id = f"{b}-{c}"
            kind = rng.choice(["message", "question", "question", "capture", "condition", "jump"])
            card = {"id": card_id, "type": kind, "html": f"<p>Card {c} of {key}, long text</p>"}
            if kind == "question":
                card["choices"] = [
                    {"label": f"Choice {i}", "value": f"v{i}", "target": rng.choice(keys)}
                    for i in range(rng.randint(2, 4))
                ]
            if kind in ("condition", "jump"):
                card["target"], card["otherwise"] = rng.choice(keys), rng.choice(keys)
            items.append(card)
            reached = rng.randint(0, 100_000)
            funnel["cards"].append(
                {
                    "card": card_id,
                    "type": kind,
                    "label": "",
                    "reached": reached,
                    "answered": reached // 2,
                    "dropped": reached // 3,
                    "drop_rate": 0.3333,
                    "choices": [
                        {"value": ch["value"], "label": ch["label"], "count": rng.randint(0, 900)}
                        for ch in card.get("choices", [])
                    ],
                }
            )
        flow["branches"].append({"key": key, "name": f"The {key} branch", "cards": items})
    return flow, funnel


def test_a_ten_by_ten_flow_stays_legible():
    flow, funnel = big_flow()
    picture = lay_out(figures(flow, funnel), title="Big")
    boxes = [box for lane in picture.lanes for box in lane.boxes]
    assert len(boxes) == 100
    rects = [(box.x, box.y, box.x + box.width, box.y + box.height) for box in boxes]
    rects += [
        (lane.x, lane.y, lane.x + lane.width, lane.y + lane.header_height) for lane in picture.lanes
    ]
    # Nothing overlaps, and everything is inside the picture.
    for index, (left, top, right, bottom) in enumerate(rects):
        assert 0 < left < right <= picture.width and 0 < top < bottom <= picture.height
        for other in rects[index + 1 :]:
            assert right <= other[0] or other[2] <= left or bottom <= other[1] or other[3] <= top
    # Arrows pass beside boxes and headers, never through them.
    horizontal = []
    for arrow in picture.arrows:
        for (x1, y1), (x2, y2) in segments(arrow.d):
            for left, top, right, bottom in rects:
                inside_x = min(x1, x2) < right - 0.5 and max(x1, x2) > left + 0.5
                inside_y = min(y1, y2) < bottom - 0.5 and max(y1, y2) > top + 0.5
                assert not (inside_x and inside_y), arrow.title
            if y1 == y2 and y1 < picture.lanes[0].y:
                horizontal.append((y1, min(x1, x2), max(x1, x2)))
    # Arrows above the lanes each keep to their own stretch of a track.
    for index, (y, left, right) in enumerate(horizontal):
        for other_y, other_left, other_right in horizontal[index + 1 :]:
            assert y != other_y or right < other_left or other_right < left
    # Every text fits its box; the picture scrolls rather than shrinks.
    texts = [box.short_label for box in boxes] + [p.text for box in boxes for p in box.ports]
    assert max(len(text) for text in texts) <= CHARS
    assert picture.width > 10 * flow_picture.COLUMN_WIDTH


def parse(svg):
    return ET.fromstring(str(svg))


def test_the_svg_is_an_accessible_image_with_everything_escaped():
    flow = {
        "branches": [
            {
                "key": "start",
                "name": "<script>alert('branch')</script>",
                "cards": [
                    {
                        "id": "q",
                        "type": "question",
                        "html": "<p>&lt;script&gt;alert('card')&lt;/script&gt;</p>",
                        "choices": [{"label": "<script>x</script>", "value": "x", "target": ""}],
                    }
                ],
            }
        ]
    }
    funnel = {
        "cards": [
            {
                "card": "q",
                "type": "question",
                "label": "",
                "reached": 1,
                "answered": 1,
                "dropped": 0,
                "drop_rate": 0.0,
                "choices": [{"value": "x", "label": "<script>x</script>", "count": 1}],
            }
        ]
    }
    svg = render(lay_out(figures(flow, funnel), title="<b>Funnel</b>"))
    assert "<script" not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "dynchat-flow-title dynchat-flow-desc"
    assert root.find(f"{SVG}title").text == "<b>Funnel</b>"
    assert root.find(f"{SVG}desc").get("id") == "dynchat-flow-desc"
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert "<script>alert('card')</script>" in texts
    assert "<script>x</script> ↓" in texts
    assert not list(root.iter(f"{SVG}script"))


def test_numbers_follow_the_language_but_coordinates_keep_their_decimal_point():
    with translation.override("de"):
        svg = render(lay_out(figures(*big_flow(3, 4)), title="t"))
    root = parse(svg)
    for element in root.iter():
        for name in ("x", "y", "width", "height"):
            if element.get(name) is not None:
                float(element.get(name))  # "12,5" would fail
        if element.get("class") == "dynchat-flow-arrow":
            assert re.fullmatch(r"M[\d.]+,[\d.]+( [HV][\d.]+)+", element.get("d"))
    texts = [element.text or "" for element in root.iter(f"{SVG}text")]
    # German groups thousands with a dot.
    assert any(re.match(r"\d{1,3}(\.\d{3})+ \w", text) for text in texts)


def test_no_picture_without_cards():
    assert lay_out(figures({"branches": []}, {"cards": []}), title="t") is None
    assert render(None) == ""
