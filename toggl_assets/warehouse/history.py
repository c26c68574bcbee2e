"""What the warehouse knows about its own history, per workspace: synced days, daily totals, the watermark.

These are the plain SQL functions a reconciliation with Toggl builds on:

* ``<raw>.toggl_synced_days`` lists every local day a window merge covered (:func:`synced_days`): the "synced
  history" of a workspace;
* :func:`daily_seconds` gives the warehouse's side of a day-by-day comparison with Toggl's totals;
* :func:`entry_days` finds the current day of entries (the old day of an entry that moved);
* ``<raw>.toggl_sync_state`` holds the ``last_update`` watermark (:func:`get_watermark`,
  :func:`advance_watermark`), written in the caller's transaction so it never gets ahead of committed work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import require_transaction, schema_ident, validate_timezone
from toggl_assets.warehouse.placeholders import ensure_workspace

_DATA_TABLES = ("toggl_entries", "toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks")


def mark_synced_days(
    conn: psycopg.Connection, schema: str, workspace_id: int, days: Iterable[date], synced_at: datetime | None = None
) -> None:
    """Record ``days`` of ``workspace_id`` as synced at ``synced_at`` (default: the transaction's ``now()``)."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.toggl_synced_days (workspace_id, day, synced_at)"
            " SELECT %s, d, coalesce(%s::timestamptz, now()) FROM unnest(%s::date[]) AS d"
            " ON CONFLICT (workspace_id, day) DO UPDATE SET synced_at = EXCLUDED.synced_at"
        ).format(schema_ident(schema)),
        (workspace_id, synced_at, sorted(set(days))),
    )


def synced_days(conn: psycopg.Connection, schema: str, workspace_id: int) -> list[date]:
    """Every local day of ``workspace_id`` that a window merge has covered, in order."""
    query = sql.SQL("SELECT day FROM {}.toggl_synced_days WHERE workspace_id = %s ORDER BY day").format(
        schema_ident(schema)
    )
    return [row[0] for row in conn.execute(query, (workspace_id,))]


def days_synced_since(conn: psycopg.Connection, schema: str, workspace_id: int, since: datetime) -> set[date]:
    """The days of ``workspace_id`` whose last window merge read Toggl at or after ``since``."""
    query = sql.SQL("SELECT day FROM {}.toggl_synced_days WHERE workspace_id = %s AND synced_at >= %s").format(
        schema_ident(schema)
    )
    return {row[0] for row in conn.execute(query, (workspace_id, since))}


def daily_seconds(
    conn: psycopg.Connection,
    schema: str,
    workspace_id: int,
    first_day: date,
    last_day: date,
    timezone: str,
    *,
    by_user_timezone: bool = False,
) -> dict[date, int]:
    """Seconds of the workspace's stopped entries per local day of their start, for every day of
    [first_day, last_day] (0 for a day without entries).

    Each entry counts ``floor(duration_ms / 1000)`` seconds (as the weekly report's ``seconds``), summed per
    day; running entries count nothing. Days are local to ``timezone``, or with ``by_user_timezone`` to each
    entry's user's profile zone (``toggl_users.timezone``; ``timezone`` when unknown or not a zone PostgreSQL
    knows): Toggl does not document the zone of its daily totals.
    """
    validate_timezone(timezone)
    zone = (
        sql.SQL("coalesce((SELECT z.name FROM zones z WHERE z.id = e.user_id), %(tz)s)")
        if by_user_timezone
        else sql.SQL("%(tz)s")
    )
    query = sql.SQL(
        """WITH zones AS (
            SELECT u.id, u.timezone AS name FROM {s}.toggl_users u
            WHERE u.timezone IN (SELECT name FROM pg_timezone_names)
        ), days AS (
            SELECT (e.start AT TIME ZONE {zone})::date AS day, e.duration_ms / 1000 AS seconds
            FROM {s}.toggl_entries e
            WHERE e.workspace_id = %(ws)s AND e.duration_ms IS NOT NULL
              AND e.start >= ((%(first)s::date - %(margin)s)::timestamp AT TIME ZONE %(tz)s)
              AND e.start < ((%(last)s::date + 1 + %(margin)s)::timestamp AT TIME ZONE %(tz)s)
        )
        SELECT day, sum(seconds) FROM days WHERE day BETWEEN %(first)s AND %(last)s GROUP BY day"""
    ).format(s=schema_ident(schema), zone=zone)
    # Profile zones are at most 26 hours apart: two days of margin cover every entry's local day.
    params = {"ws": workspace_id, "first": first_day, "last": last_day, "tz": timezone,
              "margin": 2 if by_user_timezone else 0}  # fmt: skip
    found = {day: int(seconds) for day, seconds in conn.execute(query, params)}
    count = (last_day - first_day).days + 1
    return {d: found.get(d, 0) for d in (first_day + timedelta(days=i) for i in range(max(count, 0)))}


def entry_days(
    conn: psycopg.Connection, schema: str, workspace_id: int, ids: Sequence[int], timezone: str
) -> dict[int, date]:
    """The current local day (in ``timezone``) of each of ``ids`` the workspace holds; unknown ids are absent."""
    validate_timezone(timezone)
    query = sql.SQL(
        "SELECT id, (start AT TIME ZONE %s)::date FROM {}.toggl_entries WHERE workspace_id = %s AND id = ANY(%s)"
    ).format(schema_ident(schema))
    return {int(i): day for i, day in conn.execute(query, (timezone, workspace_id, list(ids)))}


def get_watermark(conn: psycopg.Connection, schema: str, workspace_id: int) -> datetime | None:
    """The workspace's ``last_update`` watermark, or None if none was ever recorded."""
    query = sql.SQL("SELECT last_update_watermark FROM {}.toggl_sync_state WHERE workspace_id = %s").format(
        schema_ident(schema)
    )
    row = conn.execute(query, (workspace_id,)).fetchone()
    return row[0] if row else None


def advance_watermark(conn: psycopg.Connection, schema: str, workspace_id: int, at: datetime) -> None:
    """Move the workspace's watermark to ``at`` unless it is already later (it never moves backwards), and
    stamp ``reconciled_at``. In the caller's transaction: it commits with the work it describes, or not at all."""
    if at.tzinfo is None:
        raise ValueError("the watermark must be timezone-aware")
    require_transaction(conn)
    ensure_workspace(conn, schema, workspace_id)
    conn.execute(
        sql.SQL(
            """INSERT INTO {s}.toggl_sync_state AS t (workspace_id, last_update_watermark, reconciled_at)
            VALUES (%s, %s, now())
            ON CONFLICT (workspace_id) DO UPDATE
            SET last_update_watermark = greatest(t.last_update_watermark, EXCLUDED.last_update_watermark),
                reconciled_at = now()"""
        ).format(s=schema_ident(schema)),
        (workspace_id, at),
    )


def warehouse_workspace_ids(conn: psycopg.Connection, schema: str = "raw") -> list[int]:
    """Workspaces that have rows in the warehouse (entries, metadata or synced days), in order."""
    s = schema_ident(schema)
    tests = [
        sql.SQL("EXISTS (SELECT 1 FROM {}.{} r WHERE r.workspace_id = w.id)").format(s, sql.Identifier(t))
        for t in ("toggl_synced_days", *reversed(_DATA_TABLES))
    ]
    query = sql.SQL("SELECT w.id FROM {}.toggl_workspaces w WHERE {} ORDER BY w.id").format(
        s, sql.SQL(" OR ").join(tests)
    )
    return [int(row[0]) for row in conn.execute(query)]


def first_synced_at(conn: psycopg.Connection, schema: str, workspace_id: int) -> datetime | None:
    """When the workspace's oldest synced day was last synced: the first watermark of its history."""
    query = sql.SQL("SELECT min(synced_at) FROM {}.toggl_synced_days WHERE workspace_id = %s").format(
        schema_ident(schema)
    )
    row = conn.execute(query, (workspace_id,)).fetchone()
    return row[0] if row else None


def entry_versions(
    conn: psycopg.Connection, schema: str, workspace_id: int, ids: Sequence[int], timezone: str
) -> dict[int, tuple[datetime | None, date]]:
    """(Toggl's ``at``, local day in ``timezone``) of each of ``ids`` the workspace holds; unknown ids absent."""
    validate_timezone(timezone)
    query = sql.SQL(
        "SELECT id, updated_at, (start AT TIME ZONE %s)::date FROM {}.toggl_entries"
        " WHERE workspace_id = %s AND id = ANY(%s)"
    ).format(schema_ident(schema))
    return {int(i): (at, day) for i, at, day in conn.execute(query, (timezone, workspace_id, list(ids)))}
