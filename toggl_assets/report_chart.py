"""A stacked bar chart of a week (hours per day and project) as a small, dependency-free SVG.

Dagster shows it inside a Markdown metadata entry. The legend sits below the bars so it never covers a day,
each series gets its own colour (projects beyond :data:`MAX_SERIES` are summed into one grey "other" series),
and every bar carries its total.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# Distinguishable colours (Tableau 10 followed by its lighter companions); grey is reserved for "other".
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#1f77b4", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#17becf",
)  # fmt: skip
OTHER_COLOUR = "#bab0ac"
MAX_SERIES = len(PALETTE)

WIDTH, PLOT_TOP, PLOT_HEIGHT, LEFT, RIGHT = 720, 34, 200, 48, 12
LEGEND_ROW, LEGEND_COLUMNS = 18, 3


def _limit_series(series: Sequence[tuple[str, Sequence[float]]]) -> list[tuple[str, list[float], str]]:
    """Largest series first, each with its colour; the smallest beyond the palette become "other"."""
    ranked = sorted(series, key=lambda item: -sum(item[1]))
    shown = [(name, list(values), PALETTE[i]) for i, (name, values) in enumerate(ranked[:MAX_SERIES])]
    rest = ranked[MAX_SERIES:]
    if rest:
        totals = [sum(values[day] for _, values in rest) for day in range(len(rest[0][1]))]
        shown.append((f"{len(rest)} other projects", totals, OTHER_COLOUR))
    return shown


def _scale_top(largest: float) -> float:
    """A round axis maximum at or above ``largest`` (hours)."""
    for step in (1, 2, 4, 5, 8, 10, 12, 16, 20, 24, 40, 50, 80, 100, 200, 500, 1000):
        if largest <= step:
            return float(step)
    return float(int(largest) + 1)


def _bars(days: Sequence[str], series: list[tuple[str, list[float], str]], top: float) -> list[str]:
    slot = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    parts = []
    for day_index, day in enumerate(days):
        x = LEFT + day_index * slot + slot * 0.18
        width = slot * 0.64
        y = PLOT_TOP + PLOT_HEIGHT
        total = 0.0
        for name, values, colour in series:
            value = values[day_index]
            if value <= 0:
                continue
            height = value / top * PLOT_HEIGHT
            y -= height
            total += value
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(name)}: {value:.2f} h</title></rect>"
            )
        label_x = x + width / 2
        if total > 0:
            parts.append(f'<text x="{label_x:.1f}" y="{y - 4:.1f}" class="v">{total:.1f}</text>')
        parts.append(f'<text x="{label_x:.1f}" y="{PLOT_TOP + PLOT_HEIGHT + 15}" class="d">{escape(day)}</text>')
    return parts


def _axis(top: float) -> list[str]:
    parts = []
    for tick in range(5):
        value = top * tick / 4
        y = PLOT_TOP + PLOT_HEIGHT - PLOT_HEIGHT * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="a">{value:g}</text>')
    return parts


def _legend(series: list[tuple[str, list[float], str]], top_y: float) -> list[str]:
    column_width = (WIDTH - LEFT - RIGHT) / LEGEND_COLUMNS
    parts = []
    for index, (name, values, colour) in enumerate(series):
        row, column = divmod(index, LEGEND_COLUMNS)
        x = LEFT + column * column_width
        y = top_y + row * LEGEND_ROW
        label = name if len(name) <= 30 else name[:29] + "…"
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="11" height="11" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16:.1f}" y="{y:.1f}" class="l">{escape(label)} ({sum(values):.1f} h)</text>')
    return parts


def week_chart_svg(title: str, days: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """SVG of hours per day (``days`` labels) stacked by series (name, one value per day, in hours)."""
    shown = _limit_series(series)
    totals = [sum(values[i] for _, values, _ in shown) for i in range(len(days))]
    top = _scale_top(max(totals, default=0.0))
    legend_top = PLOT_TOP + PLOT_HEIGHT + 40
    rows = (len(shown) + LEGEND_COLUMNS - 1) // LEGEND_COLUMNS
    height = legend_top + rows * LEGEND_ROW + 6
    body = [
        f'<text x="{LEFT}" y="20" class="t">{escape(title)}</text>',
        *_axis(top),
        *_bars(days, shown, top),
        *_legend(shown, legend_top),
    ]
    if not shown:
        body.append(f'<text x="{WIDTH / 2}" y="{PLOT_TOP + PLOT_HEIGHT / 2}" class="d">no time tracked</text>')
    style = (
        "text{font-family:sans-serif;fill:#333}.t{font-size:14px;font-weight:bold}.a{font-size:10px;"
        "text-anchor:end}.d{font-size:11px;text-anchor:middle}.v{font-size:10px;text-anchor:middle}"
        ".l{font-size:11px}.g{stroke:#ddd;stroke-width:1}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}"><style>{style}</style>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>{"".join(body)}</svg>'
    )


# Dagster shows a Markdown entry inline only below 1,000 characters: the day totals chart is drawn to stay
# under that (one path for the bars, day initials, the largest day's hours), so it is seen without a click.
INLINE_MARKDOWN_LIMIT = 1000


def day_totals_svg(days: Sequence[str], totals: Sequence[float]) -> str:
    """A compact bar chart of hours per day: one bar per entry of ``days`` (labels cut to two characters)."""
    top = max(totals, default=0.0) or 1.0
    heights = [round(value / top * 48) or (1 if value > 0 else 0) for value in totals]  # any time: a visible bar
    bars = "".join(f"M{10 + 30 * i} 62v-{h}h22v{h}z" for i, h in enumerate(heights))
    labels = "".join(f'<text x="{21 + 30 * i}" y="76">{escape(day[:2])}</text>' for i, day in enumerate(days))
    peak = max(range(len(totals)), key=lambda i: totals[i], default=None)
    value_label = (
        f'<text x="{21 + 30 * peak}" y="11">{totals[peak]:.1f}h</text>' if peak is not None and totals[peak] else ""
    )
    width = 30 * len(days) + 14
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="80" font-family="sans-serif" '
        f'font-size="10" text-anchor="middle" fill="#555"><path d="{bars}" fill="#4e79a7"/>{labels}{value_label}</svg>'
    )
