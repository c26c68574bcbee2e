"""Per-week figures of the stored weekly summary, for each week's own metadata, and its consistency check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import schema_ident, validate_timezone

_DAY_COLUMNS = ", ".join(f"sum(day{i}_ms)" for i in range(1, 8))


@dataclass
class WeekOverview:
    """One week over all workspaces: summary rows, hours per (project name, day index), earnings per currency."""

    rows: int = 0
    hours: list[tuple[str | None, int, float]] = field(default_factory=list)
    earnings: dict[str, Decimal] = field(default_factory=dict)


def week_overviews(
    conn: psycopg.Connection, weeks: Sequence[date], *, analytics_schema: str = "analytics"
) -> dict[date, WeekOverview]:
    """Every week of ``weeks`` (empty ones included), read from the stored summary in two queries."""
    a = schema_ident(analytics_schema, "analytics_schema")
    out = {week: WeekOverview() for week in weeks}
    by_project = sql.SQL(
        f"SELECT week_start, project_name, {_DAY_COLUMNS}, count(*) FROM {{}}.toggl_weekly_summary"
        " WHERE week_start = ANY(%s::date[]) GROUP BY week_start, project_id, project_name"
    ).format(a)
    for week, project, *rest in conn.execute(by_project, (list(weeks),)):
        overview = out[week]
        overview.rows += int(rest[-1])
        overview.hours.extend((project, i, int(ms) / 3_600_000) for i, ms in enumerate(rest[:7]) if ms)
    money = sql.SQL(
        "SELECT week_start, coalesce(currency, ''), sum(earnings) FROM {}.toggl_weekly_summary"
        " WHERE week_start = ANY(%s::date[]) AND earnings IS NOT NULL GROUP BY 1, 2"
    ).format(a)
    for week, currency, amount in conn.execute(money, (list(weeks),)):
        out[week].earnings[currency] = amount
    return out


def weekly_totals_mismatches(
    conn: psycopg.Connection,
    weeks: Sequence[date],
    timezone: str,
    *,
    raw_schema: str = "raw",
    analytics_schema: str = "analytics",
) -> list[dict[str, Any]]:
    """(workspace, week) whose stored total differs from the sum of its stopped entries' durations."""
    validate_timezone(timezone)
    query = sql.SQL(
        """WITH s AS (
            SELECT workspace_id, week_start, sum(total_ms) AS ms FROM {a}.toggl_weekly_summary
            WHERE week_start = ANY(%(weeks)s::date[]) GROUP BY 1, 2
        ), e AS (
            SELECT e.workspace_id, w.week_start, sum(e.duration_ms) AS ms
            FROM unnest(%(weeks)s::date[]) AS w(week_start)
            JOIN {r}.toggl_entries e
              ON e.start >= (w.week_start::timestamp AT TIME ZONE %(tz)s)
             AND e.start < ((w.week_start + 7)::timestamp AT TIME ZONE %(tz)s)
            WHERE e.duration_ms IS NOT NULL
            GROUP BY 1, 2
        )
        SELECT coalesce(s.workspace_id, e.workspace_id), coalesce(s.week_start, e.week_start), s.ms, e.ms
        FROM s FULL JOIN e ON s.workspace_id = e.workspace_id AND s.week_start = e.week_start
        WHERE s.ms IS DISTINCT FROM e.ms ORDER BY 2, 1"""
    ).format(a=schema_ident(analytics_schema, "analytics_schema"), r=schema_ident(raw_schema))
    rows = conn.execute(query, {"weeks": list(weeks), "tz": timezone}).fetchall()
    return [
        {"workspace_id": ws, "week": week.isoformat(), "summary_ms": summary, "entries_ms": entries}
        for ws, week, summary, entries in rows
    ]
