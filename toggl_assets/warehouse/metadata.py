"""Upserting Toggl's metadata tables (workspaces, clients, projects, tags, users, tasks) into the raw schema.

Transactions belong to the caller: nothing here commits or rolls back. Every write first takes the warehouse's
advisory load lock (:func:`~toggl_assets.warehouse.db.lock_for_load`) and therefore refuses an autocommit
connection outside ``conn.transaction()``.

Scope: every upsert but :func:`upsert_workspaces` writes ONE workspace, named by its required ``workspace_id``.
Records of another workspace are refused; an existing row of another workspace is never changed, and the prune
only considers rows of that workspace.

Deletions: a metadata upsert receives every row Toggl returns for the workspace; rows of that workspace it no
longer returns are deleted when nothing references them and kept (unchanged) otherwise, because deleting them
would break the foreign keys of historical entries. Workspaces are never deleted: a workspace the user left
keeps its data.

Text policy: NUL bytes are removed from every text value (PostgreSQL text cannot hold them); everything else is
stored unchanged.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import psycopg
from psycopg import sql

from toggl_assets.records import (
    ClientRecord,
    ProjectRecord,
    TagRecord,
    TaskRecord,
    UserRecord,
    WorkspaceRecord,
)
from toggl_assets.warehouse.db import lock_for_load, schema_ident
from toggl_assets.warehouse.placeholders import ensure_workspace, placeholders_for_ids
from toggl_assets.warehouse.values import clean_text


@dataclass(frozen=True)
class LoadStats:
    """Outcome of a metadata upsert, in rows."""

    # Of the records Toggl returned (``total``, distinct ids):
    inserted: int
    updated: int
    unchanged: int
    total: int
    # Of the rows Toggl no longer returns: deleted, or kept because something still references them.
    deleted: int
    kept: int
    # Placeholder rows created in the referenced table (clients for projects, ...).
    placeholders: int


Column = tuple[str, str, Callable[[Any], Any]]  # (column, SQL type, value of a record)


@dataclass(frozen=True)
class TableSpec:
    """How one metadata table is written."""

    table: str
    columns: tuple[Column, ...]
    # SELECT of the ids among CTE ``gone`` (rows Toggl no longer returns) that something still references;
    # None: rows are never pruned. ``{s}`` is the schema.
    referenced: str | None
    # (placeholder kind, record attribute) of the table this one references, e.g. a project's client.
    parent: tuple[str, str] | None = None
    scoped: bool = True  # the table has a workspace_id column


# SQL type of each record attribute type; a table's columns are its record's attributes, in that order.
_SQL_TYPES = {int: "bigint", str: "text", bool: "boolean", Decimal: "numeric", datetime: "timestamptz"}


def _getter(attribute: str, text: bool) -> Callable[[Any], Any]:
    if text:
        return lambda record: clean_text(getattr(record, attribute))
    return lambda record: getattr(record, attribute)


def _sql_type(annotation: Any) -> str:
    (python_type,) = [t for t in typing.get_args(annotation) or (annotation,) if t is not type(None)]
    return _SQL_TYPES[python_type]


def record_columns(record_type: type[msgspec.Struct], **renamed: str) -> tuple[Column, ...]:
    """One column per attribute of ``record_type`` (``renamed``: attribute=column where they differ); text is
    cleaned of NULs. The record is the one list of a table's columns: add an attribute, add a column."""
    columns = []
    for field in msgspec.structs.fields(record_type):
        kind = _sql_type(field.type)
        columns.append((renamed.get(field.name, field.name), kind, _getter(field.name, kind == "text")))
    return tuple(columns)


# Reference tests are set-based (one pass per referencing table, only when something is gone): no index on the
# referencing columns is needed for them.
def _refs(*pairs: tuple[str, str]) -> str:
    return " UNION ".join(
        f"SELECT r.{column} FROM {{s}}.{table} r"
        f" WHERE EXISTS (SELECT 1 FROM gone) AND r.{column} IN (SELECT id FROM gone)"
        for table, column in pairs
    )


WORKSPACES = TableSpec("toggl_workspaces", record_columns(WorkspaceRecord, updated_at="at"), None, scoped=False)
CLIENTS = TableSpec("toggl_clients", record_columns(ClientRecord), _refs(("toggl_projects", "client_id")))
PROJECTS = TableSpec(
    "toggl_projects",
    record_columns(ProjectRecord),
    _refs(("toggl_entries", "project_id"), ("toggl_tasks", "project_id")),
    parent=("clients", "client_id"),
)
TAGS = TableSpec(
    "toggl_tags",
    record_columns(TagRecord),
    # tag_ids is an array (no FK): one pass over the entries that share a gone tag.
    "SELECT g.id FROM {s}.toggl_entries r CROSS JOIN LATERAL unnest(r.tag_ids) AS g(id)"
    " WHERE EXISTS (SELECT 1 FROM gone) AND r.tag_ids && (SELECT array_agg(id) FROM gone)"
    " AND g.id IN (SELECT id FROM gone)",
)
USERS = TableSpec("toggl_users", record_columns(UserRecord), _refs(("toggl_entries", "user_id")))
TASKS = TableSpec(
    "toggl_tasks",
    record_columns(TaskRecord),
    _refs(("toggl_entries", "task_id")),
    parent=("projects", "project_id"),
)


def build_upsert_sql(schema: str, spec: TableSpec) -> sql.Composed:
    """One statement upserting arrays of column values; returns (inserted, updated, distinct ids).

    Input arrays are unnested ``WITH ORDINALITY`` so that, if an id appears twice, the last record wins.
    Rows are only rewritten when a value differs (``IS DISTINCT FROM``), so re-syncing unchanged data
    causes no writes and ``synced_at`` records the sync that last changed the row. A row of another workspace
    with the same id is never changed.
    """
    names = [c[0] for c in spec.columns]
    ident = [sql.Identifier(n) for n in names]
    non_id = [i for n, i in zip(names, ident, strict=True) if n != "id"]
    guard = sql.SQL(" AND t.workspace_id = EXCLUDED.workspace_id" if spec.scoped else "")
    return sql.SQL(
        """WITH src AS (
            SELECT DISTINCT ON (id) * FROM unnest({arrays}) WITH ORDINALITY AS s({alias})
            ORDER BY id, ord DESC
        ), up AS (
            INSERT INTO {schema}.{table} AS t ({target}, synced_at, is_placeholder)
            SELECT {target}, coalesce(%s::timestamptz, now()), false FROM src
            ON CONFLICT (id) DO UPDATE
            SET {assignments}, synced_at = EXCLUDED.synced_at, is_placeholder = false
            WHERE ({old}, t.is_placeholder) IS DISTINCT FROM ({new}, false){guard}
            RETURNING (xmax = 0) AS inserted
        )
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
               (SELECT count(*) FROM src)
        FROM up"""
    ).format(
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(kind)) for _, kind, _ in spec.columns),
        alias=sql.SQL(", ").join([*ident, sql.Identifier("ord")]),
        schema=schema_ident(schema),
        table=sql.Identifier(spec.table),
        target=sql.SQL(", ").join(ident),
        assignments=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(i) for i in non_id),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(i) for i in non_id),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(i) for i in non_id),
        guard=guard,
    )


def build_prune_sql(schema: str, spec: TableSpec) -> sql.Composed:
    """Delete the rows of workspace ``%(ws)s`` whose id is not in ``%(ids)s``, unless referenced.

    Returns (deleted, kept).
    """
    if spec.referenced is None:
        raise ValueError(f"{spec.table} is never pruned")
    s = schema_ident(schema)
    return sql.SQL(
        """WITH gone AS (
            SELECT t.id FROM {s}.{table} t WHERE t.workspace_id = %(ws)s AND t.id <> ALL(%(ids)s::bigint[])
        ), used AS ({referenced}), del AS (
            DELETE FROM {s}.{table} t USING gone
            WHERE t.id = gone.id AND t.workspace_id = %(ws)s AND NOT EXISTS (SELECT 1 FROM used u WHERE u.id = gone.id)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM gone WHERE id IN (SELECT id FROM used))"""
    ).format(
        referenced=sql.SQL("SELECT DISTINCT * FROM ({}) AS x(id)").format(sql.SQL(spec.referenced).format(s=s)),
        s=s,
        table=sql.Identifier(spec.table),
    )


def _check_scope(records: list[Any], workspace_id: int) -> None:
    others = sorted({r.workspace_id for r in records} - {workspace_id})
    if others:
        raise ValueError(f"records of workspace(s) {others} given for workspace {workspace_id}")


def _write(
    conn: psycopg.Connection, spec: TableSpec, records: list[Any], schema: str, synced_at: datetime | None
) -> tuple[int, int, int]:
    """Run the upsert statement; returns (inserted, updated, distinct ids)."""
    arrays = [[getter(r) for r in records] for _, _, getter in spec.columns]
    row = conn.execute(build_upsert_sql(schema, spec), [*arrays, synced_at]).fetchone()
    inserted, updated, total = (int(v) for v in row) if row else (0, 0, 0)
    return inserted, updated, total


def upsert_table(
    conn: psycopg.Connection,
    spec: TableSpec,
    records: Iterable[Any],
    *,
    workspace_id: int,
    schema: str = "raw",
    synced_at: datetime | None = None,
    prune: bool = True,
) -> LoadStats:
    """Upsert all rows of one metadata table of workspace ``workspace_id`` (see the module docstring).

    References to a parent row the table does not have yet get a placeholder parent; a workspace the warehouse
    does not know yet gets a placeholder workspace. ``prune=False`` only upserts (for partial lists).
    ``synced_at`` defaults to the transaction's ``now()``.
    """
    lock_for_load(conn)
    records = list(records)
    _check_scope(records, workspace_id)
    ensure_workspace(conn, schema, workspace_id)
    placeholders = 0
    if spec.parent is not None:
        kind, attribute = spec.parent
        ids = [getattr(r, attribute) for r in records if getattr(r, attribute) is not None]
        placeholders = placeholders_for_ids(conn, schema, kind, ids, workspace_id)
    inserted, updated, total = _write(conn, spec, records, schema, synced_at)
    deleted = kept = 0
    if prune:
        params = {"ws": workspace_id, "ids": [r.id for r in records]}
        pruned = conn.execute(build_prune_sql(schema, spec), params).fetchone()
        deleted, kept = (int(v) for v in pruned) if pruned else (0, 0)
    return LoadStats(inserted, updated, total - inserted - updated, total, deleted, kept, placeholders)


def upsert_workspaces(
    conn: psycopg.Connection,
    records: Iterable[WorkspaceRecord],
    *,
    schema: str = "raw",
    synced_at: datetime | None = None,
) -> LoadStats:
    """Upsert workspaces (placeholders become real rows). Never deletes one: a workspace the user left keeps
    its rows, and a workspace not in ``records`` is left as it is."""
    lock_for_load(conn)
    inserted, updated, total = _write(conn, WORKSPACES, list(records), schema, synced_at)
    return LoadStats(inserted, updated, total - inserted - updated, total, deleted=0, kept=0, placeholders=0)


def upsert_clients(conn: psycopg.Connection, records: Iterable[ClientRecord], **options: Any) -> LoadStats:
    """Upsert all clients of a workspace (options of :func:`upsert_table`; ``workspace_id`` is required)."""
    return upsert_table(conn, CLIENTS, records, **options)


def upsert_projects(conn: psycopg.Connection, records: Iterable[ProjectRecord], **options: Any) -> LoadStats:
    """Upsert all projects of a workspace; unknown ``client_id`` values get placeholder clients."""
    return upsert_table(conn, PROJECTS, records, **options)


def upsert_tags(conn: psycopg.Connection, records: Iterable[TagRecord], **options: Any) -> LoadStats:
    """Upsert all tags of a workspace."""
    return upsert_table(conn, TAGS, records, **options)


def upsert_users(conn: psycopg.Connection, records: Iterable[UserRecord], **options: Any) -> LoadStats:
    """Upsert all users (members) of a workspace."""
    return upsert_table(conn, USERS, records, **options)


def upsert_tasks(conn: psycopg.Connection, records: Iterable[TaskRecord], **options: Any) -> LoadStats:
    """Upsert all tasks of a workspace; unknown ``project_id`` values get placeholder projects."""
    return upsert_table(conn, TASKS, records, **options)


def workspaces_synced_since(
    conn: psycopg.Connection, schema: str, workspace_ids: Sequence[int], since: datetime
) -> bool:
    """True when every one of ``workspace_ids`` has a real (not placeholder) row read from Toggl since ``since``."""
    query = sql.SQL(
        "SELECT count(*) FROM {}.toggl_workspaces WHERE id = ANY(%s) AND NOT is_placeholder AND synced_at >= %s"
    ).format(schema_ident(schema))
    row = conn.execute(query, (list(workspace_ids), since)).fetchone()
    return bool(row) and int(row[0]) == len(set(workspace_ids))
