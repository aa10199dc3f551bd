"""The server-rendered SVG charts: valid, accessible markup that says what the data says, for one
day, a quarter, two years, nothing at all and very large numbers."""

import datetime
import xml.etree.ElementTree as ET

import pytest

from wagtail_dynchat.admin import charts

SVG = "{http://www.w3.org/2000/svg}"
START = datetime.date(2026, 1, 1)
KEYS = [series.key for series in charts.HEADLINE_SERIES]


def rows(count, value=lambda index, key: 0):
    return [
        {"day": START + datetime.timedelta(days=index), **{key: value(index, key) for key in KEYS}}
        for index in range(count)
    ]


def parse(chart):
    """The chart's SVG as an element tree (it must be well-formed XML)."""
    return ET.fromstring(str(chart.svg))


def chart_of(data, **kwargs):
    kwargs.setdefault("title", "Conversations per day")
    kwargs.setdefault("chart_id", "test-chart")
    return charts.time_series_chart(data, **kwargs)


def numbers(element, *names):
    return [float(element.get(name)) for name in names if element.get(name) is not None]


def test_the_svg_is_an_image_labelled_by_its_title_and_described_by_its_data():
    data = rows(10, lambda index, key: (index + 1) * (KEYS.index(key) + 1))
    chart = chart_of(data)
    svg = parse(chart)
    assert svg.get("role") == "img"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert svg.get("aria-labelledby") == title.get("id") == "test-chart-title"
    assert svg.get("aria-describedby") == desc.get("id")
    assert title.text == "Conversations per day"
    # Triggered: 1 + 2 + … + 10 = 55, most on the last day (10).
    assert "Triggered 55 in total" in desc.text
    assert "(10)" in desc.text
    assert "Meetings booked 275 in total" in desc.text
    # One line per series, drawn from the data.
    lines = svg.findall(f"{SVG}g[@class='dynchat-chart__series']")
    assert sorted(group.get("data-series") for group in lines) == sorted(KEYS)


def test_the_table_holds_the_same_numbers():
    data = rows(3, lambda index, key: index * 1000 + KEYS.index(key))
    chart = chart_of(data)
    assert chart.table["columns"] == [series.label for series in charts.HEADLINE_SERIES]
    assert [row["day"] for row in chart.table["rows"]] == [row["day"] for row in data]
    assert [row["values"] for row in chart.table["rows"]] == [
        [row[key] for key in KEYS] for row in data
    ]
    assert chart.table["totals"] == [sum(row[key] for row in data) for key in KEYS]
    # The rows as the template shows them: a day header and formatted counts.
    body = ET.fromstring(f"<tbody>{chart.table['body']}</tbody>")
    cells = [[cell.text for cell in row.findall("td")] for row in body]
    assert cells[2] == ["2,000", "2,001", "2,002", "2,003", "2,004"]
    assert [row.find("th/time").get("datetime") for row in body] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    assert chart.table["total_cells"][0] == "3,000"


def test_one_day_is_drawn_as_points():
    chart = chart_of(rows(1, lambda index, key: 4))
    svg = parse(chart)
    # No line through a single point, but a marker per series, in the middle.
    assert svg.findall(f".//{SVG}g[@class='dynchat-chart__series']/{SVG}path") == []
    markers = [
        element
        for group in svg.findall(f"{SVG}g[@class='dynchat-chart__series']")
        for element in group
    ]
    assert len(markers) == len(KEYS)
    assert chart.description.startswith("On ")
    labels = [text.text for text in svg.iter(f"{SVG}text")]
    assert "Jan 1" in labels


def test_nothing_at_all_is_an_empty_chart_that_says_so():
    chart = chart_of(rows(30))
    assert chart.empty
    assert "no activity" in chart.description
    svg = parse(chart)
    y_labels = [text.text for text in svg.findall(f"{SVG}g[@text-anchor='end']/{SVG}text")]
    assert y_labels == ["0", "1"]


def test_ninety_days_get_weekly_ticks_and_two_years_get_quarters():
    quarter = parse(chart_of(rows(90, lambda index, key: index)))
    labels = [text.text for text in quarter.findall(f"{SVG}g[@text-anchor='middle']/{SVG}text")]
    assert 4 <= len(labels) <= 9
    two_years = chart_of(rows(731, lambda index, key: index % 17))
    svg = parse(two_years)
    labels = [text.text for text in svg.findall(f"{SVG}g[@text-anchor='middle']/{SVG}text")]
    assert labels == [
        "Jan 2026",
        "Apr 2026",
        "Jul 2026",
        "Oct 2026",
        "Jan 2027",
        "Apr 2027",
        "Jul 2027",
        "Oct 2027",
        "Jan 2028",
    ]
    # Too many days for markers; the drawing stays small.
    assert not list(svg.iter(f"{SVG}circle"))
    assert len(str(two_years.svg)) < 150_000
    assert len(two_years.table["rows"]) == 731


@pytest.mark.parametrize("count", [1, 7, 90, 731])
def test_everything_is_drawn_inside_the_view_box(count):
    huge = 98_765_432_109
    svg = parse(chart_of(rows(count, lambda index, key: huge - index)))
    _x, _y, width, height = (float(part) for part in svg.get("viewBox").split())
    for element in svg.iter():
        for x in numbers(element, "x", "x1", "x2", "cx"):
            assert 0 <= x <= width
        for y in numbers(element, "y", "y1", "y2", "cy"):
            assert 0 <= y <= height
    y_labels = [text.text for text in svg.findall(f"{SVG}g[@text-anchor='end']/{SVG}text")]
    assert y_labels[-1] == "100B"
    # The y labels fit in the left margin (about 0.6 em a character).
    axis = svg.find(f"{SVG}g[@class='dynchat-chart__axis']/{SVG}line")
    assert float(axis.get("x1")) >= max(len(label) for label in y_labels) * 13 * 0.6


def test_visitor_text_is_escaped():
    script = '<script>alert("x")</script>'
    series = (charts.Series("triggered", script),)
    chart = chart_of(rows(2, lambda index, key: 1), series=series, title=script)
    assert "<script>" not in str(chart.svg)
    assert "&lt;script&gt;" in str(chart.svg)
    assert "<script>" not in str(series[0].swatch)
    parse(chart)


def test_the_compact_chart_labels_the_first_and_last_day():
    svg = parse(chart_of(rows(7, lambda index, key: index), compact=True))
    labels = [text.text for text in svg.findall(f"{SVG}g[@text-anchor='middle']/{SVG}text")]
    assert labels == ["Jan 1", "Jan 7"]


@pytest.mark.parametrize(
    "maximum, expected",
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (100, [0, 20, 40, 60, 80, 100]),
        (101, [0, 50, 100, 150]),
    ],
)
def test_ticks_are_round_numbers(maximum, expected):
    assert charts.nice_ticks(maximum) == expected


def test_ticks_of_huge_numbers_stay_whole_and_few():
    ticks = charts.nice_ticks(10**15 + 1)
    assert ticks[-1] >= 10**15 + 1
    assert len(ticks) <= 7
    assert all(isinstance(tick, int) for tick in ticks)


@pytest.mark.parametrize(
    "value, expected",
    [(0, "0"), (9999, "9,999"), (12_500, "12.5k"), (3_000_000, "3M"), (1_200_000_000, "1.2B")],
)
def test_compact_counts(value, expected):
    assert charts.compact_count(value) == expected


def _luminance(colour):
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(first, second):
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("surface", charts.SURFACES)
def test_series_colours_contrast_with_light_and_dark_surfaces(surface):
    for colour in charts.PALETTE:
        assert _contrast(colour, surface) >= 3, (colour, surface)


def test_series_differ_by_more_than_colour():
    series = charts.HEADLINE_SERIES
    assert len({item.colour for item in series}) == len(series)
    assert len({item.dash for item in series}) == len(series)
    assert len({item.marker for item in series}) == len(series)


def test_bars_are_decorative_shares_of_the_largest():
    entries = charts.with_bars([{"n": 50}, {"n": 100}, {"n": 0}], "n")
    # Inline SVG in HTML: no namespace.
    widths = [ET.fromstring(str(entry["bar"])).find("rect").get("width") for entry in entries]
    assert widths == ["50", "100", "0"]
    assert ET.fromstring(str(entries[0]["bar"])).get("aria-hidden") == "true"
