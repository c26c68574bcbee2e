"""Versioned, idempotent schema migrations for the warehouse.

Applied versions are recorded in ``<raw_schema>.schema_migrations``. Every run holds a transaction-level
advisory lock, so two processes starting against an empty database at the same time do not race: the
second waits, then sees the versions the first recorded and applies nothing.

Column names and types of ``toggl_clients``, ``toggl_projects``, ``toggl_tags`` and ``toggl_entries``
follow the project's table specification exactly; extra columns are additions, never renames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import validate_schema_name
from toggl_assets.warehouse.weekly import weekly_view_sql

# Arbitrary constant (ASCII "tgmigr") shared by every process that migrates this warehouse.
MIGRATION_LOCK_KEY = 0x74676D696772


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[sql.Identifier, sql.Identifier], list[sql.Composable]]


def _initial_tables(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    # FKs are DEFERRABLE INITIALLY IMMEDIATE: checked per statement by default (clear errors), but a caller
    # may SET CONSTRAINTS ALL DEFERRED to load in any order within one transaction.
    fk = "DEFERRABLE INITIALLY IMMEDIATE"
    statements = [
        """CREATE TABLE {raw}.toggl_clients (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            is_archived BOOLEAN,
            created_at TIMESTAMPTZ NOT NULL,
            synced_at TIMESTAMPTZ,
            notes TEXT,
            updated_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        f"""CREATE TABLE {{raw}}.toggl_projects (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            client_id BIGINT REFERENCES {{raw}}.toggl_clients (id) {fk},
            name TEXT NOT NULL,
            color TEXT,
            is_private BOOLEAN,
            is_active BOOLEAN,
            is_billable BOOLEAN,
            created_at TIMESTAMPTZ NOT NULL,
            archived_at TIMESTAMPTZ,
            synced_at TIMESTAMPTZ,
            status TEXT,
            rate NUMERIC(14, 2),
            currency TEXT,
            server_deleted_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        "CREATE INDEX ON {raw}.toggl_projects (client_id)",
        """CREATE TABLE {raw}.toggl_tags (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            synced_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        """CREATE TABLE {raw}.toggl_users (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            name TEXT,
            email TEXT,
            is_active BOOLEAN,
            is_admin BOOLEAN,
            rate NUMERIC(14, 2),
            timezone TEXT,
            updated_at TIMESTAMPTZ,
            synced_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        f"""CREATE TABLE {{raw}}.toggl_tasks (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            project_id BIGINT REFERENCES {{raw}}.toggl_projects (id) {fk},
            user_id BIGINT,
            is_active BOOLEAN,
            estimated_seconds BIGINT,
            tracked_ms BIGINT,
            rate NUMERIC(14, 2),
            updated_at TIMESTAMPTZ,
            synced_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        "CREATE INDEX ON {raw}.toggl_tasks (project_id)",
        f"""CREATE TABLE {{raw}}.toggl_entries (
            id BIGINT PRIMARY KEY,
            workspace_id BIGINT NOT NULL,
            project_id BIGINT REFERENCES {{raw}}.toggl_projects (id) {fk},
            task_id BIGINT REFERENCES {{raw}}.toggl_tasks (id) {fk},
            user_id BIGINT REFERENCES {{raw}}.toggl_users (id) {fk},
            description TEXT,
            start TIMESTAMPTZ NOT NULL,
            "end" TIMESTAMPTZ,
            duration_ms BIGINT,
            is_billable BOOLEAN,
            billable_amount NUMERIC(14, 2),
            currency TEXT,
            tags TEXT[],
            updated_at TIMESTAMPTZ,
            synced_at TIMESTAMPTZ,
            tag_ids BIGINT[],
            hourly_rate NUMERIC(14, 2)
        )""",
        "CREATE INDEX ON {raw}.toggl_entries (start)",
        # The FK columns are indexed so deleting unreferenced metadata rows does not scan all entries.
        "CREATE INDEX ON {raw}.toggl_entries (project_id)",
        "CREATE INDEX ON {raw}.toggl_entries (task_id)",
        "CREATE INDEX ON {raw}.toggl_entries (user_id)",
        "CREATE INDEX ON {raw}.toggl_entries USING gin (tag_ids)",
    ]
    return [sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements]


def _weekly_summary(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    days = ",\n".join(f"day{i}_ms BIGINT" for i in range(1, 8))
    day_earnings = ",\n".join(f"day{i}_earnings NUMERIC(14, 2)" for i in range(1, 8))
    statement = f"""CREATE TABLE {{analytics}}.toggl_weekly_summary (
            week_start DATE NOT NULL,
            timezone TEXT NOT NULL,
            project_id BIGINT,
            project_name TEXT,
            client_name TEXT,
            user_id BIGINT,
            user_name TEXT,
            currency TEXT,
            {days},
            total_ms BIGINT,
            billable_ms BIGINT,
            earnings NUMERIC(14, 2),
            {day_earnings},
            refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            -- project, user and currency may be NULL (no project / no currency): NULLs compare equal here.
            UNIQUE NULLS NOT DISTINCT (week_start, project_id, user_id, currency)
        )"""
    return [sql.SQL(statement).format(raw=raw, analytics=analytics)]


RAW_TABLES = ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks", "toggl_entries")


def _workspaces(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """Several workspaces: a workspace table every raw table references, and a per-workspace weekly summary.

    Existing rows keep working: every workspace id already present gets a placeholder workspace row before the
    foreign keys are added. Summary rows are derived data: in a one-workspace warehouse they get that workspace,
    otherwise (rows of several workspaces mixed by the old key) they are dropped and the next refresh rebuilds.
    """
    union = " UNION ".join(f"SELECT workspace_id FROM {{raw}}.{t}" for t in RAW_TABLES)
    statements = [
        """CREATE TABLE {raw}.toggl_workspaces (
            id BIGINT PRIMARY KEY,
            organization_id BIGINT,
            name TEXT NOT NULL,
            default_currency TEXT,
            default_hourly_rate NUMERIC(14, 2),
            rounding INT,
            rounding_minutes INT,
            at TIMESTAMPTZ,
            synced_at TIMESTAMPTZ,
            is_placeholder BOOLEAN NOT NULL DEFAULT false
        )""",
        f"""INSERT INTO {{raw}}.toggl_workspaces (id, name, synced_at, is_placeholder)
            SELECT workspace_id, '(unknown workspace ' || workspace_id || ')', now(), true FROM ({union}) u""",
        *(
            f"ALTER TABLE {{raw}}.{t} ADD CONSTRAINT {t}_workspace_id_fkey FOREIGN KEY (workspace_id)"
            " REFERENCES {raw}.toggl_workspaces (id) DEFERRABLE INITIALLY IMMEDIATE"
            for t in RAW_TABLES
        ),
        "ALTER TABLE {analytics}.toggl_weekly_summary ADD COLUMN workspace_id BIGINT",
        f"""UPDATE {{analytics}}.toggl_weekly_summary SET workspace_id = (SELECT min(workspace_id) FROM ({union}) u)
            WHERE (SELECT count(*) FROM ({union}) u) = 1""",
        "DELETE FROM {analytics}.toggl_weekly_summary WHERE workspace_id IS NULL",
        "ALTER TABLE {analytics}.toggl_weekly_summary ALTER COLUMN workspace_id SET NOT NULL",
        # The old key's name was generated by PostgreSQL (and may be truncated): find it rather than guess it.
        """DO $$ DECLARE old_key text; BEGIN
            SELECT conname INTO old_key FROM pg_constraint
            WHERE conrelid = '{analytics}.toggl_weekly_summary'::regclass AND contype = 'u';
            IF old_key IS NOT NULL THEN
                EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', '{analytics}.toggl_weekly_summary', old_key);
            END IF;
        END $$""",
        "ALTER TABLE {analytics}.toggl_weekly_summary ADD CONSTRAINT toggl_weekly_summary_key"
        " UNIQUE NULLS NOT DISTINCT (workspace_id, week_start, project_id, user_id, currency)",
    ]
    return [sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements]


def _sync_state(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """Synced days, the reconciliation watermark and the per-day rollup the weekly summary is computed from."""
    statements = [
        """CREATE TABLE {raw}.toggl_synced_days (
            workspace_id BIGINT NOT NULL REFERENCES {raw}.toggl_workspaces (id),
            day DATE NOT NULL,
            synced_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (workspace_id, day)
        )""",
        """CREATE TABLE {raw}.toggl_sync_state (
            workspace_id BIGINT PRIMARY KEY REFERENCES {raw}.toggl_workspaces (id),
            last_update_watermark TIMESTAMPTZ,
            reconciled_at TIMESTAMPTZ
        )""",
        # Derived from toggl_entries (stopped entries only), kept current by every window merge; its days are
        # local days in the zone recorded in toggl_rollup_zones and it is rebuilt when a caller's zone differs.
        """CREATE TABLE {raw}.toggl_daily_rollup (
            workspace_id BIGINT NOT NULL,
            day DATE NOT NULL,
            project_id BIGINT,
            user_id BIGINT,
            currency TEXT,
            entries INT NOT NULL,
            ms BIGINT NOT NULL,
            billable_ms BIGINT,
            cents BIGINT NOT NULL
        )""",
        # Rows are unique by construction (one GROUP BY writes a day): a plain index is much cheaper to fill.
        "CREATE INDEX ON {raw}.toggl_daily_rollup (workspace_id, day)",
        """CREATE TABLE {raw}.toggl_rollup_zones (
            workspace_id BIGINT PRIMARY KEY,
            timezone TEXT NOT NULL,
            rebuilt_at TIMESTAMPTZ NOT NULL
        )""",
    ]
    return [sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements]


def _lean_entry_indexes(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """Drop the entry indexes no query needs any more; together they made loading entries several times slower.

    Metadata prunes test references set-based (one pass over the entries, only when a row is gone) and the weekly
    summary reads the daily rollup, so the indexes on project_id, task_id, user_id and tag_ids serve nothing;
    the index on ``start`` (every window query) stays.
    """
    statements = [
        f"DROP INDEX IF EXISTS {{raw}}.toggl_entries_{column}_idx"
        for column in ("project_id", "task_id", "user_id", "tag_ids")
    ]
    return [sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements]


def _bigint_sum(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """``toggl_sum(bigint)``: an exact sum of bigints that stays a bigint (NULL for no rows, an error on overflow).

    The built-in ``sum(bigint)`` returns numeric: an allocated state per group and a numeric result cast back
    to bigint. The rollup and the weekly summary add up millions of values; there it cost a fifth of their time.
    """
    statement = (
        "CREATE AGGREGATE {raw}.toggl_sum(bigint) (SFUNC = pg_catalog.int8pl, STYPE = bigint,"
        " COMBINEFUNC = pg_catalog.int8pl, PARALLEL = SAFE)"
    )
    return [sql.SQL(statement).format(raw=raw, analytics=analytics)]


def _summary_week_index(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """The weekly summary's unique key becomes a plain index on (workspace, week).

    A refresh deletes its weeks and inserts them again in one transaction: under a unique key every new row
    met the deleted row of the same key and had to check its visibility, about 3 s of a 1M-entry year's 9 s.
    The rows stay unique by construction: one GROUP BY writes a week, after the DELETE of that week, and
    refreshes take an advisory lock. Readers and the DELETE look rows up by (workspace, week).
    """
    statements = [
        "ALTER TABLE {analytics}.toggl_weekly_summary DROP CONSTRAINT IF EXISTS toggl_weekly_summary_key",
        "CREATE INDEX toggl_weekly_summary_week ON {analytics}.toggl_weekly_summary (workspace_id, week_start)",
    ]
    return [sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements]


def _weekly_summary_view(raw: sql.Identifier, analytics: sql.Identifier) -> list[sql.Composable]:
    """The weekly summary becomes a view over the daily rollup, which now records each day's week.

    A refresh wrote about 570k wide rows for a 1M-entry year (several seconds); the view aggregates a week's
    rollup rows when read (a week: milliseconds, through the new (workspace, week, day) index) and is never
    stale. Each rollup's week start is taken from its old summary rows (Monday when there are none); a rollup of
    a workspace without a recorded zone is dropped (the next merge or weekly run rebuilds it).
    """
    statements = [
        "ALTER TABLE {raw}.toggl_rollup_zones ADD COLUMN week_start SMALLINT",
        """UPDATE {raw}.toggl_rollup_zones z SET week_start = coalesce((
            SELECT extract(dow FROM s.week_start)::int FROM {analytics}.toggl_weekly_summary s
            WHERE s.workspace_id = z.workspace_id ORDER BY s.week_start DESC LIMIT 1), 1)""",
        "ALTER TABLE {raw}.toggl_rollup_zones ALTER COLUMN week_start SET NOT NULL,"
        " ADD CONSTRAINT toggl_rollup_zones_week_start CHECK (week_start BETWEEN 0 AND 6)",
        "ALTER TABLE {raw}.toggl_daily_rollup ADD COLUMN week_start DATE,"
        " ADD COLUMN refreshed_at TIMESTAMPTZ NOT NULL DEFAULT now()",
        """UPDATE {raw}.toggl_daily_rollup r
            SET week_start = r.day - (extract(dow FROM r.day)::int - z.week_start + 7) % 7
            FROM {raw}.toggl_rollup_zones z WHERE z.workspace_id = r.workspace_id""",
        "DELETE FROM {raw}.toggl_daily_rollup WHERE week_start IS NULL",
        "ALTER TABLE {raw}.toggl_daily_rollup ALTER COLUMN week_start SET NOT NULL",
        "DROP INDEX IF EXISTS {raw}.toggl_daily_rollup_workspace_id_day_idx",
        "CREATE INDEX toggl_daily_rollup_week ON {raw}.toggl_daily_rollup (workspace_id, week_start, day)",
        "DROP TABLE {analytics}.toggl_weekly_summary",
    ]
    return [*(sql.SQL(s).format(raw=raw, analytics=analytics) for s in statements), weekly_view_sql(raw, analytics)]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "raw toggl tables", _initial_tables),
    Migration(2, "analytics weekly summary", _weekly_summary),
    Migration(3, "several workspaces", _workspaces),
    Migration(4, "synced days, sync state and daily rollup", _sync_state),
    Migration(5, "lean entry indexes", _lean_entry_indexes),
    Migration(6, "bigint sum aggregate", _bigint_sum),
    Migration(7, "weekly summary indexed by week", _summary_week_index),
    Migration(8, "weekly summary as a view over the rollup", _weekly_summary_view),
)


def migrate(
    conn: psycopg.Connection,
    raw_schema: str = "raw",
    analytics_schema: str = "analytics",
    *,
    target: int | None = None,
) -> list[int]:
    """Bring the warehouse up to date; return the versions applied now (empty when already up to date).

    ``target`` stops after that version (tests use it to build an old warehouse and then migrate it).

    Runs in its own transaction, committed on success, unless the caller already has one open (then it uses
    a savepoint and the caller commits).
    """
    raw = sql.Identifier(validate_schema_name(raw_schema, "raw_schema"))
    analytics = sql.Identifier(validate_schema_name(analytics_schema, "analytics_schema"))
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(raw))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(analytics))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.schema_migrations ("
                "version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            ).format(raw)
        )
        done = {row[0] for row in conn.execute(sql.SQL("SELECT version FROM {}.schema_migrations").format(raw))}
        for migration in MIGRATIONS:
            if migration.version in done or (target is not None and migration.version > target):
                continue
            for statement in migration.statements(raw, analytics):
                conn.execute(statement)
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version, name, applied_at) VALUES (%s, %s, now())").format(
                    raw
                ),
                (migration.version, migration.name),
            )
            applied.append(migration.version)
    return applied


def applied_versions(conn: psycopg.Connection, raw_schema: str = "raw") -> list[int]:
    """Versions recorded in ``schema_migrations`` (empty if the warehouse was never migrated)."""
    raw = validate_schema_name(raw_schema, "raw_schema")
    exists = conn.execute("SELECT to_regclass(%s)", (f"{raw}.schema_migrations",)).fetchone()
    if not exists or exists[0] is None:
        return []
    query = sql.SQL("SELECT version FROM {}.schema_migrations ORDER BY version").format(sql.Identifier(raw))
    return [row[0] for row in conn.execute(query)]
