"""Several workspaces in one warehouse: every write is scoped to one workspace; old warehouses migrate in place."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from toggl_assets.records import TaskRecord, WorkspaceRecord
from toggl_assets.warehouse import checks
from toggl_assets.warehouse.entries import EntryStaging
from toggl_assets.warehouse.history import (
    advance_watermark,
    mark_synced_days,
    synced_days,
    warehouse_workspace_ids,
)
from toggl_assets.warehouse.metadata import (
    upsert_clients,
    upsert_projects,
    upsert_tags,
    upsert_tasks,
    upsert_users,
    upsert_workspaces,
)
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.rollup import Calendar
from toggl_assets.warehouse.weekly import prepare_weekly_summaries, weekly_report
from toggl_assets_tests.factories import client, entry, load_entries, project, tag, user, utc

A, B = 1, 2
DAY = timedelta(days=1)
W0 = utc(2024, 3, 4)  # a Monday
WEEK = W0.date()
MONDAYS_UTC = Calendar("UTC", 1)
RAW_TABLES = ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks", "toggl_entries",
              "toggl_synced_days", "toggl_sync_state", "toggl_daily_rollup", "toggl_rollup_zones")  # fmt: skip


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    return warehouse


def summary_rows(conn: psycopg.Connection, week: date) -> int:
    return conn.execute(
        "SELECT count(*) FROM analytics.toggl_weekly_summary WHERE week_start = %s", (week,)
    ).fetchone()[0]


def snapshot(conn: psycopg.Connection, workspace_id: int) -> dict[str, list[str]]:
    """Every row of one workspace, in every table, as text (the workspace row itself included)."""
    found = {
        table: [
            r[0]
            for r in conn.execute(
                sql.SQL("SELECT t::text FROM raw.{} t WHERE workspace_id = %s ORDER BY 1").format(
                    sql.Identifier(table)
                ),
                (workspace_id,),
            )
        ]
        for table in RAW_TABLES
    }
    found["toggl_workspaces"] = [
        r[0] for r in conn.execute("SELECT t::text FROM raw.toggl_workspaces t WHERE id = %s", (workspace_id,))
    ]
    found["summary"] = [
        r[0]
        for r in conn.execute(
            "SELECT (t.workspace_id, t.week_start, t.project_id, t.user_id, t.total_ms, t.earnings)::text"
            " FROM analytics.toggl_weekly_summary t WHERE workspace_id = %s ORDER BY 1",
            (workspace_id,),
        )
    ]
    return found


def metadata(conn: psycopg.Connection, ws: int, base: int, *, prune_some: bool = False) -> None:
    """Clients, projects, tags, users and tasks of workspace ``ws`` with ids from ``base``; user 7 is shared."""
    names = ("Acme", "Globex") if not prune_some else ("Acme",)
    upsert_clients(conn, [client(base + i, n, workspace_id=ws) for i, n in enumerate(names)], workspace_id=ws)
    upsert_projects(
        conn,
        [project(base + 10, "Web", client_id=base, workspace_id=ws, currency="EUR"),
         *([] if prune_some else [project(base + 11, "App", workspace_id=ws)])],
        workspace_id=ws,
    )  # fmt: skip
    upsert_tags(conn, [tag(base + 20, "urgent", workspace_id=ws)], workspace_id=ws)
    users = [user(7, f"Shared in {ws}", workspace_id=ws), user(base + 30, f"Own {ws}", workspace_id=ws)]
    upsert_users(conn, users, workspace_id=ws)
    task = TaskRecord(id=base + 40, workspace_id=ws, project_id=base + 10, name="Design")
    upsert_tasks(conn, [task], workspace_id=ws)


def week_of(ws: int, base: int, *, start=W0, **fields) -> list:
    return [
        entry(base + i, start + i * DAY + timedelta(hours=9), 1800 + i, workspace_id=ws, user_id=7,
              project_id=base + 10 + i % 2, tags=("urgent",), tag_ids=(base + 20,), is_billable=True,
              hourly_rate=Decimal("60"), **fields)
        for i in range(7)
    ]  # fmt: skip


def test_syncing_b_never_changes_a_row_of_a(db: psycopg.Connection) -> None:
    upsert_workspaces(db, [WorkspaceRecord(A, 10, "Agency", "EUR"), WorkspaceRecord(B, 20, "Client", "USD")])
    metadata(db, A, 1000)
    load_entries(db, week_of(A, 1000), W0, W0 + 7 * DAY, workspace_id=A)
    load_entries(db, week_of(A, 1100, start=W0 + 7 * DAY), W0 + 7 * DAY, W0 + 14 * DAY, workspace_id=A)
    advance_watermark(db, "raw", A, utc(2024, 3, 20))
    prepare_weekly_summaries(db, MONDAYS_UTC, workspace_ids=[A])
    db.commit()
    before = snapshot(db, A)
    assert all(before[t] for t in ("toggl_entries", "toggl_users", "toggl_daily_rollup", "summary"))

    # B: its own metadata (user 7 is also a member of B), then overlapping windows with edits and deletions.
    metadata(db, B, 2000)
    records = week_of(B, 2000)
    load_entries(db, records, W0 - 3 * DAY, W0 + 10 * DAY, workspace_id=B)
    edited = [*records[:2], entry(2002, records[2].start, 99, workspace_id=B, description="edited"), *records[4:]]
    stats = load_entries(db, edited, W0, W0 + 7 * DAY, workspace_id=B)
    assert (stats.updated, stats.deleted) == (1, 1)
    # A stage holding A's rows too (changed): B's merge ignores them, over a window covering all of A's.
    stage = EntryStaging(db)
    stage.add([*edited, *(entry(r.id, r.start, 5, workspace_id=A) for r in week_of(A, 1000))])
    assert stage.merge_window(B, W0 - 7 * DAY, W0 + 21 * DAY, timezone="Europe/Berlin").in_window == len(edited)
    stage.close()
    # B prunes its metadata and gets (then loses) placeholders; an id of A given as B's is not applied to A's row.
    load_entries(db, [entry(2100, W0, 60, workspace_id=B, project_id=2999, user_id=2998, tag_ids=(2997,),
                            tags=("new",))], W0, W0 + DAY, workspace_id=B)  # fmt: skip
    metadata(db, B, 2000, prune_some=True)
    upsert_projects(db, [project(1010, "Hijack", workspace_id=B)], workspace_id=B, prune=False)
    upsert_workspaces(db, [WorkspaceRecord(B, 20, "Client renamed", "USD")])
    load_entries(db, [], W0 - 7 * DAY, W0 + 21 * DAY, workspace_id=B)  # B left with no entries at all
    metadata(db, B, 2000, prune_some=True)
    advance_watermark(db, "raw", B, utc(2030, 1, 1))
    prepare_weekly_summaries(db, MONDAYS_UTC, workspace_ids=[B])
    prepare_weekly_summaries(db, Calendar("Europe/Berlin", 0), workspace_ids=[B])  # B's rollup is rebuilt
    db.commit()

    assert snapshot(db, A) == before
    assert checks.foreign_keys_resolve(db).passed
    assert db.execute("SELECT count(*) FROM raw.toggl_entries WHERE workspace_id = %s", (B,)).fetchone() == (0,)
    # B's prune removed its unreferenced rows (the placeholders included) and kept what A's entries reference.
    assert db.execute("SELECT count(*) FROM raw.toggl_projects WHERE workspace_id = %s", (B,)).fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM raw.toggl_users WHERE is_placeholder").fetchone() == (0,)
    assert warehouse_workspace_ids(db) == [A, B]


def test_records_of_another_workspace_are_refused(db: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="workspace"):
        upsert_tags(db, [tag(1, "x", workspace_id=B)], workspace_id=A)


def test_the_report_of_each_workspace_is_its_own(db: psycopg.Connection) -> None:
    metadata(db, A, 1000)
    metadata(db, B, 2000)
    load_entries(db, week_of(A, 1000), W0, W0 + 7 * DAY, workspace_id=A)
    load_entries(db, week_of(B, 2000)[:3], W0, W0 + 7 * DAY, workspace_id=B)
    report_a, report_b = weekly_report(db, A, WEEK, "UTC"), weekly_report(db, B, WEEK, "UTC")
    assert report_a["total_grand"] == sum(1800 + i for i in range(7)) * 1000
    assert report_b["total_grand"] == sum(1800 + i for i in range(3)) * 1000
    assert {row["pid"] for row in report_a["data"]} == {1010, 1011}
    assert {row["pid"] for row in report_b["data"]} == {2010, 2011}
    prepare_weekly_summaries(db, MONDAYS_UTC, workspace_ids=[A, B])
    assert summary_rows(db, WEEK) == 4
    per_workspace = db.execute(
        "SELECT workspace_id, sum(total_ms) FROM analytics.toggl_weekly_summary GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_workspace == [(A, report_a["total_grand"]), (B, report_b["total_grand"])]


def test_workspaces_upsert_and_placeholders(db: psycopg.Connection) -> None:
    upsert_tags(db, [tag(1, "x", workspace_id=5)], workspace_id=5)
    assert db.execute("SELECT name, is_placeholder FROM raw.toggl_workspaces").fetchall() == [
        ("(unknown workspace 5)", True)
    ]
    at = utc(2024, 1, 2)
    record = WorkspaceRecord(5, 9, "Mine", "EUR", Decimal("50"), 1, 15, at)
    stats = upsert_workspaces(db, [record])
    assert (stats.inserted, stats.updated) == (0, 1)
    assert upsert_workspaces(db, [record]).unchanged == 1
    assert upsert_workspaces(db, []).deleted == 0  # never deletes a workspace
    row = db.execute(
        "SELECT organization_id, name, default_currency, default_hourly_rate, rounding, rounding_minutes, at,"
        " is_placeholder FROM raw.toggl_workspaces WHERE id = 5"
    ).fetchone()
    assert row == (9, "Mine", "EUR", Decimal("50.00"), 1, 15, at, False)


# --- migration from a version-2 warehouse ------------------------------------------------------------------


def _insert_version_2_rows(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO raw.toggl_clients (id, workspace_id, name, created_at) VALUES (1, 77, 'C', now())")
    conn.execute(
        "INSERT INTO raw.toggl_projects (id, workspace_id, client_id, name, created_at, currency)"
        " VALUES (10, 77, 1, 'P', now(), 'EUR')"
    )
    conn.execute("INSERT INTO raw.toggl_tags (id, workspace_id, name, created_at) VALUES (20, 77, 'T', now())")
    conn.execute("INSERT INTO raw.toggl_users (id, workspace_id, name) VALUES (30, 77, 'U')")
    conn.execute("INSERT INTO raw.toggl_tasks (id, workspace_id, name, project_id) VALUES (40, 77, 'K', 10)")
    conn.execute(
        """INSERT INTO raw.toggl_entries (id, workspace_id, project_id, task_id, user_id, start, "end",
               duration_ms, tag_ids, tags, is_billable, hourly_rate)
           SELECT 100 + i, 77, 10, 40, 30, %s + i * interval '1 day', %s + i * interval '1 day' + interval '1 hour',
                  3600000, ARRAY[20::bigint], ARRAY['T'], true, 30
           FROM generate_series(0, 9) AS i""",
        (W0, W0),
    )
    conn.execute(
        "INSERT INTO analytics.toggl_weekly_summary (week_start, timezone, project_id, user_id, total_ms)"
        " VALUES (%s, 'UTC', 10, 30, 1)",
        (WEEK,),
    )


def _all_rows(conn: psycopg.Connection) -> dict[str, list[str]]:
    tables = ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks", "toggl_entries")
    return {
        t: [r[0] for r in conn.execute(sql.SQL("SELECT t::text FROM raw.{} t ORDER BY id").format(sql.Identifier(t)))]
        for t in tables
    }


def test_a_version_2_warehouse_migrates_with_every_row(db_v2: psycopg.Connection) -> None:
    conn = db_v2
    _insert_version_2_rows(conn)
    conn.commit()
    before = _all_rows(conn)
    assert migrate(conn, target=7) == [3, 4, 5, 6, 7]
    conn.commit()
    assert _all_rows(conn) == before
    assert conn.execute("SELECT id, is_placeholder FROM raw.toggl_workspaces").fetchall() == [(77, True)]
    # The summary row (one workspace) was kept and given its workspace; the foreign keys hold and are enforced.
    assert conn.execute("SELECT workspace_id, total_ms FROM analytics.toggl_weekly_summary").fetchall() == [(77, 1)]
    assert checks.foreign_keys_resolve(conn).passed
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("INSERT INTO raw.toggl_tags (id, workspace_id, name, created_at) VALUES (21, 78, 'X', now())")
    conn.rollback()
    # Version 8: the summary becomes a view of the rollup, which was never built for these entries: empty ...
    assert migrate(conn) == [8]
    assert summary_rows(conn, WEEK) == 0
    # ... until the first weekly run builds it.
    assert prepare_weekly_summaries(conn, MONDAYS_UTC, workspace_ids=[77]) == [77]
    assert conn.execute(
        "SELECT total_ms, earnings, timezone FROM analytics.toggl_weekly_summary ORDER BY week_start"
    ).fetchall() == [
        (7 * 3_600_000, Decimal("210.00"), "UTC"),
        (3 * 3_600_000, Decimal("90.00"), "UTC"),
    ]
    assert warehouse_workspace_ids(conn) == [77]
    mark_synced_days(conn, "raw", 77, [date(2024, 3, 4)])
    assert synced_days(conn, "raw", 77) == [date(2024, 3, 4)]


def test_a_version_7_rollup_keeps_its_weeks_in_the_view(db_v2: psycopg.Connection) -> None:
    """Migration 8 gives each rollup the week start of its old summary rows: the view shows the same weeks."""
    conn = db_v2
    _insert_version_2_rows(conn)
    migrate(conn, target=7)
    sunday = WEEK - DAY
    conn.execute("DELETE FROM analytics.toggl_weekly_summary")
    conn.execute(
        "INSERT INTO analytics.toggl_weekly_summary (workspace_id, week_start, timezone, total_ms)"
        " VALUES (77, %s, 'UTC', 1)",
        (sunday,),
    )
    conn.execute(
        """INSERT INTO raw.toggl_daily_rollup (workspace_id, day, project_id, user_id, currency, entries, ms,
               billable_ms, cents)
           SELECT 77, (start AT TIME ZONE 'UTC')::date, project_id, user_id, currency, 1, duration_ms, duration_ms, 3000
           FROM raw.toggl_entries"""
    )
    conn.execute("INSERT INTO raw.toggl_rollup_zones (workspace_id, timezone, rebuilt_at) VALUES (77, 'UTC', now())")
    assert migrate(conn) == [8]
    assert conn.execute("SELECT timezone, week_start FROM raw.toggl_rollup_zones").fetchall() == [("UTC", 0)]
    weeks = conn.execute(
        "SELECT week_start, total_ms, day1_ms, day2_ms FROM analytics.toggl_weekly_summary ORDER BY 1"
    ).fetchall()
    # Entries on 10 days from Monday W0: 6 in the week from Sunday W0 - 1, then 4.
    assert weeks == [(sunday, 6 * 3_600_000, None, 3_600_000), (sunday + 7 * DAY, 4 * 3_600_000, 3_600_000, 3_600_000)]
    # Nothing to rebuild for Sunday weeks; Monday weeks rebuild the rollup from the entries.
    assert prepare_weekly_summaries(conn, Calendar("UTC", 0), workspace_ids=[77]) == []
    assert prepare_weekly_summaries(conn, MONDAYS_UTC, workspace_ids=[77]) == [77]
    assert [r[0] for r in conn.execute("SELECT week_start FROM analytics.toggl_weekly_summary ORDER BY 1")] == [
        WEEK,
        WEEK + 7 * DAY,
    ]


def test_a_week_of_the_view_is_read_through_the_rollup_index(db: psycopg.Connection) -> None:
    metadata(db, A, 1000)
    load_entries(db, week_of(A, 1000), W0, W0 + 7 * DAY, workspace_id=A)
    load_entries(db, week_of(A, 1100, start=W0 + 7 * DAY), W0 + 7 * DAY, W0 + 14 * DAY, workspace_id=A)
    prepare_weekly_summaries(db, MONDAYS_UTC, workspace_ids=[A])
    keys = db.execute(
        "SELECT workspace_id, week_start, project_id, user_id, currency, count(*) FROM analytics.toggl_weekly_summary"
        " GROUP BY 1, 2, 3, 4, 5"
    ).fetchall()
    assert keys and all(row[-1] == 1 for row in keys)  # one row per key
    db.execute("SET LOCAL enable_seqscan = off")  # tiny tables: make the planner show what it can use
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "EXPLAIN SELECT * FROM analytics.toggl_weekly_summary WHERE week_start = %s", (WEEK,)
        ).fetchall()
    )
    assert "toggl_daily_rollup_week" in plan and "week_start = " in plan, plan


def test_summary_rows_of_mixed_workspaces_are_dropped_by_the_migration(db_v2: psycopg.Connection) -> None:
    conn = db_v2
    _insert_version_2_rows(conn)
    conn.execute("INSERT INTO raw.toggl_tags (id, workspace_id, name, created_at) VALUES (21, 78, 'X', now())")
    conn.commit()
    migrate(conn)
    assert conn.execute("SELECT count(*) FROM analytics.toggl_weekly_summary").fetchone() == (0,)
    assert [r[0] for r in conn.execute("SELECT id FROM raw.toggl_workspaces ORDER BY id")] == [77, 78]


@pytest.fixture
def db_v2(warehouse: psycopg.Connection) -> psycopg.Connection:
    assert migrate(warehouse, target=2) == [1, 2]
    return warehouse
