"""Per-day rollup of time entries: the source of the weekly summary, kept current by every window merge.

``<raw>.toggl_daily_rollup`` holds, per workspace, local day, project, user and entry currency: the number of
stopped entries, their milliseconds, billable milliseconds and earnings in integer cents. Its days are local
days in one time zone per workspace, recorded in ``<raw>.toggl_rollup_zones``; a merge or a weekly refresh in
another zone (or for a workspace never rolled up, e.g. after a migration) rebuilds that workspace's rollup.

The same per-day SELECT (:func:`daily_rows_sql`) fills the rollup and computes a single week straight from the
entries (the weekly report), so the two cannot disagree. Running entries are excluded (their length changes
every second); earnings follow the weekly report's rules (see :mod:`toggl_assets.warehouse.weekly`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import lock_for_load, schema_ident

ROLLUP_COLUMNS = ("workspace_id", "day", "project_id", "user_id", "currency", "entries", "ms", "billable_ms", "cents")


def day_runs(days: Iterable[date]) -> tuple[list[date], list[date]]:
    """Contiguous runs of ``days`` as two parallel lists (first days, last days), in order."""
    firsts: list[date] = []
    lasts: list[date] = []
    for day in sorted(set(days)):
        if lasts and day == lasts[-1] + timedelta(days=1):
            lasts[-1] = day
        else:
            firsts.append(day)
            lasts.append(day)
    return firsts, lasts


def daily_rows_sql(
    raw_schema: str, *, all_days: bool = False, days: tuple[sql.Composable, sql.Composable] | None = None
) -> sql.Composed:
    """SELECT of :data:`ROLLUP_COLUMNS` from the entries of workspaces ``%(ws)s`` (bigint[]) in ``%(tz)s``.

    Unless ``all_days``, only the local days of the runs ``%(firsts)s``/``%(lasts)s`` (date[], see
    :func:`day_runs`) are read, each run by one index range scan on ``start``; ``days`` (SQL expressions of the
    first and last day) names one run instead.
    """
    s = schema_ident(raw_schema, "raw_schema")
    first, last = days or (sql.SQL("r.first"), sql.SQL("r.last"))
    runs = sql.SQL("JOIN unnest(%(firsts)s::date[], %(lasts)s::date[]) AS r(first, last) ON true")
    in_runs = sql.SQL(
        """AND e.start >= ({first}::timestamp AT TIME ZONE %(tz)s)
          AND e.start < (({last} + 1)::timestamp AT TIME ZONE %(tz)s)"""
    ).format(first=first, last=last)
    # Money is summed in integer cents: exact, and much cheaper per row than numeric; toggl_sum keeps sums bigint.
    return sql.SQL(
        """SELECT e.workspace_id, (e.start AT TIME ZONE %(tz)s)::date AS day, e.project_id, e.user_id, e.currency,
               count(*) AS entries, {s}.toggl_sum(e.duration_ms) AS ms,
               {s}.toggl_sum(e.duration_ms) FILTER (WHERE e.is_billable) AS billable_ms,
               {s}.toggl_sum((CASE WHEN e.is_billable
                         THEN round(100 * coalesce(e.billable_amount,
                                                   round(e.duration_ms * e.hourly_rate / 3600000.0, 2), 0))
                         ELSE 0 END)::bigint) AS cents
        FROM {s}.toggl_entries e {runs}
        WHERE e.workspace_id = ANY(%(ws)s::bigint[]) AND e.duration_ms IS NOT NULL {in_runs}
        GROUP BY 1, 2, 3, 4, 5"""
    ).format(
        s=s,
        runs=sql.SQL("") if all_days or days is not None else runs,
        in_runs=sql.SQL("") if all_days else in_runs,
    )


def rollup_zone(conn: psycopg.Connection, schema: str, workspace_id: int) -> str | None:
    """The zone of ``workspace_id``'s rollup days, or None if it has never been rolled up."""
    query = sql.SQL("SELECT timezone FROM {}.toggl_rollup_zones WHERE workspace_id = %s").format(schema_ident(schema))
    row = conn.execute(query, (workspace_id,)).fetchone()
    return row[0] if row else None


def _insert(conn: psycopg.Connection, schema: str, params: dict, *, all_days: bool) -> None:
    # A year of days is grouped in memory; the default 4 MB would spill the sort to disk.
    conn.execute("SET LOCAL work_mem = '64MB'")
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ROLLUP_COLUMNS)
    conn.execute(
        sql.SQL("INSERT INTO {s}.toggl_daily_rollup ({cols}) {select}").format(
            s=schema_ident(schema), cols=columns, select=daily_rows_sql(schema, all_days=all_days)
        ),
        params,
    )


def rebuild_rollup(conn: psycopg.Connection, schema: str, workspace_id: int, timezone: str) -> None:
    """Recompute ``workspace_id``'s whole rollup in ``timezone`` and record the zone (caller holds the load lock)."""
    s = schema_ident(schema)
    conn.execute(sql.SQL("DELETE FROM {}.toggl_daily_rollup WHERE workspace_id = %s").format(s), (workspace_id,))
    _insert(conn, schema, {"ws": [workspace_id], "tz": timezone}, all_days=True)
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.toggl_rollup_zones (workspace_id, timezone, rebuilt_at) VALUES (%s, %s, now())"
            " ON CONFLICT (workspace_id) DO UPDATE SET timezone = EXCLUDED.timezone, rebuilt_at = now()"
        ).format(s),
        (workspace_id, timezone),
    )


def refresh_rollup(
    conn: psycopg.Connection, schema: str, workspace_id: int, days: Sequence[date], timezone: str
) -> None:
    """Bring the rollup of ``days`` (local to ``timezone``) up to date with ``toggl_entries``; rebuilds the
    workspace's whole rollup when it is kept in another zone. Caller holds the load lock."""
    if rollup_zone(conn, schema, workspace_id) != timezone:
        rebuild_rollup(conn, schema, workspace_id, timezone)
        return
    if not days:
        return
    firsts, lasts = day_runs(days)
    conn.execute(
        sql.SQL(
            "DELETE FROM {}.toggl_daily_rollup r USING unnest(%(firsts)s::date[], %(lasts)s::date[]) AS d(first, last)"
            " WHERE r.workspace_id = %(ws1)s AND r.day BETWEEN d.first AND d.last"
        ).format(schema_ident(schema)),
        {"firsts": firsts, "lasts": lasts, "ws1": workspace_id},
    )
    _insert(conn, schema, {"ws": [workspace_id], "tz": timezone, "firsts": firsts, "lasts": lasts}, all_days=False)


def ensure_rollups(conn: psycopg.Connection, schema: str, workspace_ids: Iterable[int], timezone: str) -> list[int]:
    """Rebuild the rollup of each workspace not kept in ``timezone``; returns the workspaces rebuilt.

    Takes the load lock only when a rebuild is needed (a merge may otherwise run beside a weekly refresh).
    """
    stale = [ws for ws in workspace_ids if rollup_zone(conn, schema, ws) != timezone]
    if stale:
        lock_for_load(conn)
        for ws in stale:
            if rollup_zone(conn, schema, ws) != timezone:  # another writer may have rebuilt it meanwhile
                rebuild_rollup(conn, schema, ws, timezone)
    return stale
