"""Placeholder rows: references to rows the metadata tables do not hold yet, so foreign keys always hold.

A reference to an unknown row (an entry's user, project, task or tags; a project's client; a task's project;
any row's workspace) creates a placeholder row with ``is_placeholder = true`` and the name the referencing
record carries, else ``(unknown <kind> <id>)``. The next metadata upsert that returns the row overwrites it and
clears the flag; a metadata prune deletes it once nothing references it. Placeholders are only ever inserted
(``ON CONFLICT DO NOTHING``): an existing row, of this workspace or another, is never changed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import schema_ident

# kind -> (table, extra columns beyond id/workspace_id/name, whether the table has a NOT NULL created_at).
PLACEHOLDER_TABLES: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "clients": ("toggl_clients", (), True),
    "projects": ("toggl_projects", ("client_id",), True),
    "users": ("toggl_users", ("email",), False),
    "tasks": ("toggl_tasks", ("project_id",), False),
    "tags": ("toggl_tags", (), True),
}


def ensure_workspace(conn: psycopg.Connection, schema: str, workspace_id: int) -> bool:
    """Create a placeholder row for ``workspace_id`` unless the workspace exists; True if one was created."""
    cur = conn.execute(
        sql.SQL(
            "INSERT INTO {}.toggl_workspaces (id, name, synced_at, is_placeholder)"
            " VALUES (%s, '(unknown workspace ' || %s || ')', now(), true) ON CONFLICT (id) DO NOTHING"
        ).format(schema_ident(schema)),
        (workspace_id, workspace_id),
    )
    return cur.rowcount > 0


def build_placeholder_sql(schema: str, kind: str, source: sql.Composable) -> sql.Composed:
    """Insert placeholder rows for ids produced by ``source`` that the table does not have yet.

    ``source`` is a SELECT yielding ``id, workspace_id, name`` plus the kind's extra columns (see
    :data:`PLACEHOLDER_TABLES`), all of one workspace. NULL ids are ignored; for an id seen several times a
    non-NULL name is preferred. Placeholders get ``created_at = now()``: the real creation time is unknown.
    Returns the number of rows created.
    """
    table, extra, has_created = PLACEHOLDER_TABLES[kind]
    s = schema_ident(schema)
    extras = [sql.Identifier(c) for c in extra]
    created = [sql.Identifier("created_at")] if has_created else []
    columns = sql.SQL(", ").join([sql.Identifier("id"), sql.Identifier("workspace_id"), sql.Identifier("name"),
                                  *extras, *created])  # fmt: skip
    label = f"(unknown {kind[:-1]} "
    values = sql.SQL(", ").join(
        [sql.SQL("id"), sql.SQL("workspace_id"), sql.SQL("coalesce(name, {} || id || ')')").format(label), *extras]
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


def placeholders_for_ids(conn: psycopg.Connection, schema: str, kind: str, ids: list[int], workspace_id: int) -> int:
    """Placeholders for ids referenced by Python records (a project's client, a task's project)."""
    if not ids:
        return 0
    extra = PLACEHOLDER_TABLES[kind][1]
    nulls = "".join(f", NULL::{'bigint' if c.endswith('_id') else 'text'} AS {c}" for c in extra)
    source = sql.SQL(
        "SELECT r.id, %s::bigint AS workspace_id, NULL::text AS name" + nulls + " FROM unnest(%s::bigint[]) AS r(id)"
    )
    row = conn.execute(build_placeholder_sql(schema, kind, source), (workspace_id, ids)).fetchone()
    return int(row[0]) if row else 0


# kind -> (referencing column, the test that a row references one of the ids ``{ids}``, SELECT of the kind's
# rows from ``{t}``: ``{where}`` is that test). Kinds in foreign-key order (a task's project first).
_ENTRY_SOURCES = {
    "users": ("user_id", "user_id = ANY({ids}::bigint[])",
              "SELECT user_id AS id, workspace_id, user_name AS name, user_email AS email FROM {t} WHERE {where}"),
    "projects": ("project_id", "project_id = ANY({ids}::bigint[])",
                 "SELECT project_id AS id, workspace_id, project_name AS name, NULL::bigint AS client_id FROM {t}"
                 " WHERE {where}"),
    "tasks": ("task_id", "task_id = ANY({ids}::bigint[])",
              "SELECT task_id AS id, workspace_id, task_name AS name, project_id FROM {t} WHERE {where}"),
    # Names pair with ids by position only when both arrays have the same length. Entries share few distinct tag
    # lists: de-duplicating them before unnest saves expanding every entry's array.
    "tags": ("tag_ids", "tag_ids && {ids}::bigint[]",
             "SELECT g.id, e.workspace_id, g.name FROM (SELECT DISTINCT workspace_id, tag_ids,"
             " CASE WHEN cardinality(tags) = cardinality(tag_ids) THEN tags END AS tags FROM {t} WHERE {where}) e,"
             " unnest(e.tag_ids, e.tags) AS g(id, name) WHERE g.id = ANY(%(ids)s::bigint[])"),
}  # fmt: skip


def placeholders_from_table(
    conn: psycopg.Connection, schema: str, table: str, missing: Mapping[str, Sequence[int]]
) -> dict[str, int]:
    """Placeholders for the ids ``missing`` (referencing column of the entries -> ids the metadata tables lack)
    that the entries in temporary table ``table`` (one workspace's window) reference; returns the rows created per
    kind. Kinds are processed in foreign-key order (a task's project first); each name is picked from the rows that
    reference the id, not sorted out of every row of the window."""
    t = sql.Identifier(table)
    wanted = {column: list(missing[column]) for column, _, _ in _ENTRY_SOURCES.values() if missing.get(column)}
    narrowed = f"{table}_referencing" if len(wanted) > 1 else None
    if narrowed:
        # Several kinds lack rows: one scan of the window keeps the rows that reference any missing id, and each
        # kind reads those (a 1M-entry window was scanned once per kind: 0.15-0.2 s each).
        tests = [test.format(ids=f"%({column})s") for column, test, _ in _ENTRY_SOURCES.values() if column in wanted]
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {n} AS SELECT * FROM {t} WHERE {any}").format(
                n=sql.Identifier(narrowed), t=t, any=sql.SQL(" OR ".join(tests))
            ),
            wanted,
        )
        t = sql.Identifier(narrowed)
    created: dict[str, int] = {}
    for kind, (column, test, source) in _ENTRY_SOURCES.items():
        row = None
        if column in wanted:
            select = sql.SQL(source).format(t=t, where=sql.SQL(test.format(ids="%(ids)s")))
            row = conn.execute(build_placeholder_sql(schema, kind, select), {"ids": wanted[column]}).fetchone()
        created[kind] = int(row[0]) if row else 0
    if narrowed:  # after an error the caller's rollback drops it
        conn.execute(sql.SQL("DROP TABLE {}").format(t))
    return created
