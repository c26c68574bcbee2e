"""SQL-level data checks on the raw tables, cheap enough to run after every load (e.g. as asset checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from toggl_assets.warehouse.db import schema_ident
from toggl_assets.warehouse.values import json_safe

SAMPLE_SIZE = 10
# Toggl stores start/stop with second precision but durations in seconds too; the detailed report can
# truncate sub-second parts differently for start, stop and duration, so up to 999 ms of drift is normal.
DURATION_TOLERANCE_MS = 1000
TABLES = (
    "toggl_workspaces",
    "toggl_clients",
    "toggl_projects",
    "toggl_tags",
    "toggl_users",
    "toggl_tasks",
    "toggl_entries",
)

# Referencing table -> {column: referenced table}; every table but toggl_workspaces also references its workspace.
_REFERENCES: dict[str, dict[str, str]] = {
    "toggl_entries": {
        "project_id": "toggl_projects",
        "task_id": "toggl_tasks",
        "user_id": "toggl_users",
        "tag_ids": "toggl_tags",  # an array: no FK can guard it
    },
    "toggl_projects": {"client_id": "toggl_clients"},
    "toggl_tasks": {"project_id": "toggl_projects"},
}


def _references(tables: tuple[str, ...]) -> list[tuple[str, str, str, str]]:
    """(table, column, referenced table, SQL expression of the referenced id) of every reference of ``tables``."""
    found = []
    for table in tables:
        if table == "toggl_workspaces":
            continue
        for column, target in {**_REFERENCES.get(table, {}), "workspace_id": "toggl_workspaces"}.items():
            expression = f"unnest({column})" if column == "tag_ids" else column
            found.append((table, column, target, expression))
    return found


@dataclass(frozen=True)
class CheckResult:
    """``sample``: up to :data:`SAMPLE_SIZE` offending rows as JSON-ready dicts (dates as ISO strings)."""

    passed: bool
    failures: int
    sample: list[Any] = field(default_factory=list)
    description: str = ""


def _row(**values: Any) -> dict[str, Any]:
    """A sample row, JSON-ready (samples end up in Dagster metadata)."""
    return {k: json_safe(v) for k, v in values.items()}


def _window_filter(workspace_id: int | None) -> sql.Composable:
    """``start`` in [%(start)s, %(end)s), of one workspace when ``workspace_id`` is given."""
    scope = "" if workspace_id is None else " AND workspace_id = %(ws)s"
    return sql.SQL("start >= %(start)s AND start < %(end)s" + scope)


def foreign_keys_resolve(
    conn: psycopg.Connection, schema: str = "raw", tables: tuple[str, ...] = TABLES
) -> CheckResult:
    """Every reference of ``tables`` resolves: entries' project/task/user and each tag id, projects' client,
    tasks' project, every row's workspace.

    The real FKs already enforce most of these; ``tag_ids`` (an array) cannot have one, and the check also
    catches FKs that were disabled or dropped.
    """
    s = schema_ident(schema)
    references = _references(tables)
    if not references:
        return CheckResult(True, 0, [], "no references")
    parts = [
        sql.SQL(
            "SELECT {label} AS reference, r.id, r.ref FROM (SELECT id, {expression} AS ref FROM {s}.{table}) r"
            " WHERE r.ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {s}.{target} x WHERE x.id = r.ref)"
        ).format(
            label=sql.Literal(f"{table}.{column}"),
            expression=sql.SQL(expression),
            s=s,
            table=sql.Identifier(table),
            target=sql.Identifier(target),
        )
        for table, column, target, expression in references
    ]
    query = sql.SQL("SELECT reference, id, ref, count(*) OVER () FROM ({}) u ORDER BY reference, id LIMIT %s").format(
        sql.SQL(" UNION ALL ").join(parts)
    )
    rows = conn.execute(query, (SAMPLE_SIZE,)).fetchall()
    failures = int(rows[0][3]) if rows else 0
    sample = [{"reference": r[0], "id": r[1], "missing": r[2]} for r in rows]
    return CheckResult(failures == 0, failures, sample, "references resolve")


def tables_unique_by_index(conn: psycopg.Connection, schema: str, tables: tuple[str, ...]) -> set[str]:
    """The tables of ``tables`` whose ``id`` a unique index keeps unique now: valid, checked at once (not
    deferred), on exactly the NOT NULL column ``id``, with no expression and no predicate (a primary key is one)."""
    rows = conn.execute(
        """SELECT c.relname FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
        WHERE n.nspname = %s AND c.relname = ANY(%s)
          AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indisready AND i.indislive
          AND i.indnkeyatts = 1 AND i.indexprs IS NULL AND i.indpred IS NULL
          AND a.attname = 'id' AND a.attnotnull""",
        (schema, list(tables)),
    ).fetchall()
    return {row[0] for row in rows}


def no_duplicate_ids(conn: psycopg.Connection, schema: str = "raw", tables: tuple[str, ...] = TABLES) -> CheckResult:
    """No table holds an id twice. The primary keys guarantee it; this guards against a dropped or disabled key:
    a table whose unique index on ``id`` is in place needs no count (on a year of a million entries the count
    took 0.8-1.0 s of every run), the others are counted."""
    guarded = tables_unique_by_index(conn, schema, tables)
    counted = tuple(t for t in tables if t not in guarded)
    if not counted:
        return CheckResult(True, 0, [], "ids unique (a unique index on id in every table)")
    s = schema_ident(schema)
    parts = [
        sql.SQL("SELECT {label} AS tbl, id, count(*) AS n FROM {s}.{t} GROUP BY id HAVING count(*) > 1").format(
            label=sql.Literal(t), s=s, t=sql.Identifier(t)
        )
        for t in counted
    ]
    query = sql.SQL("SELECT tbl, id, n, count(*) OVER () FROM ({}) u ORDER BY tbl, id LIMIT %s").format(
        sql.SQL(" UNION ALL ").join(parts)
    )
    rows = conn.execute(query, (SAMPLE_SIZE,)).fetchall()
    failures = int(rows[0][3]) if rows else 0
    return CheckResult(
        failures == 0,
        failures,
        [{"table": r[0], "id": r[1], "count": r[2]} for r in rows],
        f"ids unique (counted in {', '.join(counted)})",
    )


def durations_consistent(conn: psycopg.Connection, schema: str = "raw") -> CheckResult:
    """Stopped entries: ``end - start`` equals ``duration_ms`` within :data:`DURATION_TOLERANCE_MS`.

    Also fails entries with only one of end/duration set (a running entry has neither) or a negative
    duration. The tolerance absorbs sub-second truncation of start, stop and duration.
    """
    query = sql.SQL(
        """SELECT id, start, "end", duration_ms, count(*) OVER () FROM {s}.toggl_entries
        WHERE ("end" IS NULL) <> (duration_ms IS NULL)
           OR duration_ms < 0
           OR abs(extract(epoch FROM "end" - start) * 1000 - duration_ms) >= %s
        ORDER BY id LIMIT %s"""
    ).format(s=schema_ident(schema))
    rows = conn.execute(query, (DURATION_TOLERANCE_MS, SAMPLE_SIZE)).fetchall()
    failures = int(rows[0][4]) if rows else 0
    sample = [_row(id=r[0], start=r[1], end=r[2], duration_ms=r[3]) for r in rows]
    return CheckResult(failures == 0, failures, sample, "durations match start/end")


def window_row_count(
    conn: psycopg.Connection,
    schema: str,
    window_start: datetime,
    window_end: datetime,
    *,
    workspace_id: int | None = None,
) -> int:
    """Entries whose start lies in [window_start, window_end) (of one workspace when ``workspace_id`` is given)."""
    query = sql.SQL("SELECT count(*) FROM {s}.toggl_entries WHERE {where}").format(
        s=schema_ident(schema), where=_window_filter(workspace_id)
    )
    row = conn.execute(query, {"start": window_start, "end": window_end, "ws": workspace_id}).fetchone()
    return int(row[0]) if row else 0


def entries_synced_outside_window(
    conn: psycopg.Connection,
    schema: str,
    window_start: datetime,
    window_end: datetime,
    synced_at: datetime,
    *,
    workspace_id: int | None = None,
) -> int:
    """Entries written by the sync stamped ``synced_at`` (inserted or changed) that start outside the window.

    A merge only writes rows of its window, so anything else indicates a bug; 0 is the expected answer.
    """
    scope = "" if workspace_id is None else " AND workspace_id = %(ws)s"
    query = sql.SQL(
        "SELECT count(*) FROM {s}.toggl_entries WHERE synced_at = %(synced_at)s"
        " AND NOT (start >= %(start)s AND start < %(end)s)" + scope
    ).format(s=schema_ident(schema))
    params = {"synced_at": synced_at, "start": window_start, "end": window_end, "ws": workspace_id}
    row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def window_preview(
    conn: psycopg.Connection,
    schema: str,
    window_start: datetime,
    window_end: datetime,
    limit: int = SAMPLE_SIZE,
    *,
    workspace_id: int | None = None,
) -> list[Any]:
    """The first entries of the window by start, as named tuples (all columns of toggl_entries)."""
    query = sql.SQL("SELECT * FROM {s}.toggl_entries WHERE {where} ORDER BY start, id LIMIT %(limit)s").format(
        s=schema_ident(schema), where=_window_filter(workspace_id)
    )
    with conn.cursor(row_factory=namedtuple_row) as cur:
        cur.execute(query, {"start": window_start, "end": window_end, "ws": workspace_id, "limit": limit})
        return cur.fetchall()


def run_all(conn: psycopg.Connection, schema: str = "raw") -> dict[str, CheckResult]:
    """The window-independent checks, by name."""
    return {
        "foreign_keys_resolve": foreign_keys_resolve(conn, schema),
        "no_duplicate_ids": no_duplicate_ids(conn, schema),
        "durations_consistent": durations_consistent(conn, schema),
    }


def table_row_count(conn: psycopg.Connection, schema: str, table: str) -> int:
    """Rows of ``table`` (placeholders included): what Dagster shows as the table's row count."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    query = sql.SQL("SELECT count(*) FROM {}.{}").format(schema_ident(schema), sql.Identifier(table))
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def newest_entries_by_day(
    conn: psycopg.Connection,
    schema: str,
    workspace_ids: list[int],
    window_start: datetime,
    window_end: datetime,
    timezone: str,
    per_day: int = 3,
) -> dict[Any, list[Any]]:
    """The ``per_day`` newest entries (by start) of each local day of the window, in one query."""
    query = sql.SQL(
        """SELECT * FROM (
            SELECT e.*, (e.start AT TIME ZONE %(tz)s)::date AS day,
                   row_number() OVER (
                       PARTITION BY (e.start AT TIME ZONE %(tz)s)::date ORDER BY e.start DESC, e.id DESC
                   ) AS rn
            FROM {s}.toggl_entries e
            WHERE e.workspace_id = ANY(%(ws)s::bigint[]) AND e.start >= %(start)s AND e.start < %(end)s
        ) ranked WHERE rn <= %(n)s ORDER BY day, rn"""
    ).format(s=schema_ident(schema))
    params = {"tz": timezone, "ws": list(workspace_ids), "start": window_start, "end": window_end, "n": per_day}
    out: dict[Any, list[Any]] = {}
    with conn.cursor(row_factory=namedtuple_row) as cur:
        for row in cur.execute(query, params):
            out.setdefault(row.day, []).append(row)
    return out
