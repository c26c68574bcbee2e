"""Writing Toggl records into the raw schema.

Transactions belong to the caller: no function here commits or rolls back. Every write function first takes
a transaction-level advisory lock (:data:`LOAD_LOCK_KEY`), so concurrent loads (two partitions of a backfill,
a metadata sync next to an entry sync) run one after the other instead of deadlocking on each other's rows;
the lock is released when the caller commits or rolls back. They therefore refuse an autocommit connection
outside a ``conn.transaction()`` block.

Text policy: PostgreSQL ``text`` cannot hold NUL characters, so NUL bytes are removed from every text field
(descriptions, names, tags, ...). Everything else (unicode, emoji, quotes, commas, braces, very long text)
is stored unchanged.

Placeholders: a reference to a row the metadata tables do not know yet (an entry's user, project, task or
tags; a project's client; a task's project) creates a placeholder row with ``is_placeholder = true`` and the
name the referencing record carries (or ``(unknown <kind> <id>)``), so foreign keys always hold. The next
metadata upsert that returns the row overwrites it and sets ``is_placeholder = false``.

Deletions: a metadata upsert receives every row Toggl returns for a workspace; rows of that workspace it no
longer returns are deleted when nothing references them and kept (unchanged) otherwise, because deleting
them would break the foreign keys of historical entries. :class:`EntryStaging` deletes entries only inside
the window being merged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from toggl_assets.records import ClientRecord, EntryRecord, ProjectRecord, TagRecord, TaskRecord, UserRecord
from toggl_assets.settings import validate_schema_name
from toggl_assets.warehouse.db import WarehouseError

# Arbitrary constant (ASCII "tgload") shared by every process writing to the warehouse.
LOAD_LOCK_KEY = 0x7467_6C6F_6164


@dataclass(frozen=True)
class LoadStats:
    """Outcome of a metadata upsert. ``kept`` = rows Toggl no longer returns but still referenced."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    total: int = 0
    kept: int = 0
    placeholders: int = 0  # placeholder rows created in the referenced table (clients for projects, ...)


@dataclass(frozen=True)
class EntryLoadStats:
    """Outcome of :meth:`EntryStaging.merge_window`."""

    fetched: int = 0  # rows staged in total (all windows, before de-duplication)
    in_window: int = 0  # distinct staged ids whose start lies in the window
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    placeholders: dict[str, int] = field(default_factory=dict)


def clean_text(value: str | None) -> str | None:
    """Return ``value`` with NUL bytes removed (PostgreSQL text cannot store them)."""
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def _schema(schema: str) -> sql.Identifier:
    return sql.Identifier(validate_schema_name(schema, "schema"))


def _require_transaction(conn: psycopg.Connection) -> None:
    # Outside a transaction block, autocommit would release the advisory lock after each statement and a
    # failure halfway through would leave a partial load behind. An autocommit connection inside
    # ``with conn.transaction():`` is fine.
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise WarehouseError(
            "warehouse loads need a transaction: use autocommit=False or wrap the call in conn.transaction()"
        )


def lock_for_load(conn: psycopg.Connection) -> None:
    """Serialize warehouse writers until the caller's transaction ends."""
    _require_transaction(conn)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))


# --------------------------------------------------------------------------------------------------------
# Metadata upserts


@dataclass(frozen=True)
class _Spec:
    """How one metadata table is written: column -> (SQL array type, attribute getter)."""

    table: str
    columns: tuple[tuple[str, str, Callable[[Any], Any]], ...]
    # SQL testing whether row ``t`` is referenced; rows Toggl no longer returns are only deleted if not.
    referenced: str
    # (placeholder kind, record attribute) of the table this one references, e.g. a project's client.
    parent: tuple[str, str] | None = None


def _attr(name: str, text: bool = False) -> Callable[[Any], Any]:
    if text:
        return lambda record: clean_text(getattr(record, name))
    return lambda record: getattr(record, name)


def _cols(*columns: tuple[str, str]) -> tuple[tuple[str, str, Callable[[Any], Any]], ...]:
    return tuple((name, kind, _attr(name, text=kind == "text")) for name, kind in columns)


_CLIENTS = _Spec(
    "toggl_clients",
    _cols(
        ("id", "bigint"),
        ("workspace_id", "bigint"),
        ("name", "text"),
        ("is_archived", "boolean"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("notes", "text"),
    ),
    "EXISTS (SELECT 1 FROM {s}.toggl_projects r WHERE r.client_id = t.id)",
)
_PROJECTS = _Spec(
    "toggl_projects",
    _cols(
        ("id", "bigint"),
        ("workspace_id", "bigint"),
        ("client_id", "bigint"),
        ("name", "text"),
        ("color", "text"),
        ("is_private", "boolean"),
        ("is_active", "boolean"),
        ("is_billable", "boolean"),
        ("created_at", "timestamptz"),
        ("archived_at", "timestamptz"),
        ("updated_at", "timestamptz"),
        ("status", "text"),
        ("rate", "numeric"),
        ("currency", "text"),
        ("server_deleted_at", "timestamptz"),
    ),
    "EXISTS (SELECT 1 FROM {s}.toggl_entries r WHERE r.project_id = t.id)"
    " OR EXISTS (SELECT 1 FROM {s}.toggl_tasks r WHERE r.project_id = t.id)",
    parent=("clients", "client_id"),
)
_TAGS = _Spec(
    "toggl_tags",
    _cols(
        ("id", "bigint"),
        ("workspace_id", "bigint"),
        ("name", "text"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
    "EXISTS (SELECT 1 FROM {s}.toggl_entries r WHERE r.tag_ids @> ARRAY[t.id])",
)
_USERS = _Spec(
    "toggl_users",
    _cols(
        ("id", "bigint"),
        ("workspace_id", "bigint"),
        ("name", "text"),
        ("email", "text"),
        ("is_active", "boolean"),
        ("is_admin", "boolean"),
        ("rate", "numeric"),
        ("timezone", "text"),
        ("updated_at", "timestamptz"),
    ),
    "EXISTS (SELECT 1 FROM {s}.toggl_entries r WHERE r.user_id = t.id)",
)
_TASKS = _Spec(
    "toggl_tasks",
    _cols(
        ("id", "bigint"),
        ("workspace_id", "bigint"),
        ("name", "text"),
        ("project_id", "bigint"),
        ("user_id", "bigint"),
        ("is_active", "boolean"),
        ("estimated_seconds", "bigint"),
        ("tracked_ms", "bigint"),
        ("rate", "numeric"),
        ("updated_at", "timestamptz"),
    ),
    "EXISTS (SELECT 1 FROM {s}.toggl_entries r WHERE r.task_id = t.id)",
    parent=("projects", "project_id"),
)


def build_upsert_sql(schema: str, spec: _Spec) -> sql.Composed:
    """One statement upserting arrays of column values; returns (inserted, updated, distinct ids).

    Input arrays are unnested ``WITH ORDINALITY`` so that, if an id appears twice, the last record wins.
    Rows are only rewritten when a value differs (``IS DISTINCT FROM``), so re-syncing unchanged data
    causes no writes and ``synced_at`` records the sync that last changed the row.
    """
    names = [c[0] for c in spec.columns]
    ident = [sql.Identifier(n) for n in names]
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(kind)) for _, kind, _ in spec.columns)
    alias = sql.SQL(", ").join([*ident, sql.Identifier("ord")])
    target = sql.SQL(", ").join(ident)
    non_id = [i for n, i in zip(names, ident, strict=True) if n != "id"]
    assignments = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(i) for i in non_id)
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(i) for i in non_id)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(i) for i in non_id)
    return sql.SQL(
        """WITH src AS (
            SELECT DISTINCT ON (id) * FROM unnest({arrays}) WITH ORDINALITY AS s({alias})
            ORDER BY id, ord DESC
        ), up AS (
            INSERT INTO {schema}.{table} AS t ({target}, synced_at, is_placeholder)
            SELECT {target}, coalesce(%s::timestamptz, now()), false FROM src
            ON CONFLICT (id) DO UPDATE
            SET {assignments}, synced_at = EXCLUDED.synced_at, is_placeholder = false
            WHERE ({old}, t.is_placeholder) IS DISTINCT FROM ({new}, false)
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
               (SELECT count(*) FROM src)
        FROM up"""
    ).format(
        arrays=arrays,
        alias=alias,
        schema=_schema(schema),
        table=sql.Identifier(spec.table),
        target=target,
        assignments=assignments,
        old=old,
        new=new,
    )


def build_prune_sql(schema: str, spec: _Spec) -> sql.Composed:
    """Delete rows of the given workspaces whose id is not in the given list, unless referenced.

    Parameters: workspace ids (bigint[]), ids Toggl returned (bigint[]). Returns (deleted, kept).
    """
    s = _schema(schema)
    return sql.SQL(
        """WITH gone AS (
            SELECT t.id, ({referenced}) AS referenced FROM {s}.{table} t
            WHERE t.workspace_id = ANY(%s::bigint[]) AND t.id <> ALL(%s::bigint[])
        ), del AS (
            DELETE FROM {s}.{table} t USING gone WHERE t.id = gone.id AND NOT gone.referenced RETURNING 1
        )
        SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM gone WHERE referenced)"""
    ).format(referenced=sql.SQL(spec.referenced).format(s=s), s=s, table=sql.Identifier(spec.table))


# Placeholder rows: (table, extra columns beyond id/workspace_id/name, whether the table has created_at).
_PLACEHOLDER_TABLES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "clients": ("toggl_clients", (), True),
    "projects": ("toggl_projects", ("client_id",), True),
    "users": ("toggl_users", ("email",), False),
    "tasks": ("toggl_tasks", ("project_id",), False),
    "tags": ("toggl_tags", (), True),
}


def build_placeholder_sql(schema: str, kind: str, source: sql.Composable) -> sql.Composed:
    """Insert placeholder rows for ids produced by ``source`` that the table does not have yet.

    ``source`` is a SELECT yielding ``id, workspace_id, name`` plus the kind's extra columns (see
    ``_PLACEHOLDER_TABLES``). Ids that are NULL are ignored; for an id seen several times a non-NULL name
    is preferred. Placeholders get ``created_at = now()``: the real creation time is unknown.
    Returns the number of rows created.
    """
    table, extra, has_created = _PLACEHOLDER_TABLES[kind]
    s = _schema(schema)
    extras = [sql.Identifier(c) for c in extra]
    columns = sql.SQL(", ").join(
        [sql.Identifier("id"), sql.Identifier("workspace_id"), sql.Identifier("name"), *extras]
        + ([sql.Identifier("created_at")] if has_created else [])
    )
    label = f"(unknown {kind[:-1]} "
    values = sql.SQL(", ").join(
        [
            sql.SQL("id"),
            sql.SQL("workspace_id"),
            sql.SQL("coalesce(name, {} || id || ')')").format(label),
            *extras,
        ]
        + ([sql.SQL("now()")] if has_created else [])
    )
    return sql.SQL(
        """WITH src AS ({source}), pick AS (
            SELECT DISTINCT ON (id) * FROM src WHERE id IS NOT NULL ORDER BY id, (name IS NULL)
        ), ins AS (
            INSERT INTO {s}.{table} ({columns}, synced_at, is_placeholder)
            SELECT {values}, now(), true FROM pick
            WHERE NOT EXISTS (SELECT 1 FROM {s}.{table} t WHERE t.id = pick.id)
            ON CONFLICT (id) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM ins"""
    ).format(source=source, s=s, table=sql.Identifier(table), columns=columns, values=values)


def _placeholders_from_arrays(
    conn: psycopg.Connection, schema: str, kind: str, ids: list[int | None], workspaces: list[int]
) -> int:
    """Placeholders for ids referenced by Python records (a project's client, a task's project)."""
    extra = _PLACEHOLDER_TABLES[kind][1]
    nulls = "".join(f", NULL::{'bigint' if c.endswith('_id') else 'text'} AS {c}" for c in extra)
    source = sql.SQL(
        "SELECT r.id, r.workspace_id, NULL::text AS name"
        + nulls
        + " FROM unnest(%s::bigint[], %s::bigint[]) AS r(id, workspace_id)"
    )
    row = conn.execute(build_placeholder_sql(schema, kind, source), (ids, workspaces)).fetchone()
    return int(row[0]) if row else 0


def _upsert(
    conn: psycopg.Connection,
    spec: _Spec,
    records: Iterable[Any],
    *,
    schema: str = "raw",
    synced_at: datetime | None = None,
    workspace_id: int | None = None,
    prune: bool = True,
) -> LoadStats:
    """Upsert all rows of one metadata table of a workspace (see the module docstring for deletion and
    placeholders). References to a parent row the table does not have yet get a placeholder parent.

    ``workspace_id`` names the workspace whose rows are pruned even when ``records`` is empty; ``prune=False``
    only upserts (use it for partial lists). ``synced_at`` defaults to the transaction's ``now()``.
    """
    lock_for_load(conn)
    records = list(records)
    placeholders = 0
    if spec.parent is not None:
        kind, attribute = spec.parent
        refs = [r for r in records if getattr(r, attribute) is not None]
        placeholders = _placeholders_from_arrays(
            conn, schema, kind, [getattr(r, attribute) for r in refs], [r.workspace_id for r in refs]
        )
    arrays = [[getter(r) for r in records] for _, _, getter in spec.columns]
    row = conn.execute(build_upsert_sql(schema, spec), [*arrays, synced_at]).fetchone()
    inserted, updated, total = (int(v) for v in row) if row else (0, 0, 0)
    deleted = kept = 0
    workspaces = sorted({r.workspace_id for r in records} | ({workspace_id} if workspace_id is not None else set()))
    if prune and workspaces:
        pruned = conn.execute(build_prune_sql(schema, spec), (workspaces, [r.id for r in records])).fetchone()
        deleted, kept = (int(v) for v in pruned) if pruned else (0, 0)
    return LoadStats(
        inserted=inserted,
        updated=updated,
        unchanged=total - inserted - updated,
        deleted=deleted,
        total=total,
        kept=kept,
        placeholders=placeholders,
    )


def upsert_clients(conn: psycopg.Connection, records: Iterable[ClientRecord], **options: Any) -> LoadStats:
    """Upsert all clients of a workspace (options: ``schema``, ``synced_at``, ``workspace_id``, ``prune``)."""
    return _upsert(conn, _CLIENTS, records, **options)


def upsert_projects(conn: psycopg.Connection, records: Iterable[ProjectRecord], **options: Any) -> LoadStats:
    """Upsert all projects of a workspace; unknown ``client_id`` values get placeholder clients."""
    return _upsert(conn, _PROJECTS, records, **options)


def upsert_tags(conn: psycopg.Connection, records: Iterable[TagRecord], **options: Any) -> LoadStats:
    """Upsert all tags of a workspace."""
    return _upsert(conn, _TAGS, records, **options)


def upsert_users(conn: psycopg.Connection, records: Iterable[UserRecord], **options: Any) -> LoadStats:
    """Upsert all users (members) of a workspace."""
    return _upsert(conn, _USERS, records, **options)


def upsert_tasks(conn: psycopg.Connection, records: Iterable[TaskRecord], **options: Any) -> LoadStats:
    """Upsert all tasks of a workspace; unknown ``project_id`` values get placeholder projects."""
    return _upsert(conn, _TASKS, records, **options)


# --------------------------------------------------------------------------------------------------------
# Entries


# Staged columns and their COPY types (binary COPY needs them declared).
_STAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (column, column type, COPY type name)
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
ENTRY_COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in _STAGE_COLUMNS[:16])


def entry_row(record: EntryRecord) -> tuple[Any, ...]:
    """The staged row of one record (NUL bytes removed from text; tuples become arrays)."""
    c = clean_text
    return (
        record.id,
        record.workspace_id,
        record.project_id,
        record.task_id,
        record.user_id,
        c(record.description),
        record.start,
        record.end,
        record.duration_ms,
        record.is_billable,
        record.billable_amount,
        c(record.currency),
        [c(t) for t in record.tags],
        list(record.tag_ids),
        record.updated_at,
        record.hourly_rate,
        c(record.project_name),
        c(record.client_name),
        c(record.task_name),
        c(record.user_name),
        c(record.user_email),
    )


def build_merge_sql(schema: str, window: str) -> sql.Composed:
    """Upsert the de-duplicated window table into toggl_entries; returns (inserted, updated)."""
    ident = [sql.Identifier(c) for c in ENTRY_COLUMNS]
    non_id = ident[1:]
    return sql.SQL(
        """WITH up AS (
            INSERT INTO {s}.toggl_entries AS t ({cols}, synced_at)
            SELECT {cols}, coalesce(%s::timestamptz, now()) FROM {w}
            ON CONFLICT (id) DO UPDATE SET {assign}, synced_at = EXCLUDED.synced_at
            WHERE ({old}) IS DISTINCT FROM ({new})
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""
    ).format(
        s=_schema(schema),
        w=sql.Identifier(window),
        cols=sql.SQL(", ").join(ident),
        assign=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(i) for i in non_id),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(i) for i in non_id),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(i) for i in non_id),
    )


def _entry_placeholder_sources(window: str) -> dict[str, sql.Composable]:
    """SELECTs over the window table yielding what each placeholder kind needs (order matters: FKs)."""
    w = sql.Identifier(window)
    return {
        "users": sql.SQL("SELECT user_id AS id, workspace_id, user_name AS name, user_email AS email FROM {}").format(
            w
        ),
        "projects": sql.SQL(
            "SELECT project_id AS id, workspace_id, project_name AS name, NULL::bigint AS client_id FROM {}"
        ).format(w),
        "tasks": sql.SQL("SELECT task_id AS id, workspace_id, task_name AS name, project_id FROM {}").format(w),
        # Names pair with ids by position only when both arrays have the same length. Entries share few distinct
        # tag lists: de-duplicating them before unnest saves expanding every entry's array.
        "tags": sql.SQL(
            "SELECT g.id, e.workspace_id, g.name FROM (SELECT DISTINCT workspace_id, tag_ids,"
            " CASE WHEN cardinality(tags) = cardinality(tag_ids) THEN tags END AS tags"
            " FROM {} WHERE cardinality(tag_ids) > 0) e, unnest(e.tag_ids, e.tags) AS g(id, name)"
        ).format(w),
    }


class EntryStaging:
    """Stage time entries in a temporary table, then merge them window by window.

    ``EntryStaging(conn)`` creates a TEMP table (ON COMMIT PRESERVE ROWS, private to this connection) in the
    current transaction; :meth:`add` streams records into it with binary ``COPY`` (memory stays flat: pass
    pages as they arrive); :meth:`merge_window` writes one window into ``toggl_entries`` inside the caller's
    transaction; :meth:`close` drops the table. Creating the stage inside a transaction that is then rolled
    back drops the table too. Usable as a context manager (closes on exit, commits nothing).
    """

    def __init__(self, conn: psycopg.Connection, schema: str = "raw") -> None:
        self.conn = conn
        self.schema = validate_schema_name(schema, "schema")
        self.table = f"toggl_entry_stage_{uuid.uuid4().hex[:12]}"
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind, _ in _STAGE_COLUMNS
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
            sql.Identifier(self.table), sql.SQL(", ").join(sql.Identifier(c) for c, _, _ in _STAGE_COLUMNS)
        )
        count = 0
        with self.conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.set_types([t for _, _, t in _STAGE_COLUMNS])
            for record in records:
                copy.write_row(entry_row(record))
                count += 1
        self.staged += count
        return count

    def merge_window(
        self, window_start: datetime, window_end: datetime, *, synced_at: datetime | None = None
    ) -> EntryLoadStats:
        """Make ``toggl_entries`` match the staged entries whose start is in [window_start, window_end).

        In the caller's transaction (nothing is committed): staged rows outside the window are ignored; an
        id staged twice keeps its last version; missing users/projects/tasks/tags get placeholder rows;
        entries are inserted, or updated only when a value changed; entries whose start lies in the window
        and whose id is not staged at all are deleted (an entry staged with a start in another window is
        left for that window's merge). Running entries (no end, no duration) are stored as such.
        """
        if window_start.tzinfo is None or window_end.tzinfo is None:
            raise ValueError("window_start and window_end must be timezone-aware")
        if window_end <= window_start:
            raise ValueError("window_end must be after window_start")
        lock_for_load(self.conn)
        conn, stage, schema = self.conn, sql.Identifier(self.table), self.schema
        window = f"{self.table}_window"
        w = sql.Identifier(window)
        fetched_row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(stage)).fetchone()
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(w))
        cur = conn.execute(
            sql.SQL(
                "CREATE TEMP TABLE {w} AS SELECT DISTINCT ON (id) * FROM {stage}"
                " WHERE start >= %s AND start < %s ORDER BY id, seq DESC"
            ).format(w=w, stage=stage),
            (window_start, window_end),
        )
        in_window = max(cur.rowcount, 0)
        conn.execute(sql.SQL("ANALYZE {}").format(w))
        placeholders: dict[str, int] = {}
        for kind, source in _entry_placeholder_sources(window).items():
            row = conn.execute(build_placeholder_sql(schema, kind, source)).fetchone()
            placeholders[kind] = int(row[0]) if row else 0
        merged = conn.execute(build_merge_sql(schema, window), (synced_at,)).fetchone()
        inserted, updated = (int(v) for v in merged) if merged else (0, 0)
        deleted = delete_unstaged(conn, schema, self.table, window_start, window_end)
        conn.execute(sql.SQL("DROP TABLE {}").format(w))
        return EntryLoadStats(
            fetched=int(fetched_row[0]) if fetched_row else 0,
            in_window=in_window,
            inserted=inserted,
            updated=updated,
            unchanged=in_window - inserted - updated,
            deleted=deleted,
            placeholders=placeholders,
        )

    def clear(self) -> None:
        """Empty the stage (e.g. between windows, to keep it small)."""
        self.conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(self.table)))
        self.staged = 0

    def close(self) -> None:
        """Drop the temporary table (harmless if a rollback already dropped it)."""
        if not self.conn.closed:
            self.conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(self.table)))


def delete_unstaged(
    conn: psycopg.Connection, schema: str, stage_table: str, window_start: datetime, window_end: datetime
) -> int:
    """Delete entries starting in the window whose id is not in the stage; returns how many."""
    query = sql.SQL(
        "DELETE FROM {s}.toggl_entries e WHERE e.start >= %s AND e.start < %s"
        " AND NOT EXISTS (SELECT 1 FROM {stage} st WHERE st.id = e.id)"
    ).format(s=_schema(schema), stage=sql.Identifier(stage_table))
    return max(conn.execute(query, (window_start, window_end)).rowcount, 0)


def load_entries(
    conn: psycopg.Connection,
    records: Iterable[EntryRecord],
    window_start: datetime,
    window_end: datetime,
    *,
    schema: str = "raw",
    synced_at: datetime | None = None,
) -> EntryLoadStats:
    """Convenience: stage ``records`` and merge one window, in the caller's transaction."""
    stage = EntryStaging(conn, schema)
    stage.add(records)
    stats = stage.merge_window(window_start, window_end, synced_at=synced_at)
    stage.close()
    return stats
