"""The references of a window of entries: which ids it references, which the metadata tables lack, and the
set-based check that stands in for the per-row foreign-key triggers where allowed (see
:mod:`toggl_assets.warehouse.entries`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import WarehouseError, local_settings, schema_ident, validate_schema_name

# (entries column, referenced table) of every foreign key of toggl_entries.
ENTRY_REFERENCES = (
    ("workspace_id", "toggl_workspaces"),
    ("project_id", "toggl_projects"),
    ("task_id", "toggl_tasks"),
    ("user_id", "toggl_users"),
)


def referenced_ids(conn: psycopg.Connection, window: str, *, tags: bool = False) -> dict[str, list[int]]:
    """The distinct non-NULL ids each foreign-key column of table ``window`` references (and with ``tags``, the
    distinct ids of its ``tag_ids`` arrays, under ``"tag_ids"``): one pass over the table, hashed."""
    columns = [column for column, _ in ENTRY_REFERENCES] + (["tag_ids"] if tags else [])
    idents = [sql.Identifier(c) for c in columns]
    query = sql.SQL("SELECT {cols}, GROUPING({cols}) FROM {w} GROUP BY GROUPING SETS ({sets})").format(
        cols=sql.SQL(", ").join(idents),
        w=sql.Identifier(window),
        sets=sql.SQL(", ").join(sql.SQL("({})").format(i) for i in idents),
    )
    found: dict[str, set[int]] = {c: set() for c in columns}
    width = len(columns)
    for row in conn.execute(query):
        # GROUPING() has a 0 bit for the one column this row is grouped by (the first column is the high bit).
        column = columns[next(i for i in range(width) if not row[width] >> (width - 1 - i) & 1)]
        value = row[columns.index(column)]
        if value is None:
            continue
        if column == "tag_ids":
            found[column].update(v for v in value if v is not None)
        else:
            found[column].add(int(value))
    return {c: sorted(ids) for c, ids in found.items()}


def missing_references(conn: psycopg.Connection, schema: str, refs: dict[str, list[int]]) -> dict[str, list[int]]:
    """Per column of ``refs`` (see :func:`referenced_ids`), the ids its table lacks; one statement."""
    s = schema_ident(schema)
    tables = dict(ENTRY_REFERENCES) | {"tag_ids": "toggl_tags"}
    columns = list(refs)
    parts = [
        sql.SQL(
            "(SELECT coalesce(array_agg(r.id), '{{}}') FROM unnest(%s::bigint[]) AS r(id)"
            " WHERE NOT EXISTS (SELECT 1 FROM {s}.{t} x WHERE x.id = r.id))"
        ).format(s=s, t=sql.Identifier(tables[c]))
        for c in columns
    ]
    row = conn.execute(sql.SQL("SELECT {}").format(sql.SQL(", ").join(parts)), [refs[c] for c in columns]).fetchone()
    return {c: list(row[i]) if row else [] for i, c in enumerate(columns)}


def lock_references(conn: psycopg.Connection, schema: str, refs: dict[str, list[int]]) -> None:
    """Lock (``FOR KEY SHARE``, as the foreign-key triggers do) every row of the foreign-key columns of ``refs``;
    raise :class:`WarehouseError` if one is missing. One statement, whatever the window's size."""
    s = schema_ident(schema)
    checked = [(column, table) for column, table in ENTRY_REFERENCES if column in refs]
    ctes = sql.SQL(", ").join(
        sql.SQL("{n} AS (SELECT x.id FROM {s}.{t} x WHERE x.id = ANY(%s::bigint[]) FOR KEY SHARE)").format(
            n=sql.Identifier(f"locked_{column}"), s=s, t=sql.Identifier(table)
        )
        for column, table in checked
    )
    counts = sql.SQL(", ").join(
        sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(f"locked_{column}")) for column, _ in checked
    )
    row = conn.execute(sql.SQL("WITH {} SELECT {}").format(ctes, counts), [refs[c] for c, _ in checked]).fetchone()
    for i, (column, table) in enumerate(checked):
        lacking = len(refs[column]) - int(row[i] if row else 0)
        if lacking:
            raise WarehouseError(f"{lacking} {column} value(s) of the window reference no row of {table}")


def check_references(conn: psycopg.Connection, schema: str, window: str) -> None:
    """Lock (``FOR KEY SHARE``, as the foreign-key triggers do) every row the window references; raise
    :class:`WarehouseError` if one is missing. Two statements, whatever the window's size."""
    lock_references(conn, schema, referenced_ids(conn, window))


def may_skip_row_triggers(conn: psycopg.Connection, schema: str) -> bool:
    """Whether a merge may switch off ``toggl_entries``' per-row triggers and check references set-based instead.

    Only when (1) this role may set ``session_replication_role`` (a superuser; from PostgreSQL 15 also a role
    granted ``SET`` on it) and (2) the only triggers on ``toggl_entries`` are those of its own foreign keys of
    :data:`ENTRY_REFERENCES`, with no rule: a trigger or foreign key someone added (an audit trigger, a table
    referencing entries) must keep firing. Read-only; never fails on a server or role that lacks something.
    """
    version = conn.info.server_version
    privilege = (
        "rolsuper OR has_parameter_privilege('session_replication_role', 'SET')" if version >= 150000 else "rolsuper"
    )
    row = conn.execute(
        sql.SQL(
            """SELECT (SELECT {privilege} FROM pg_roles WHERE rolname = current_user)
              AND NOT EXISTS (
                SELECT 1 FROM pg_trigger tg
                LEFT JOIN pg_constraint c ON c.oid = tg.tgconstraint AND c.contype = 'f' AND c.conrelid = tg.tgrelid
                LEFT JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                WHERE tg.tgrelid = %(entries)s::regclass
                  AND NOT coalesce(tg.tgisinternal AND cardinality(c.conkey) = 1 AND (a.attname::text, c.confrelid) IN (
                      SELECT r.col, to_regclass(r.tab) FROM unnest(%(cols)s::text[], %(tabs)s::text[]) AS r(col, tab)
                  ), false)
              )
              AND NOT EXISTS (
                SELECT 1 FROM pg_rewrite WHERE ev_class = %(entries)s::regclass AND rulename <> '_RETURN'
              )"""
        ).format(privilege=sql.SQL(privilege)),
        {
            "entries": f"{validate_schema_name(schema)}.toggl_entries",
            "cols": [c for c, _ in ENTRY_REFERENCES],
            "tabs": [f"{schema}.{t}" for _, t in ENTRY_REFERENCES],
        },
    ).fetchone()
    return bool(row and row[0])


@contextmanager
def row_triggers_off(conn: psycopg.Connection) -> Iterator[bool]:
    """Try to switch this transaction's per-row triggers off (``session_replication_role = replica``); yields
    whether they are off. The previous value is restored on exit, also when the body raises (see
    :func:`~toggl_assets.warehouse.db.local_settings`); if the server refuses the setting, nothing changed and the
    body runs with triggers on."""
    try:
        # Asked in a savepoint rolled back at once: a refusal does not abort the caller's transaction.
        with conn.transaction(force_rollback=True):
            conn.execute("SET LOCAL session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        yield False
        return
    with local_settings(conn, session_replication_role="replica"):
        yield True
