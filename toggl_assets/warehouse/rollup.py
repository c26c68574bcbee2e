"""Per-day rollup of time entries: the source of the weekly summary view, kept current by every window merge.

``<raw>.toggl_daily_rollup`` holds, per workspace, local day, project, user and entry currency: the number of
stopped entries, their milliseconds, billable milliseconds and earnings in integer cents, and the first day of
the day's week (the view ``<analytics>.toggl_weekly_summary`` groups by it, through an index). Each workspace's
rollup has one calendar, recorded in ``<raw>.toggl_rollup_zones``: the time zone of its days and the weekday its
weeks start on. A merge in another zone rebuilds the workspace's rollup in that zone (keeping its week start); the
weekly summary asset, which knows ``TOGGL_WEEK_START``, rebuilds it when the week start differs too. A workspace
never rolled up gets Monday weeks (Toggl's default) until then.

The same per-day SELECT (:func:`daily_rows_sql`) fills the rollup and computes a single week straight from the
entries (the weekly report), so the two cannot disagree. Running entries are excluded (their length changes
every second); earnings follow the weekly report's rules (see :mod:`toggl_assets.warehouse.weekly`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql

from toggl_assets.warehouse.bulk import indexes_set_aside
from toggl_assets.warehouse.db import local_settings, lock_for_load, schema_ident

ROLLUP_COLUMNS = (
    "workspace_id", "day", "project_id", "user_id", "currency", "entries", "ms", "billable_ms", "cents", "week_start"
)  # fmt: skip
DEFAULT_WEEK_START = 1  # Toggl's beginning_of_week numbering, as PostgreSQL's dow: 0 = Sunday, 1 = Monday


@dataclass(frozen=True)
class Calendar:
    """The days of a rollup: local to ``timezone``, in weeks starting on ``week_start`` (0 = Sunday)."""

    timezone: str
    week_start: int = DEFAULT_WEEK_START

    def __post_init__(self) -> None:
        if not 0 <= self.week_start <= 6:
            raise ValueError(f"week_start must be a weekday number 0-6 (0 = Sunday), got {self.week_start!r}")


def week_of(day: date, week_start: int) -> date:
    """The first day of ``day``'s week, for weeks starting on ``week_start`` (0 = Sunday)."""
    return day - timedelta(days=(day.isoweekday() % 7 - week_start) % 7)


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
    """SELECT of :data:`ROLLUP_COLUMNS` from the entries of workspaces ``%(ws)s`` (bigint[]) in ``%(tz)s``, in
    weeks starting on weekday ``%(dow)s`` (0 = Sunday).

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
        """SELECT d.*, d.day - (extract(dow FROM d.day)::int - %(dow)s::int + 7) %% 7 AS week_start FROM (
        SELECT e.workspace_id, (e.start AT TIME ZONE %(tz)s)::date AS day, e.project_id, e.user_id, e.currency,
               count(*) AS entries, {s}.toggl_sum(e.duration_ms) AS ms,
               {s}.toggl_sum(e.duration_ms) FILTER (WHERE e.is_billable) AS billable_ms,
               {s}.toggl_sum((CASE WHEN e.is_billable
                         THEN round(100 * coalesce(e.billable_amount,
                                                   round(e.duration_ms * e.hourly_rate / 3600000.0, 2), 0))
                         ELSE 0 END)::bigint) AS cents
        FROM {s}.toggl_entries e {runs}
        WHERE e.workspace_id = ANY(%(ws)s::bigint[]) AND e.duration_ms IS NOT NULL {in_runs}
        GROUP BY 1, 2, 3, 4, 5) d"""
    ).format(
        s=s,
        runs=sql.SQL("") if all_days or days is not None else runs,
        in_runs=sql.SQL("") if all_days else in_runs,
    )


def rollup_calendar(conn: psycopg.Connection, schema: str, workspace_id: int) -> Calendar | None:
    """The calendar of ``workspace_id``'s rollup, or None if it has never been rolled up."""
    query = sql.SQL("SELECT timezone, week_start FROM {}.toggl_rollup_zones WHERE workspace_id = %s").format(
        schema_ident(schema)
    )
    row = conn.execute(query, (workspace_id,)).fetchone()
    return Calendar(row[0], row[1]) if row else None


def _insert(conn: psycopg.Connection, schema: str, params: dict, *, all_days: bool) -> None:
    # The entries are grouped by hashing, then the grouped rows (narrow, fewer) are sorted and written in (week, day)
    # order: the order the weekly reads fetch them in through the index. Left to itself the planner, which has no
    # statistics of freshly loaded entries, sorts the wide entry rows instead. Measured in a first load's merge:
    # 250k entries 0.76-0.86 s against 0.87-0.92 s, 1M the same (3.8-4.6 s); rows written in hash order would
    # have made a 1M-entry year's weekly figures 1.5-1.7 s instead of 0.9-1.0 s.
    _insert_rows(
        conn,
        schema,
        sql.SQL("{select} ORDER BY week_start, day").format(select=daily_rows_sql(schema, all_days=all_days)),
        params,
    )


def _insert_day_by_day(conn: psycopg.Connection, schema: str, params: dict, first: date, last: date) -> None:
    # One small aggregate per day, each day read through the start index: no hash table of a year's groups (a
    # 1M-entry year has ~900k; hashing into it is bound by memory access) and no sort: the loop over the days writes
    # them in order (which only the weekly reads' speed depends on). A first load of a 1M-entry year in start order:
    # 1.6 s against 2.2-2.3 s for the one-pass insert (timed statements, the same rows).
    day = sql.SQL("(%(first)s::date + i.n)")
    select = sql.SQL("SELECT g.* FROM generate_series(0, %(last)s::date - %(first)s::date) AS i(n), LATERAL ({}) g")
    _insert_rows(
        conn, schema, select.format(daily_rows_sql(schema, days=(day, day))), {**params, "first": first, "last": last}
    )


def _insert_rows(conn: psycopg.Connection, schema: str, select: sql.Composable, params: dict) -> None:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ROLLUP_COLUMNS)
    with local_settings(conn, work_mem="64MB", enable_sort="off"):
        conn.execute(
            sql.SQL("INSERT INTO {s}.toggl_daily_rollup ({cols}) {select}").format(
                s=schema_ident(schema), cols=columns, select=select
            ),
            params,
        )


# Blocks of toggl_entries sampled to tell whether a workspace's entries lie in the order of their start.
SAMPLED_BLOCKS = 200
# The least correlation of a row's block with its start (PostgreSQL's own measure of how well an index scan reads
# the heap) for which a rebuild reads day by day; a first load of Toggl's date-ordered pages gives 0.99-1.0.
CLUSTERED = 0.9
# Fewer entries per day of the span than this, and a probe of the index per day costs more than one pass.
MIN_ENTRIES_PER_DAY = 10


def days_in_start_order(conn: psycopg.Connection, schema: str, workspace_id: int, tz: str) -> tuple[date, date] | None:
    """The first and last local day of the workspace's stopped entries, when they lie in ``toggl_entries`` in
    about the order of their start, a b-tree index on ``start`` reads them day by day and the days hold enough of them
    (:data:`MIN_ENTRIES_PER_DAY`) to be worth a probe each; else None.

    The order is judged on a sample of the table's blocks (at least a hundred of the workspace's rows), as
    ANALYZE does: freshly loaded tables have no statistics."""
    s = schema_ident(schema)
    plan = conn.execute(
        sql.SQL(
            """SELECT pg_relation_size(t.oid) / current_setting('block_size')::int, EXISTS (
                SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                JOIN pg_class x ON x.oid = i.indexrelid JOIN pg_am m ON m.oid = x.relam
                WHERE i.indrelid = t.oid AND a.attname = 'start' AND m.amname = 'btree' AND i.indisvalid
                  AND i.indpred IS NULL)
            FROM pg_class t WHERE t.oid = %s::regclass"""
        ),
        (f"{schema}.toggl_entries",),
    ).fetchone()
    if not plan or not plan[1] or not plan[0]:
        return None
    percent = min(100.0, 100.0 * SAMPLED_BLOCKS / plan[0])
    sample = conn.execute(
        sql.SQL(
            "SELECT count(*), abs(corr((e.ctid::text::point)[0], date_part('epoch', e.start)))"
            " FROM {}.toggl_entries e TABLESAMPLE SYSTEM (%s) REPEATABLE (0) WHERE e.workspace_id = %s"
        ).format(s),
        (percent, workspace_id),
    ).fetchone()
    if not sample or sample[0] < 100 or sample[1] is None or sample[1] < CLUSTERED:
        return None
    bounds = conn.execute(
        sql.SQL(
            "SELECT (min(start) AT TIME ZONE %(tz)s)::date, (max(start) AT TIME ZONE %(tz)s)::date"
            " FROM {}.toggl_entries WHERE workspace_id = %(ws)s AND duration_ms IS NOT NULL"
        ).format(s),
        {"tz": tz, "ws": workspace_id},
    ).fetchone()
    if not bounds or bounds[0] is None:
        return None
    entries = sample[0] * 100.0 / percent  # the workspace's rows, estimated from the sample
    if entries < MIN_ENTRIES_PER_DAY * ((bounds[1] - bounds[0]).days + 1):
        return None
    return bounds[0], bounds[1]


def rebuild_rollup(
    conn: psycopg.Connection, schema: str, workspace_id: int, calendar: Calendar, *, entries: int = 0
) -> None:
    """Recompute ``workspace_id``'s whole rollup in ``calendar`` and record it (caller holds the load lock).

    ``entries``: at least how many entries the workspace holds (its rollup has at most that many rows). When
    they outnumber the rollup's other rows, the rollup's index is set aside for the insert and built after it
    (:mod:`toggl_assets.warehouse.bulk`): a first load's rebuild. Entries stored in the order of their start (as a
    first load of Toggl's date-ordered report pages leaves them) are read day by day through the start index;
    others in one pass over the table (day by day, a shuffled table would be read once per day)."""
    s = schema_ident(schema)
    conn.execute(sql.SQL("DELETE FROM {}.toggl_daily_rollup WHERE workspace_id = %s").format(s), (workspace_id,))
    params = {"ws": [workspace_id], "tz": calendar.timezone, "dow": calendar.week_start}
    days = days_in_start_order(conn, schema, workspace_id, calendar.timezone)
    with indexes_set_aside(conn, schema, "toggl_daily_rollup", rows=entries):
        if days:
            _insert_day_by_day(conn, schema, params, *days)
        else:
            _insert(conn, schema, params, all_days=True)
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.toggl_rollup_zones (workspace_id, timezone, week_start, rebuilt_at)"
            " VALUES (%s, %s, %s, now()) ON CONFLICT (workspace_id) DO UPDATE"
            " SET timezone = EXCLUDED.timezone, week_start = EXCLUDED.week_start, rebuilt_at = now()"
        ).format(s),
        (workspace_id, calendar.timezone, calendar.week_start),
    )


def refresh_rollup(
    conn: psycopg.Connection,
    schema: str,
    workspace_id: int,
    days: Sequence[date],
    timezone: str,
    *,
    entries: int = 0,
) -> None:
    """Bring the rollup of ``days`` (local to ``timezone``) up to date with ``toggl_entries``; rebuilds the
    workspace's whole rollup when it is kept in another zone (its weeks keep their start; ``entries``: see
    :func:`rebuild_rollup`). Caller holds the load lock."""
    calendar = rollup_calendar(conn, schema, workspace_id)
    if calendar is None or calendar.timezone != timezone:
        week_start = calendar.week_start if calendar else DEFAULT_WEEK_START
        rebuild_rollup(conn, schema, workspace_id, Calendar(timezone, week_start), entries=entries)
        return
    if not days:
        return
    firsts, lasts = day_runs(days)
    # The week bounds let the (workspace_id, week_start, day) index find the days.
    conn.execute(
        sql.SQL(
            "DELETE FROM {}.toggl_daily_rollup r USING unnest(%(firsts)s::date[], %(lasts)s::date[]) AS d(first, last)"
            " WHERE r.workspace_id = %(ws1)s AND r.week_start BETWEEN d.first - 6 AND d.last"
            " AND r.day BETWEEN d.first AND d.last"
        ).format(schema_ident(schema)),
        {"firsts": firsts, "lasts": lasts, "ws1": workspace_id},
    )
    params = {"ws": [workspace_id], "tz": timezone, "dow": calendar.week_start, "firsts": firsts, "lasts": lasts}
    _insert(conn, schema, params, all_days=False)


def ensure_rollups(
    conn: psycopg.Connection, schema: str, workspace_ids: Iterable[int], calendar: Calendar
) -> list[int]:
    """Rebuild the rollup of each workspace not kept in ``calendar``; returns the workspaces rebuilt.

    Takes the load lock only when a rebuild is needed (a merge may otherwise run beside a weekly refresh).
    """
    stale = [ws for ws in workspace_ids if rollup_calendar(conn, schema, ws) != calendar]
    if stale:
        lock_for_load(conn)
        for ws in stale:
            if rollup_calendar(conn, schema, ws) != calendar:  # another writer may have rebuilt it meanwhile
                rebuild_rollup(conn, schema, ws, calendar)
    return stale
