"""Plain-text rendering of a weekly report (the JSON of :func:`toggl_assets.warehouse.weekly.weekly_report`).

Pure functions: no database, no I/O.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

DAYS = 7


def format_hours(ms: int | None) -> str:
    """``H:MM`` rounded to the minute; empty for None."""
    if ms is None:
        return ""
    minutes = round(ms / 60000)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _cells(totals: list[Any], calculate: str) -> list[list[str]]:
    """One or more table lines of 8 cells (earnings: one line per currency)."""
    if calculate == "time":
        return [[format_hours(v) for v in totals]]
    lines = [["" if v is None else f"{v:.2f} {t['currency']}" for v in t["amount"]] for t in totals]
    return lines or [[""] * (DAYS + 1)]


def _project_title(title: dict[str, Any]) -> str:
    name = title["project"] or "(no project)"
    return f"{name} ({title['client']})" if title["client"] else name


def _title(item: dict[str, Any]) -> str:
    """A row's or detail's label: its project (with client) or its user."""
    if "user" in item["title"]:
        return item["title"]["user"] or "(no user)"
    return _project_title(item["title"])


def _lines(label: str, totals: list[Any], calculate: str) -> list[list[str]]:
    return [[label if i == 0 else "", *cells] for i, cells in enumerate(_cells(totals, calculate))]


def format_weekly_report_table(report: dict, since: date, calculate: str = "time") -> str:
    """Render a weekly report as a plain-text table: one line per row and detail, 7 days plus total."""
    header = ["", *((since + timedelta(days=i)).strftime("%a %m-%d") for i in range(DAYS)), "Total"]
    table: list[list[str]] = [header]
    for row in report["data"]:
        table += _lines(_title(row), row["totals"], calculate)
        for detail in row["details"]:
            table += _lines(f"  {_title(detail)}", detail["totals"], calculate)
    table += _lines("Total", report["week_totals"], calculate)
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    out = []
    for n, r in enumerate(table):
        out.append("  ".join([r[0].ljust(widths[0]), *(v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True))]))
        if n == 0:
            out.append("-" * len(out[0]))
    return "\n".join(line.rstrip() for line in out)
