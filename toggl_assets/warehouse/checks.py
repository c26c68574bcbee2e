"""SQL-level data checks on the raw tables, cheap enough to run after every load (e.g. as asset checks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from toggl_assets.settings import validate_schema_name

SAMPLE_SIZE = 10
# Toggl stores start/stop with second precision but durations in seconds too; the detailed report can
# truncate sub-second parts differently for start, stop and duration, so up to 999 ms of drift is normal.
DURATION_TOLERANCE_MS = 1000
TABLES = ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks", "toggl_entries")

# (label, SELECT yielding (row id, referenced id) pairs, referenced table)
_REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("toggl_entries.project_id", "SELECT id, project_id AS ref FROM {s}.toggl_entries", "toggl_projects"),
    ("toggl_entries.task_id", "SELECT id, task_id AS ref FROM {s}.toggl_entries", "toggl_tasks"),
    ("toggl_entries.user_id", "SELECT id, user_id AS ref FROM {s}.toggl_entries", "toggl_users"),
    ("toggl_entries.tag_ids", "SELECT id, unnest(tag_ids) AS ref FROM {s}.toggl_entries", "toggl_tags"),
    ("toggl_projects.client_id", "SELECT id, client_id AS ref FROM {s}.toggl_projects", "toggl_clients"),
    ("toggl_tasks.project_id", "SELECT id, project_id AS ref FROM {s}.toggl_tasks", "toggl_projects"),
)


@dataclass(frozen=True)
class CheckResult:
    """``sample``: up to :data:`SAMPLE_SIZE` offending rows as JSON-ready dicts (dates as ISO strings)."""

    passed: bool
    failures: int
    sample: list[Any] = field(default_factory=list)
    description: str = ""


CheckOutcome = CheckResult  # alias used by the Dagster asset checks


def _json(value: Any) -> Any:
    """Make sample values JSON-serializable (they end up in Dagster metadata)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(**values: Any) -> dict[str, Any]:
    return {k: _json(v) for k, v in values.items()}


def _s(schema: str) -> sql.Identifier:
    return sql.Identifier(validate_schema_name(schema, "schema"))


def foreign_keys_resolve(conn: psycopg.Connection, schema: str = "raw") -> CheckResult:
    """Every reference resolves: entries' project/task/user and each tag id, projects' client, tasks' project.

    The real FKs already enforce most of these; ``tag_ids`` (an array) cannot have one, and the check also
    catches FKs that were disabled or dropped.
    """
    s = _s(schema)
    parts = [
        sql.SQL(
            "SELECT {label} AS reference, r.id, r.ref FROM ({refs}) r"
            " WHERE r.ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {s}.{target} x WHERE x.id = r.ref)"
        ).format(label=sql.Literal(label), refs=sql.SQL(refs).format(s=s), s=s, target=sql.Identifier(target))
        for label, refs, target in _REFERENCES
    ]
    query = sql.SQL("SELECT reference, id, ref, count(*) OVER () FROM ({}) u ORDER BY reference, id LIMIT %s").format(
        sql.SQL(" UNION ALL ").join(parts)
    )
    rows = conn.execute(query, (SAMPLE_SIZE,)).fetchall()
    failures = int(rows[0][3]) if rows else 0
    sample = [{"reference": r[0], "id": r[1], "missing": r[2]} for r in rows]
    return CheckResult(failures == 0, failures, sample, "references resolve")


def no_duplicate_ids(conn: psycopg.Connection, schema: str = "raw", tables: tuple[str, ...] = TABLES) -> CheckResult:
    """No table holds an id twice (the PKs guarantee it; this guards against dropped constraints)."""
    s = _s(schema)
    parts = [
        sql.SQL("SELECT {label} AS tbl, id, count(*) AS n FROM {s}.{t} GROUP BY id HAVING count(*) > 1").format(
            label=sql.Literal(t), s=s, t=sql.Identifier(t)
        )
        for t in tables
    ]
    query = sql.SQL("SELECT tbl, id, n, count(*) OVER () FROM ({}) u ORDER BY tbl, id LIMIT %s").format(
        sql.SQL(" UNION ALL ").join(parts)
    )
    rows = conn.execute(query, (SAMPLE_SIZE,)).fetchall()
    failures = int(rows[0][3]) if rows else 0
    return CheckResult(
        failures == 0, failures, [{"table": r[0], "id": r[1], "count": r[2]} for r in rows], "ids unique"
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
    ).format(s=_s(schema))
    rows = conn.execute(query, (DURATION_TOLERANCE_MS, SAMPLE_SIZE)).fetchall()
    failures = int(rows[0][4]) if rows else 0
    sample = [_row(id=r[0], start=r[1], end=r[2], duration_ms=r[3]) for r in rows]
    return CheckResult(failures == 0, failures, sample, "durations match start/end")


def window_row_count(conn: psycopg.Connection, schema: str, window_start: datetime, window_end: datetime) -> int:
    """Entries whose start lies in [window_start, window_end)."""
    query = sql.SQL("SELECT count(*) FROM {s}.toggl_entries WHERE start >= %s AND start < %s").format(s=_s(schema))
    row = conn.execute(query, (window_start, window_end)).fetchone()
    return int(row[0]) if row else 0


def entries_within_window(
    conn: psycopg.Connection,
    schema: str,
    window_start: datetime,
    window_end: datetime,
    expected_ids_count: int | None = None,
) -> CheckResult:
    """After merging a window: no entry in it ends before it starts and, when ``expected_ids_count`` (the
    number of distinct entries Toggl returned for the window) is given, the window holds exactly that many."""
    count = window_row_count(conn, schema, window_start, window_end)
    query = sql.SQL(
        """SELECT id, start, "end", count(*) OVER () FROM {s}.toggl_entries
        WHERE start >= %s AND start < %s AND "end" < start ORDER BY id LIMIT %s"""
    ).format(s=_s(schema))
    rows = conn.execute(query, (window_start, window_end, SAMPLE_SIZE)).fetchall()
    failures = int(rows[0][3]) if rows else 0
    sample: list[Any] = [{"id": r[0], "start": r[1], "end": r[2], "problem": "end before start"} for r in rows]
    if expected_ids_count is not None and count != expected_ids_count:
        failures += abs(count - expected_ids_count)
        sample.insert(0, {"problem": "row count", "in_database": count, "expected": expected_ids_count})
    return CheckResult(failures == 0, failures, sample, f"{count} entries in window")


def entries_synced_outside_window(
    conn: psycopg.Connection, schema: str, window_start: datetime, window_end: datetime, synced_at: datetime
) -> int:
    """Entries written by the sync stamped ``synced_at`` (inserted or changed) that start outside the window.

    A merge only writes rows of its window, so anything else indicates a bug; 0 is the expected answer.
    """
    query = sql.SQL(
        "SELECT count(*) FROM {s}.toggl_entries WHERE synced_at = %s AND NOT (start >= %s AND start < %s)"
    ).format(s=_s(schema))
    row = conn.execute(query, (synced_at, window_start, window_end)).fetchone()
    return int(row[0]) if row else 0


def window_preview(
    conn: psycopg.Connection,
    schema: str,
    window_start: datetime,
    window_end: datetime,
    limit: int = SAMPLE_SIZE,
) -> list[Any]:
    """The first entries of the window by start, as named tuples (all columns of toggl_entries)."""
    query = sql.SQL(
        "SELECT * FROM {s}.toggl_entries WHERE start >= %s AND start < %s ORDER BY start, id LIMIT %s"
    ).format(s=_s(schema))
    with conn.cursor(row_factory=namedtuple_row) as cur:
        cur.execute(query, (window_start, window_end, limit))
        return cur.fetchall()


def run_all(conn: psycopg.Connection, schema: str = "raw") -> dict[str, CheckResult]:
    """The window-independent checks, by name."""
    return {
        "foreign_keys_resolve": foreign_keys_resolve(conn, schema),
        "no_duplicate_ids": no_duplicate_ids(conn, schema),
        "durations_consistent": durations_consistent(conn, schema),
    }
