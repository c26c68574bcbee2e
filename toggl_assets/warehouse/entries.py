"""Time entries: staged with binary COPY, then merged into ``toggl_entries`` one workspace and window at a time.

Transactions belong to the caller: :meth:`EntryStaging.merge_window` commits nothing, takes the warehouse's
advisory load lock and refuses an autocommit connection outside ``conn.transaction()``.

A merge writes ONE workspace: staged rows of other workspaces are ignored, only that workspace's entries of the
window are deleted, and an entry row of another workspace is never changed. References to rows the metadata
tables lack get placeholder rows first (:mod:`toggl_assets.warehouse.placeholders`), so foreign keys hold.

Foreign keys stay declared and enforced. A row-by-row check costs more than the merge itself, so when the
connection's role may set ``session_replication_role`` (a superuser, such as the embedded server's), the merge
checks the window's references set-based instead, taking the same ``FOR KEY SHARE`` row locks the per-row
triggers take, and fails if any reference is missing; other roles get the per-row triggers.

Text policy: NUL bytes are removed from every text field (PostgreSQL text cannot hold them); everything else
(unicode, emoji, quotes, commas, braces, very long text) is stored unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from toggl_assets.records import EntryRecord
from toggl_assets.warehouse.db import (
    WarehouseError,
    lock_for_load,
    schema_ident,
    validate_schema_name,
    validate_timezone,
)
from toggl_assets.warehouse.history import mark_synced_days
from toggl_assets.warehouse.placeholders import ensure_workspace, placeholders_from_table
from toggl_assets.warehouse.rollup import refresh_rollup
from toggl_assets.warehouse.values import clean_text


@dataclass(frozen=True)
class DayStats:
    """One local day of a merged window: ``rows`` = the workspace's entries now in that day (running ones too);
    ``inserted``/``updated`` by the entry's new start, ``deleted`` by its old start."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class EntryLoadStats:
    """Outcome of :meth:`EntryStaging.merge_window`."""

    fetched: int = 0  # rows staged in total (all workspaces and windows, before de-duplication)
    in_window: int = 0  # distinct staged ids of the workspace whose start lies in the window
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    placeholders: dict[str, int] = field(default_factory=dict)
    # Every local day of the window (zeros included), in order.
    by_day: dict[date, DayStats] = field(default_factory=dict)
    # Local days outside the window that lost an entry moved into it (their weeks changed too).
    moved_from: tuple[date, ...] = ()


# Staged columns: (column, column type, binary COPY type).
STAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("id", "BIGINT NOT NULL", "int8"),
    ("workspace_id", "BIGINT NOT NULL", "int8"),
    ("project_id", "BIGINT", "int8"),
    ("task_id", "BIGINT", "int8"),
    ("user_id", "BIGINT", "int8"),
    ("description", "TEXT", "text"),
    ("start", "TIMESTAMPTZ NOT NULL", "timestamptz"),
    ("end", "TIMESTAMPTZ", "timestamptz"),
    ("duration_ms", "BIGINT", "int8"),
    ("is_billable", "BOOLEAN", "bool"),
    ("billable_amount", "NUMERIC(14, 2)", "numeric"),
    ("currency", "TEXT", "text"),
    ("tags", "TEXT[]", "text[]"),
    ("tag_ids", "BIGINT[]", "int8[]"),
    ("updated_at", "TIMESTAMPTZ", "timestamptz"),
    ("hourly_rate", "NUMERIC(14, 2)", "numeric"),
    ("project_name", "TEXT", "text"),
    ("client_name", "TEXT", "text"),
    ("task_name", "TEXT", "text"),
    ("user_name", "TEXT", "text"),
    ("user_email", "TEXT", "text"),
)
# Columns copied from the window into toggl_entries (and compared to detect changes).
ENTRY_COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in STAGE_COLUMNS[:16])
# (entries column, referenced table) of every foreign key of toggl_entries.
ENTRY_REFERENCES = (
    ("workspace_id", "toggl_workspaces"),
    ("project_id", "toggl_projects"),
    ("task_id", "toggl_tasks"),
    ("user_id", "toggl_users"),
)


def entry_row(record: EntryRecord) -> tuple[Any, ...]:
    """The staged row of one record (NUL bytes removed from text; tuples become arrays)."""
    c = clean_text
    return (
        record.id, record.workspace_id, record.project_id, record.task_id, record.user_id, c(record.description),
        record.start, record.end, record.duration_ms, record.is_billable, record.billable_amount, c(record.currency),
        [c(t) for t in record.tags], list(record.tag_ids), record.updated_at, record.hourly_rate,
        c(record.project_name), c(record.client_name), c(record.task_name), c(record.user_name), c(record.user_email),
    )  # fmt: skip


def window_days(window_start: datetime, window_end: datetime, timezone: str) -> list[date]:
    """Every local day (in ``timezone``) that [window_start, window_end) overlaps, in order."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("window_start and window_end must be timezone-aware")
    if window_end <= window_start:
        raise ValueError("window_end must be after window_start")
    zone = ZoneInfo(validate_timezone(timezone))
    first = window_start.astimezone(zone).date()
    last = (window_end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def build_merge_sql(schema: str, window: str) -> sql.Composed:
    """Upsert the window table into toggl_entries; yields (day, inserted, updated, moved_from) rows.

    ``moved_from`` rows name the local day an updated entry left (before this statement's update).
    """
    ident = [sql.Identifier(c) for c in ENTRY_COLUMNS]
    non_id = ident[1:]
    return sql.SQL(
        """WITH old AS (
            SELECT DISTINCT (e.start AT TIME ZONE %(tz)s)::date AS day
            FROM {s}.toggl_entries e JOIN {w} w ON w.id = e.id
            WHERE e.workspace_id = %(ws)s AND e.start <> w.start
        ), up AS (
            INSERT INTO {s}.toggl_entries AS t ({cols}, synced_at)
            SELECT {cols}, coalesce(%(synced_at)s::timestamptz, now()) FROM {w}
            ON CONFLICT (id) DO UPDATE SET {assign}, synced_at = EXCLUDED.synced_at
            WHERE ({old}) IS DISTINCT FROM ({new}) AND t.workspace_id = EXCLUDED.workspace_id
            RETURNING (xmax = 0) AS inserted, (t.start AT TIME ZONE %(tz)s)::date AS day
        )
        SELECT day, count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), false FROM up GROUP BY day
        UNION ALL SELECT day, 0, 0, true FROM old"""
    ).format(
        s=schema_ident(schema),
        w=sql.Identifier(window),
        cols=sql.SQL(", ").join(ident),
        assign=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(i) for i in non_id),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(i) for i in non_id),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(i) for i in non_id),
    )


def delete_unstaged(conn: psycopg.Connection, schema: str, stage_table: str, params: dict[str, Any]) -> dict[date, int]:
    """Delete the workspace's entries starting in the window whose id the workspace's stage does not hold;
    returns how many per local day. ``params``: ws, start, end, tz."""
    query = sql.SQL(
        """WITH del AS (
            DELETE FROM {s}.toggl_entries e
            WHERE e.workspace_id = %(ws)s AND e.start >= %(start)s AND e.start < %(end)s
              AND NOT EXISTS (SELECT 1 FROM {stage} st WHERE st.id = e.id AND st.workspace_id = %(ws)s)
            RETURNING (e.start AT TIME ZONE %(tz)s)::date AS day
        ) SELECT day, count(*) FROM del GROUP BY day"""
    ).format(s=schema_ident(schema), stage=sql.Identifier(stage_table))
    return {day: int(n) for day, n in conn.execute(query, params)}


def rows_per_day(
    conn: psycopg.Connection, schema: str, workspace_id: int, days: list[date], tz: str
) -> dict[date, int]:
    """The workspace's entries (running ones included) per local day over ``days[0] .. days[-1]``."""
    query = sql.SQL(
        """SELECT (start AT TIME ZONE %(tz)s)::date, count(*) FROM {}.toggl_entries
        WHERE workspace_id = %(ws)s AND start >= (%(first)s::date::timestamp AT TIME ZONE %(tz)s)
          AND start < ((%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s)
        GROUP BY 1"""
    ).format(schema_ident(schema))
    params = {"tz": tz, "ws": workspace_id, "first": days[0], "last": days[-1]}
    return {day: int(n) for day, n in conn.execute(query, params)}


def can_check_references_set_based(conn: psycopg.Connection) -> bool:
    """Whether this role may switch off the per-row foreign-key triggers for one statement."""
    row = conn.execute(
        "SELECT rolsuper OR (current_setting('server_version_num')::int >= 150000"
        " AND has_parameter_privilege('session_replication_role', 'SET'))"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    return bool(row and row[0])


def check_references(conn: psycopg.Connection, schema: str, window: str) -> None:
    """Lock (``FOR KEY SHARE``, as the foreign-key triggers do) every row the window references; raise
    :class:`WarehouseError` if one is missing. One statement per foreign key, whatever the window's size."""
    s, w = schema_ident(schema), sql.Identifier(window)
    for column, table in ENTRY_REFERENCES:
        query = sql.SQL(
            """WITH ref AS (SELECT DISTINCT {c} AS id FROM {w} WHERE {c} IS NOT NULL),
            locked AS (SELECT x.id FROM {s}.{t} x WHERE x.id IN (SELECT id FROM ref) FOR KEY SHARE)
            SELECT (SELECT count(*) FROM ref) - (SELECT count(*) FROM locked)"""
        ).format(c=sql.Identifier(column), w=w, s=s, t=sql.Identifier(table))
        row = conn.execute(query).fetchone()
        if row and row[0]:
            raise WarehouseError(f"{row[0]} {column} value(s) of the window reference no row of {table}")


class EntryStaging:
    """Stage time entries in a temporary table, then merge them workspace by workspace, window by window.

    ``EntryStaging(conn)`` creates a TEMP table (ON COMMIT PRESERVE ROWS, private to this connection) in the
    current transaction; :meth:`add` streams records into it with binary ``COPY`` (memory stays flat: pass pages
    as they arrive); :meth:`merge_window` writes one workspace's window into ``toggl_entries`` inside the caller's
    transaction; :meth:`close` drops the table. Creating the stage inside a transaction that is then rolled back
    drops the table too. Usable as a context manager (closes on exit, commits nothing).
    ``set_based_references=False`` always leaves reference checks to the per-row foreign-key triggers.
    """

    def __init__(self, conn: psycopg.Connection, schema: str = "raw", *, set_based_references: bool = True) -> None:
        self.conn = conn
        self.schema = validate_schema_name(schema, "schema")
        self.table = f"toggl_entry_stage_{uuid.uuid4().hex[:12]}"
        self.set_based_references = set_based_references
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind, _ in STAGE_COLUMNS
        )
        # seq records staging order so that "last staged wins" when an id is staged twice.
        conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (seq BIGINT GENERATED ALWAYS AS IDENTITY, {}) ON COMMIT PRESERVE ROWS"
            ).format(sql.Identifier(self.table), columns)
        )
        self.staged = 0

    def __enter__(self) -> EntryStaging:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

    def add(self, records: Iterable[EntryRecord]) -> int:
        """Append records to the stage with binary COPY; returns how many. NUL bytes are removed from text."""
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(self.table), sql.SQL(", ").join(sql.Identifier(c) for c, _, _ in STAGE_COLUMNS)
        )
        count = 0
        with self.conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.set_types([t for _, _, t in STAGE_COLUMNS])
            for record in records:
                copy.write_row(entry_row(record))
                count += 1
        self.staged += count
        return count

    def _create_window(self, window: str, params: dict[str, Any]) -> int:
        """The workspace's staged rows in the window, the last staged version of each id only; returns how many.

        No sort: duplicates (rare) are found by one hash aggregate and only superseded versions are skipped.
        A version superseded by one staged later with a start outside the window is skipped too.
        """
        stage = sql.Identifier(self.table)
        columns = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c, _, _ in STAGE_COLUMNS)
        self.conn.execute(sql.SQL("ANALYZE {}").format(stage))
        cur = self.conn.execute(
            sql.SQL(
                """CREATE TEMP TABLE {w} AS
                WITH dup AS (
                    SELECT id, max(seq) AS seq FROM {stage} WHERE workspace_id = %(ws)s GROUP BY id HAVING count(*) > 1
                )
                SELECT {cols} FROM {stage} s
                WHERE s.workspace_id = %(ws)s AND s.start >= %(start)s AND s.start < %(end)s
                  AND NOT EXISTS (SELECT 1 FROM dup d WHERE d.id = s.id AND d.seq <> s.seq)"""
            ).format(w=sql.Identifier(window), stage=stage, cols=columns),
            params,
        )
        self.conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(window)))
        return max(cur.rowcount, 0)

    def _write(self, window: str, params: dict[str, Any]) -> tuple[dict[date, tuple[int, int]], list[date], dict]:
        """Upsert and delete; returns ((inserted, updated) per day, days moved from, deleted per day)."""
        conn = self.conn
        fast = self.set_based_references and can_check_references_set_based(conn)
        if fast:
            check_references(conn, self.schema, window)
            conn.execute("SET LOCAL session_replication_role = replica")
        upserted: dict[date, tuple[int, int]] = {}
        moved_from: list[date] = []
        for day, inserted, updated, moved in conn.execute(build_merge_sql(self.schema, window), params):
            if moved:
                moved_from.append(day)
            else:
                upserted[day] = (int(inserted), int(updated))
        deleted = delete_unstaged(conn, self.schema, self.table, params)
        if fast:
            conn.execute("SET LOCAL session_replication_role = origin")
        return upserted, moved_from, deleted

    def merge_window(
        self,
        workspace_id: int,
        window_start: datetime,
        window_end: datetime,
        *,
        timezone: str,
        synced_at: datetime | None = None,
    ) -> EntryLoadStats:
        """Make workspace ``workspace_id``'s entries whose start is in [window_start, window_end) match the stage.

        In the caller's transaction (nothing is committed): staged rows of other workspaces or outside the window
        are ignored; an id staged twice keeps its last version; missing workspace/users/projects/tasks/tags get
        placeholder rows; entries are inserted, or updated only when a value changed; the workspace's entries
        starting in the window whose id it did not stage at all are deleted (an entry staged with a start in
        another window is left for that window's merge). Running entries (no end, no duration) are stored as
        such. Also records every local day of the window (in ``timezone``) as synced and brings the daily rollup
        of the days it touched up to date. ``synced_at`` defaults to the transaction's ``now()``.
        """
        days = window_days(window_start, window_end, timezone)
        lock_for_load(self.conn)
        ensure_workspace(self.conn, self.schema, workspace_id)
        window = f"{self.table}_window"
        params = {"ws": workspace_id, "start": window_start, "end": window_end, "tz": timezone, "synced_at": synced_at}
        self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(window)))
        in_window = self._create_window(window, params)
        placeholders = placeholders_from_table(self.conn, self.schema, window)
        upserted, moved_from, deleted = self._write(window, params)
        self.conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(window)))
        rows = rows_per_day(self.conn, self.schema, workspace_id, days, timezone)
        moved = tuple(sorted(set(moved_from) - set(days)))
        refresh_rollup(self.conn, self.schema, workspace_id, [*days, *moved], timezone)
        mark_synced_days(self.conn, self.schema, workspace_id, days, synced_at)
        by_day = {
            d: DayStats(rows.get(d, 0), *upserted.get(d, (0, 0)), deleted.get(d, 0)) for d in days
        }  # fmt: skip
        inserted = sum(i for i, _ in upserted.values())
        updated = sum(u for _, u in upserted.values())
        return EntryLoadStats(
            fetched=self.staged,
            in_window=in_window,
            inserted=inserted,
            updated=updated,
            unchanged=in_window - inserted - updated,
            deleted=sum(deleted.values()),
            placeholders=placeholders,
            by_day=by_day,
            moved_from=moved,
        )

    def close(self) -> None:
        """Drop the temporary table (harmless if a rollback already dropped it)."""
        if not self.conn.closed:
            self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.table)))
