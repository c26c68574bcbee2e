"""The weekly charts: valid SVG, every day visible, distinct colours, a legend that covers no bar, and an
inline chart small enough for Dagster to show without a click."""

import base64
import xml.etree.ElementTree as ET

from toggl_assets.orchestration.weekly_summary import _svg_markdown
from toggl_assets.report_chart import (
    INLINE_MARKDOWN_LIMIT,
    MAX_SERIES,
    OTHER_COLOUR,
    PALETTE,
    PLOT_HEIGHT,
    PLOT_TOP,
    day_totals_svg,
    week_chart_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
DAYS = ["Mon 16", "Tue 17", "Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22"]


def test_day_totals_chart_stays_inline_in_dagster_for_any_week():
    for totals in ([0.0] * 7, [23.99] * 7, [168.0, 0.01, 999.5, 0, 12.25, 7.5, 1000.0]):
        markdown = _svg_markdown("hours per day", day_totals_svg(DAYS, totals))
        assert len(markdown) < INLINE_MARKDOWN_LIMIT, len(markdown)


def test_day_totals_chart_draws_one_bar_per_day_proportional_and_labels_every_day():
    svg = ET.fromstring(day_totals_svg(DAYS, [8.0, 4.0, 0.0, 0.01, 8.0, 2.0, 6.0]))
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert labels[:7] == ["Mo", "Tu", "We", "Th", "Fr", "Sa", "Su"] and labels[7] == "8.0h"
    bars = svg.find(f"{SVG}path").get("d").split("M")[1:]
    heights = [int(bar.split("v-")[1].split("h")[0]) for bar in bars]
    assert heights == [48, 24, 0, 1, 48, 12, 36]  # a tiny day still shows; an empty one does not


def _rects_by_colour(svg: ET.Element) -> dict[str, list[ET.Element]]:
    found: dict[str, list[ET.Element]] = {}
    for rect in svg.iter(f"{SVG}rect"):
        found.setdefault(rect.get("fill"), []).append(rect)
    return found


def test_week_chart_gives_each_project_its_own_colour_and_keeps_the_legend_below_the_bars():
    series = [(f"project {n}", [float(n + day + 1) for day in range(7)]) for n in range(5)]
    svg = ET.fromstring(week_chart_svg("week", DAYS, series))
    by_colour = _rects_by_colour(svg)
    used = [colour for colour in PALETTE if colour in by_colour]
    assert len(used) == 5  # five series, five colours
    plot_bottom = PLOT_TOP + PLOT_HEIGHT
    for colour in used:
        bars, swatch = by_colour[colour][:-1], by_colour[colour][-1]
        assert len(bars) == 7 and all(float(b.get("y")) + float(b.get("height")) <= plot_bottom + 0.1 for b in bars)
        assert float(swatch.get("y")) > plot_bottom  # legend swatches sit under the plot
    day_labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "d"]
    assert day_labels == DAYS


def test_week_chart_sums_projects_beyond_the_palette_into_one_grey_series():
    series = [(f"p{n}", [1.0] * 7) for n in range(MAX_SERIES + 3)]
    svg = ET.fromstring(week_chart_svg("week", DAYS, series))
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "l"]
    assert len(legend) == MAX_SERIES + 1 and legend[-1].startswith("3 other projects")
    grey = _rects_by_colour(svg)[OTHER_COLOUR]
    assert [round(float(r.get("height")), 1) for r in grey[:-1]] == [round(float(grey[0].get("height")), 1)] * 7


def test_chart_markdown_is_a_data_uri_image_dagster_renders():
    markdown = _svg_markdown("alt", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    assert markdown.startswith("![alt](data:image/svg+xml;base64,")
    assert base64.b64decode(markdown.split(",", 1)[1].rstrip(")")) == b"<svg xmlns='http://www.w3.org/2000/svg'/>"
