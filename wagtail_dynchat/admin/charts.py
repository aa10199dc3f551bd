"""Server-rendered SVG charts for the reports, without a chart library or JavaScript.

:func:`time_series_chart` draws counters over days (``Report.by_day()`` rows) as lines, the first
one over a faint area, with a y axis of round numbers, day/week/month/quarter ticks depending on
the length of the range and a legend; :func:`bar` draws the bar of a "top" list. Every function
is pure: it returns escaped SVG (``format_html``) and plain data for a template
(``wagtail_dynchat/admin/reports/_chart.html`` renders a :class:`Chart`).

Accessibility: the SVG is ``role="img"`` with a ``<title>`` and a ``<desc>`` summarising the data
(totals and peaks), and the same numbers are always given as a table. Series differ by dash
pattern and marker shape as well as colour, and every colour of :data:`PALETTE` has a contrast
of at least 3:1 against Wagtail's light and dark panel surfaces (WCAG 1.4.11). Text and axes use
``currentColor``, so they follow the admin's theme. The drawing is sized by its ``viewBox`` and
scales with its container (``reports.css`` keeps it wide enough for legible text and lets a
narrow screen scroll it in its own box: the page never scrolls sideways, at 400 % zoom either);
the legend and the table are HTML text that reflows. No ``style`` attribute is written (the
admin may run under a strict CSP).
"""

import dataclasses
import html
import math

from django.utils.dates import MONTHS_3
from django.utils.formats import date_format, get_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

#: Series colours: each at least 3:1 against white and against Wagtail's dark surfaces
#: (#1d1d1d, #262626), so one palette serves both themes.
PALETTE = ("#2b7bba", "#118a7e", "#9b51e0", "#cc5500", "#d63384")
#: Surfaces the palette is checked against (tests): light panel, dark panel, dark page.
SURFACES = ("#ffffff", "#1d1d1d", "#262626")

MARKERS = ("circle", "square", "diamond", "triangle", "triangle-down")
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2")


@dataclasses.dataclass(frozen=True)
class Series:
    """One line: the row key it reads, its label and how it is drawn."""

    key: str
    label: str
    colour: str = PALETTE[0]
    dash: str = ""
    marker: str = "circle"

    @property
    def swatch(self):
        """A small decorative SVG of the line and marker, for an HTML legend."""
        return format_html(
            '<svg class="dynchat-chart__swatch" viewBox="0 0 28 12" width="28" height="12" '
            'aria-hidden="true" focusable="false">'
            '<line x1="1" y1="6" x2="27" y2="6" stroke="{}" stroke-width="2.5"{}/>{}</svg>',
            self.colour,
            _dash_attribute(self.dash),
            _marker(self.marker, 14, 6, 3.5, self.colour),
        )


def _series(index, key, label):
    return Series(key, label, PALETTE[index], DASHES[index], MARKERS[index])


#: The headline counters over time, in funnel order.
HEADLINE_SERIES = (
    _series(0, "triggered", _("Triggered")),
    _series(1, "engaged", _("Engaged")),
    _series(2, "completed", _("Completed")),
    _series(3, "people_acquired", _("People acquired")),
    _series(4, "meetings_booked", _("Meetings booked")),
)


@dataclasses.dataclass
class Chart:
    """What a template needs to show a chart and its data table.

    ``svg`` is safe markup; ``table`` holds the same numbers: ``{"columns": [labels],
    "rows": [{"day", "label", "values": [int]}], "totals": [int]}``, with the rows as safe
    ``<tr>`` markup (``body``) and the totals formatted (``total_cells``) for the template.
    """

    id: str
    title: str
    description: str
    svg: str
    legend: list
    table: dict
    empty: bool


@dataclasses.dataclass(frozen=True)
class _Layout:
    width: int
    height: int
    font_size: int
    y_ticks: int
    x_ticks: int
    markers_up_to: int


_FULL = _Layout(width=760, height=300, font_size=13, y_ticks=5, x_ticks=9, markers_up_to=31)
_COMPACT = _Layout(width=380, height=150, font_size=12, y_ticks=3, x_ticks=2, markers_up_to=7)


# ---- numbers --------------------------------------------------------------------------------


def nice_ticks(maximum, count=5):
    """Round, evenly spaced whole-number ticks from 0 to at least ``maximum`` (about ``count``
    steps of 1, 2 or 5 times a power of ten). An all-zero chart gets ``[0, 1]``."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(multiple * magnitude for multiple in (1, 2, 5, 10) if multiple * magnitude >= raw)
    step = max(int(step), 1)
    top = math.ceil(maximum / step) * step
    return list(range(0, top + 1, step))


def format_count(value):
    """A count with the locale's thousands separators."""
    return number_format(value, force_grouping=True)


def format_rate(rate):
    """A rate (a fraction, None without a denominator) as a percentage, or a dash."""
    if rate is None:
        return "—"
    # number_format() truncates decimals: round first (2/3 is 66.7%, not 66.6%).
    percent = number_format(round(rate * 100, 1), decimal_pos=1)
    # Translators: a percentage, e.g. "33.3%"
    return gettext("%(rate)s%%") % {"rate": percent}


def count_formatter():
    """:func:`format_count` for many counts in the active locale: the same text, faster where
    digits group by three (``number_format`` looks the locale's formats up on every call)."""
    separator = get_format("THOUSAND_SEPARATOR")
    if get_format("NUMBER_GROUPING") != 3:
        return format_count
    return lambda value: f"{int(value):,}".replace(",", separator)


def compact_count(value):
    """A short axis label: counts below 10,000 in full, then 12.5k, 3M, 1.2B."""
    for size, template in (
        (10**9, pgettext("billions, short", "%(number)sB")),
        (10**6, pgettext("millions, short", "%(number)sM")),
        (10**3, pgettext("thousands, short", "%(number)sk")),
    ):
        if value >= size and value >= 10_000:
            scaled = value / size
            decimals = 0 if scaled >= 100 or scaled == int(scaled) else 1
            return template % {"number": number_format(round(scaled, decimals), decimals)}
    return format_count(value)


# ---- days -----------------------------------------------------------------------------------


def day_ticks(days, max_ticks=8):
    """Which days of ``days`` get a tick and a label, and the label format's kind.

    Up to ``max_ticks`` days: every day; then every other day, Mondays, every other Monday, the
    first of each month, or of every 2nd, 3rd, 6th or 12th month (731 days: quarters).
    Returns ``(indices, "day" | "month")``.
    """
    count = len(days)
    if count <= max_ticks:
        return list(range(count)), "day"
    if math.ceil(count / 2) <= max_ticks:
        return list(range(0, count, 2)), "day"
    mondays = [index for index, day in enumerate(days) if day.weekday() == 0]
    for every in (1, 2):
        picked = mondays[::every]
        if picked and len(picked) <= max_ticks:
            return picked, "day"
    firsts = [index for index, day in enumerate(days) if day.day == 1]
    for every in (1, 2, 3, 6, 12):
        picked = [index for index in firsts if (days[index].month - 1) % every == 0]
        if picked and len(picked) <= max_ticks:
            return picked, "month"
    return [0], "day"


def _tick_label(day, kind):
    if kind == "month":
        # Translators: a month on a chart axis ("Mar 2026"); %(month)s is abbreviated.
        return pgettext("chart month tick", "%(month)s %(year)d") % {
            "month": MONTHS_3[day.month].title(),
            "year": day.year,
        }
    # Translators: a day on a chart axis ("Mar 5"); reorder to "5 Mar" where that is usual.
    return pgettext("chart day tick", "%(month)s %(day)d") % {
        "month": MONTHS_3[day.month].title(),
        "day": day.day,
    }


def _long_day(day):
    return date_format(day, "DATE_FORMAT")


# ---- drawing --------------------------------------------------------------------------------


def _dash_attribute(dash):
    return format_html(' stroke-dasharray="{}"', dash) if dash else ""


def _marker(shape, x, y, size, colour):
    if shape == "square":
        return format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
            _n(x - size * 0.85),
            _n(y - size * 0.85),
            _n(size * 1.7),
            _n(size * 1.7),
            colour,
        )
    if shape in ("diamond", "triangle", "triangle-down"):
        points = {
            "diamond": ((0, -1.2), (1.2, 0), (0, 1.2), (-1.2, 0)),
            "triangle": ((0, -1.2), (1.1, 0.9), (-1.1, 0.9)),
            "triangle-down": ((0, 1.2), (1.1, -0.9), (-1.1, -0.9)),
        }[shape]
        return format_html(
            '<polygon points="{}" fill="{}"/>',
            " ".join(f"{_n(x + dx * size)},{_n(y + dy * size)}" for dx, dy in points),
            colour,
        )
    return format_html('<circle cx="{}" cy="{}" r="{}" fill="{}"/>', _n(x), _n(y), _n(size), colour)


def _n(value):
    """A coordinate, short: one decimal at most."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_width(text, font_size):
    # No font metrics on the server: an average glyph is about 0.6 em wide.
    return len(text) * font_size * 0.6


def _describe(rows, series, days, totals):
    """The ``<desc>``: the range, then each series' total and its best day."""
    if not days:
        return gettext("No days to show.")
    if len(days) == 1:
        period = gettext("On %(day)s") % {"day": _long_day(days[0])}
    else:
        period = gettext("Daily figures from %(start)s to %(end)s (%(count)s days)") % {
            "start": _long_day(days[0]),
            "end": _long_day(days[-1]),
            "count": format_count(len(days)),
        }
    if not any(totals):
        return gettext("%(period)s: no activity.") % {"period": period}
    parts = []
    for item, total in zip(series, totals, strict=True):
        if len(days) > 1 and total:
            best = max(rows, key=lambda row: row.get(item.key) or 0)
            parts.append(
                gettext("%(label)s %(total)s in total, most on %(day)s (%(best)s)")
                % {
                    "label": item.label,
                    "total": format_count(total),
                    "day": _long_day(best["day"]),
                    "best": format_count(best.get(item.key) or 0),
                }
            )
        else:
            parts.append(
                gettext("%(label)s %(total)s") % {"label": item.label, "total": format_count(total)}
            )
    return gettext("%(period)s: %(figures)s.") % {"period": period, "figures": "; ".join(parts)}


def time_series_chart(rows, series=HEADLINE_SERIES, *, title, chart_id, compact=False):
    """A line chart of ``series`` over the days of ``rows`` (dicts with a ``day`` date and a
    count under each series' key, like ``Report.by_day()``), with its data table.

    ``chart_id`` must be unique in the page (it prefixes the ids ``aria-labelledby`` uses).
    ``compact`` draws a small chart (a dashboard panel): fewer ticks, markers only for a week.
    """
    layout = _COMPACT if compact else _FULL
    rows = list(rows)
    series = tuple(series)
    days = [row["day"] for row in rows]
    values = [[int(row.get(item.key) or 0) for row in rows] for item in series]
    totals = [sum(column) for column in values]
    maximum = max((max(column, default=0) for column in values), default=0)
    ticks = nice_ticks(maximum, layout.y_ticks)
    top = ticks[-1]
    description = _describe(rows, series, days, totals)

    font = layout.font_size
    y_labels = [compact_count(tick) for tick in ticks]
    left = math.ceil(max(_text_width(label, font) for label in y_labels)) + 10
    if compact:
        tick_indices, tick_kind = sorted({0, len(days) - 1}) if days else [], "day"
    else:
        tick_indices, tick_kind = day_ticks(days, layout.x_ticks)
    x_labels = [(index, _tick_label(days[index], tick_kind)) for index in tick_indices]
    overhang = max((_text_width(label, font) / 2 for _i, label in x_labels), default=0)
    left = max(left, math.ceil(overhang) + 2)
    right = math.ceil(overhang) + 4
    top_margin, bottom = font, font * 2 + 8
    plot_width = layout.width - left - right
    plot_height = layout.height - top_margin - bottom
    plot_bottom = top_margin + plot_height

    def x_of(index):
        if len(days) <= 1:
            return left + plot_width / 2
        return left + plot_width * index / (len(days) - 1)

    def y_of(value):
        return plot_bottom - plot_height * value / top

    parts = [
        format_html(
            '<svg xmlns="http://www.w3.org/2000/svg" class="dynchat-chart__svg" '
            'viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title" '
            'aria-describedby="{}-desc" focusable="false" font-size="{}">'
            '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>',
            layout.width,
            layout.height,
            chart_id,
            chart_id,
            font,
            chart_id,
            title,
            chart_id,
            description,
        ),
        # Grid lines and y labels.
        format_html(
            '<g class="dynchat-chart__grid" stroke="currentColor" stroke-opacity="0.2">{}</g>',
            format_html_join(
                "",
                '<line x1="{}" x2="{}" y1="{}" y2="{}"/>',
                ((left, left + plot_width, _n(y_of(tick)), _n(y_of(tick))) for tick in ticks[1:]),
            ),
        ),
        format_html(
            '<g class="dynchat-chart__axis" fill="currentColor" text-anchor="end">{}</g>',
            format_html_join(
                "",
                '<text x="{}" y="{}" dy="0.35em">{}</text>',
                (
                    (left - 6, _n(y_of(tick)), label)
                    for tick, label in zip(ticks, y_labels, strict=True)
                ),
            ),
        ),
        # The x axis, its ticks and labels.
        format_html(
            '<g class="dynchat-chart__axis" stroke="currentColor">'
            '<line x1="{}" x2="{}" y1="{}" y2="{}"/>{}</g>',
            left,
            left + plot_width,
            _n(plot_bottom),
            _n(plot_bottom),
            format_html_join(
                "",
                '<line x1="{}" x2="{}" y1="{}" y2="{}"/>',
                (
                    (_n(x_of(i)), _n(x_of(i)), _n(plot_bottom), _n(plot_bottom + 5))
                    for i, _label in x_labels
                ),
            ),
        ),
        format_html(
            '<g class="dynchat-chart__axis" fill="currentColor" text-anchor="middle">{}</g>',
            format_html_join(
                "",
                '<text x="{}" y="{}" dy="0.7em">{}</text>',
                ((_n(x_of(i)), _n(plot_bottom + 9), label) for i, label in x_labels),
            ),
        ),
    ]
    if len(days) > 1 and series:
        first = values[0]
        area = " ".join(
            [f"M{_n(x_of(0))},{_n(plot_bottom)}"]
            + [f"L{_n(x_of(i))},{_n(y_of(value))}" for i, value in enumerate(first)]
            + [f"L{_n(x_of(len(first) - 1))},{_n(plot_bottom)}Z"]
        )
        parts.append(
            format_html(
                '<path class="dynchat-chart__area" d="{}" fill="{}" fill-opacity="0.12"/>',
                area,
                series[0].colour,
            )
        )
    markers = len(days) <= layout.markers_up_to
    # Drawn last first, so the first series (the largest, usually) is on top.
    for item, column in reversed(list(zip(series, values, strict=True))):
        points = [(x_of(i), y_of(value)) for i, value in enumerate(column)]
        line = ""
        if len(points) > 1:
            line = format_html(
                '<path d="{}" fill="none" stroke="{}" stroke-width="2.5" '
                'stroke-linejoin="round" stroke-linecap="round"{}/>',
                " ".join(
                    f"{'M' if i == 0 else 'L'}{_n(x)},{_n(y)}" for i, (x, y) in enumerate(points)
                ),
                item.colour,
                _dash_attribute(item.dash),
            )
        dots = (
            mark_safe("".join(_marker(item.marker, x, y, 3.5, item.colour) for x, y in points))
            if markers or len(points) == 1
            else ""
        )
        parts.append(
            format_html(
                '<g class="dynchat-chart__series" data-series="{}">{}{}</g>', item.key, line, dots
            )
        )
    parts.append(mark_safe("</svg>"))

    table_rows = [
        {"day": day, "label": _long_day(day), "values": [column[index] for column in values]}
        for index, day in enumerate(days)
    ]
    table = {
        "columns": [item.label for item in series],
        "rows": table_rows,
        "totals": totals,
        # Built here rather than in a template loop: two years are 731 rows of cells.
        "body": _table_body(table_rows),
        "total_cells": [format_count(total) for total in totals],
    }
    return Chart(
        id=chart_id,
        title=str(title),
        description=description,
        svg=mark_safe("".join(parts)),  # every part above is format_html output
        legend=list(series),
        table=table,
        empty=not any(totals),
    )


def _table_body(rows):
    # Plain string building, escaped with the standard library's (much cheaper) escape: two
    # years are 731 rows, each of which format_html() would parse again.
    count = count_formatter()
    return mark_safe(
        "".join(
            f'<tr><th scope="row"><time datetime="{row["day"].isoformat()}">'
            f"{html.escape(str(row['label']))}</time></th>"
            + "".join(f"<td>{html.escape(count(value))}</td>" for value in row["values"])
            + "</tr>"
            for row in rows
        )
    )


def bar(value, maximum, colour=PALETTE[0]):
    """A decorative horizontal bar for a "top" list cell (the number is in the cell's text):
    ``value`` as a share of ``maximum``."""
    share = 100 * value / maximum if maximum and value > 0 else 0
    return format_html(
        '<svg class="dynchat-bar" viewBox="0 0 100 10" preserveAspectRatio="none" '
        'aria-hidden="true" focusable="false"><rect width="{}" height="10" rx="1" fill="{}"/>'
        "</svg>",
        _n(max(share, 0.5) if value > 0 else 0),
        colour,
    )


def with_bars(entries, key, colour=PALETTE[0]):
    """``entries`` (dicts) each with a ``bar`` of its ``key`` against the largest one."""
    maximum = max((entry.get(key) or 0 for entry in entries), default=0)
    return [{**entry, "bar": bar(entry.get(key) or 0, maximum, colour)} for entry in entries]
