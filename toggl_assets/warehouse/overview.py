"""Per-week figures of the weekly summary view, for each week's own metadata, and its consistency check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import schema_ident, validate_timezone

_DAY_SUMS = ", ".join(f"sum(day{i}_ms)" for i in range(1, 8))


@dataclass
class WeekOverview:
    """One week over all workspaces: summary rows, hours per (project name, day index), earnings per currency,
    and each workspace's total milliseconds (what the check compares with the entries)."""

    rows: int = 0
    hours: list[tuple[str | None, int, float]] = field(default_factory=list)
    earnings: dict[str, Decimal] = field(default_factory=dict)
    total_ms: dict[int, int] = field(default_factory=dict)


def week_overviews(
    conn: psycopg.Connection, weeks: Sequence[date], *, analytics_schema: str = "analytics"
) -> dict[date, WeekOverview]:
    """Every week of ``weeks`` (empty ones included), read from the summary view in one query (the view
    aggregates the rollup once: about 0.6 s for the weeks of a 1M-entry year)."""
    out = {week: WeekOverview() for week in weeks}
    query = sql.SQL(
        f"SELECT workspace_id, week_start, project_name, coalesce(currency, ''), {_DAY_SUMS}, sum(total_ms),"
        " sum(earnings), count(*) FROM {}.toggl_weekly_summary WHERE week_start = ANY(%s::date[])"
        " GROUP BY workspace_id, week_start, project_id, project_name, currency"
    ).format(schema_ident(analytics_schema, "analytics_schema"))
    for workspace_id, week, project, currency, *days, total, earnings, rows in conn.execute(query, (list(weeks),)):
        overview = out[week]
        overview.rows += int(rows)
        overview.hours.extend((project, i, int(ms) / 3_600_000) for i, ms in enumerate(days) if ms)
        overview.total_ms[workspace_id] = overview.total_ms.get(workspace_id, 0) + int(total)
        overview.earnings[currency] = overview.earnings.get(currency, Decimal(0)) + earnings
    return out


def entry_week_totals(
    conn: psycopg.Connection, weeks: Sequence[date], timezone: str, *, raw_schema: str = "raw"
) -> dict[tuple[int, date], int]:
    """Milliseconds of the stopped entries of each (workspace, week) of ``weeks``, straight from the entries.

    The weeks must start on the same weekday (partition keys do). One pass over the entries of the weeks' span,
    each entry's week computed from its local day: a join per week made PostgreSQL fetch a year's entries
    through the index on ``start``, one random heap read each (2 s for 1M entries, against 0.2 s).
    """
    validate_timezone(timezone)
    if not weeks:
        return {}
    first, last = min(weeks), max(weeks)
    if any((week - first).days % 7 for week in weeks):
        raise ValueError("the weeks must start on the same weekday")
    local_day = sql.SQL("(e.start AT TIME ZONE %(tz)s)::date")
    query = sql.SQL(
        """SELECT e.workspace_id, w.week_start, {r}.toggl_sum(e.duration_ms)
        FROM {r}.toggl_entries e
        JOIN unnest(%(weeks)s::date[]) AS w(week_start) ON w.week_start = {day} - ({day} - %(first)s::date) %% 7
        WHERE e.duration_ms IS NOT NULL
          AND e.start >= (%(first)s::timestamp AT TIME ZONE %(tz)s)
          AND e.start < ((%(last)s::date + 7)::timestamp AT TIME ZONE %(tz)s)
        GROUP BY 1, 2"""
    ).format(r=schema_ident(raw_schema), day=local_day)
    params = {"weeks": sorted(set(weeks)), "tz": timezone, "first": first, "last": last}
    return {(ws, week): int(ms) for ws, week, ms in conn.execute(query, params)}


def weekly_totals_mismatches(
    overviews: Mapping[date, WeekOverview], entry_totals: Mapping[tuple[int, date], int]
) -> list[dict[str, Any]]:
    """(workspace, week) whose summary total differs from the sum of its stopped entries' durations, by week."""
    summary = {(ws, week): ms for week, o in overviews.items() for ws, ms in o.total_ms.items()}
    keys = sorted(summary.keys() | {k for k in entry_totals if k[1] in overviews}, key=lambda k: (k[1], k[0]))
    return [
        {"workspace_id": ws, "week": week.isoformat(), "summary_ms": summary.get((ws, week)),
         "entries_ms": entry_totals.get((ws, week))}
        for ws, week in keys
        if summary.get((ws, week)) != entry_totals.get((ws, week))
    ]  # fmt: skip
