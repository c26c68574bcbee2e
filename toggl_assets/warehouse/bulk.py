"""Bulk inserts into an indexed table: set its indexes aside, insert, build them again, in one transaction.

Inserting a row into a b-tree costs far more than the row itself: a first load of a 1M-entry year into
``toggl_entries`` took 4.1-4.8 s with its two indexes (primary key, ``start``) against 1.2-1.4 s without them, and
building both afterwards 0.6-1.0 s (PostgreSQL's own advice for populating a table: load first, index after).

It pays only when the rows inserted outnumber the rows already there (the rebuild reads the whole table), and it
locks the table ``ACCESS EXCLUSIVE`` until the caller's transaction ends: readers wait for the commit. So
:func:`indexes_set_aside` does nothing (yields False) unless every index can be rebuilt exactly as it was and the
lock is free at once:

- the table is a plain table this role owns, in no publication, with no replica-identity or clustered index and
  no foreign key of another table pointing at it;
- each index is valid, in the default tablespace, without a comment, and either a plain index or the index of a
  primary key or unique constraint (rebuilt from ``pg_get_indexdef`` / ``pg_get_constraintdef``);
- ``LOCK TABLE … NOWAIT`` succeeds (a savepoint undoes a refusal): a reader is never made to wait on us
  before we hold the table, and we never wait on a reader.

Transactional DDL does the rest: an error rolls the caller's transaction back and the indexes with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import errors, sql

from toggl_assets.warehouse.db import require_transaction, schema_ident

# Below this many rows the per-row index cost is a few milliseconds: not worth two DDL statements per index.
MIN_BULK_ROWS = 10_000

# One row per index of the table, NULL when the table or one of its indexes cannot be set aside safely.
_PLAN_SQL = """
WITH t AS (
    SELECT c.oid, c.relkind, c.relreplident, pg_has_role(c.relowner, 'USAGE') AS owned
    FROM pg_class c WHERE c.oid = %(table)s::regclass
), blockers AS (
    SELECT 1 FROM t WHERE t.relkind <> 'r' OR t.relreplident = 'i' OR NOT t.owned
    UNION ALL SELECT 1 FROM pg_constraint f, t WHERE f.confrelid = t.oid AND f.contype = 'f'
    UNION ALL SELECT 1 FROM pg_publication_tables p WHERE p.schemaname = %(schema)s AND p.tablename = %(name)s
    UNION ALL
    SELECT 1 FROM pg_index i JOIN t ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
    LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
    WHERE NOT i.indisvalid OR NOT i.indisready OR i.indisclustered OR i.indisreplident OR ic.reltablespace <> 0
       OR obj_description(i.indexrelid, 'pg_class') IS NOT NULL
       OR (k.oid IS NOT NULL AND (k.contype NOT IN ('p', 'u') OR obj_description(k.oid, 'pg_constraint') IS NOT NULL))
)
SELECT ic.relname, k.conname, pg_get_constraintdef(k.oid), pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN t ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid
WHERE NOT EXISTS (SELECT 1 FROM blockers)
ORDER BY k.contype NULLS LAST, ic.relname
"""


def index_rebuild_plan(
    conn: psycopg.Connection, schema: str, table: str
) -> tuple[list[sql.Composable], list[sql.Composable]] | None:
    """(statements that drop the table's indexes, statements that build them again), or None when the table or
    one of its indexes cannot be set aside safely (see the module docstring). Read-only."""
    schema_id, table_id = schema_ident(schema), sql.Identifier(table)
    params = {"table": f"{schema}.{table}", "schema": schema, "name": table}
    rows = conn.execute(_PLAN_SQL, params).fetchall()
    if not rows:  # a blocker, or no index at all: nothing to gain either way
        return None
    drops: list[sql.Composable] = []
    builds: list[sql.Composable] = []
    for index, constraint, constraint_def, index_def in rows:
        if constraint is not None:
            name = sql.Identifier(constraint)
            drops.append(sql.SQL("ALTER TABLE {}.{} DROP CONSTRAINT {}").format(schema_id, table_id, name))
            builds.append(
                sql.SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} {}").format(
                    schema_id, table_id, name, sql.SQL(constraint_def)
                )
            )
        else:
            drops.append(sql.SQL("DROP INDEX {}.{}").format(schema_id, sql.Identifier(index)))
            builds.append(sql.SQL(index_def))
    return drops, builds


def bulk_insert_pays(conn: psycopg.Connection, schema: str, table: str, rows: int) -> bool:
    """Whether inserting ``rows`` rows is worth rebuilding the table's indexes: at least :data:`MIN_BULK_ROWS` and
    more than the table holds (counted no further than ``rows``, so the test costs at most what it saves)."""
    if rows < MIN_BULK_ROWS:
        return False
    query = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}.{} LIMIT %s) held").format(
        schema_ident(schema), sql.Identifier(table)
    )
    row = conn.execute(query, (rows,)).fetchone()
    return bool(row) and int(row[0]) < rows


@contextmanager
def indexes_set_aside(conn: psycopg.Connection, schema: str, table: str, *, rows: int | None = None) -> Iterator[bool]:
    """Drop the table's indexes for the block and build them again after it, in the caller's transaction; yields
    whether they were set aside (False: the block runs with the indexes in place, see the module docstring).
    With ``rows`` (how many the block inserts), only when :func:`bulk_insert_pays`.

    A commit never sees them missing: after an SQL error the transaction can only roll back (which restores
    them), and after a Python error they are built again before the error goes on (or, if that fails too, the
    transaction is left aborted)."""
    require_transaction(conn)
    if rows is not None and not bulk_insert_pays(conn, schema, table, rows):
        yield False
        return
    plan = index_rebuild_plan(conn, schema, table)
    if plan is None or not _lock_now(conn, schema, table):
        yield False
        return
    drops, builds = plan
    for statement in drops:
        conn.execute(statement)
    try:
        yield True
    except BaseException:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with suppress(psycopg.Error):
                _run(conn, builds)
        raise
    _run(conn, builds)


def _run(conn: psycopg.Connection, statements: list[sql.Composable]) -> None:
    for statement in statements:
        conn.execute(statement)


def _lock_now(conn: psycopg.Connection, schema: str, table: str) -> bool:
    """Take the table ACCESS EXCLUSIVE if nobody holds a lock on it; a refusal is undone by a savepoint."""
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL("LOCK TABLE {}.{} IN ACCESS EXCLUSIVE MODE NOWAIT").format(
                    schema_ident(schema), sql.Identifier(table)
                )
            )
    except errors.LockNotAvailable:
        return False
    return True
