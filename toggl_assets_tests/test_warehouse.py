"""Warehouse: connections, migrations, loading records and data checks, on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from toggl_assets.records import TaskRecord
from toggl_assets.warehouse import checks, entries
from toggl_assets.warehouse.db import InvalidNameError, WarehouseError, connect, redact_url, scrub, strip_driver
from toggl_assets.warehouse.entries import EntryStaging
from toggl_assets.warehouse.metadata import upsert_clients, upsert_projects, upsert_tags, upsert_tasks, upsert_users
from toggl_assets.warehouse.migrations import MIGRATIONS, applied_versions, migrate
from toggl_assets_tests.factories import client, entry, load_entries, project, tag, user, utc

DAY = timedelta(days=1)
W0 = utc(2024, 3, 4)  # window [W0, W1)
W1 = W0 + 7 * DAY


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    return warehouse


def _entries(conn: psycopg.Connection) -> dict[int, tuple]:
    rows = conn.execute("SELECT * FROM raw.toggl_entries ORDER BY id").fetchall()
    return {r[0]: r for r in rows}


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        t: conn.execute(sql.SQL("SELECT * FROM raw.{} ORDER BY id").format(sql.Identifier(t))).fetchall()
        for t in checks.TABLES
    }


# --- db.py -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://bob:s3cret@db.example.com:5432/toggl",
            "postgresql://bob:***@db.example.com:5432/toggl",
        ),
        (
            "postgresql+psycopg2://bob:p%40ss@h/d?sslmode=require",
            "postgresql+psycopg2://bob:***@h/d?sslmode=require",
        ),
        (
            "postgresql://bob@h/d?password=s3cret&sslmode=require",
            "postgresql://bob@h/d?password=***&sslmode=require",
        ),
        ("host=h dbname=d user=bob password=s3cret", "host=h dbname=d user=bob password=***"),
        ("host=h password='se cret\\' x' dbname=d", "host=h password=*** dbname=d"),
        ("postgresql://bob@h/d", "postgresql://bob@h/d"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_strip_driver() -> None:
    assert strip_driver("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"
    assert strip_driver("postgres+psycopg2://u@h/d") == "postgres://u@h/d"
    assert strip_driver("host=h dbname=d") == "host=h dbname=d"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg2://bob:Sup3rS3cretPw@127.0.0.1:1/analytics_db?connect_timeout=3",
        "host=127.0.0.1 port=1 dbname=analytics_db user=bob password=Sup3rS3cretPw connect_timeout=3",
    ],
)
def test_connect_failure_names_target_never_password(url: str) -> None:
    with pytest.raises(WarehouseError) as info:
        connect(url)
    message = str(info.value)
    assert "Sup3rS3cretPw" not in message
    assert "analytics_db" in message and "127.0.0.1" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_scrub_removes_password_from_server_text() -> None:
    url = "postgresql://bob:p%40ss-word@h/d"
    assert "p@ss-word" not in scrub('FATAL: password "p@ss-word" rejected for postgresql://bob:p%40ss-word@h/d', url)


def test_connect_accepts_driver_prefix(warehouse_url: str) -> None:
    with connect(warehouse_url.replace("postgresql://", "postgresql+psycopg://", 1)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- migrations.py -----------------------------------------------------------------------------------------


def test_migrations_idempotent_and_recorded(warehouse: psycopg.Connection) -> None:
    assert migrate(warehouse) == [m.version for m in MIGRATIONS]
    assert migrate(warehouse) == []
    assert applied_versions(warehouse) == [1, 2, 3, 4, 5, 6, 7, 8]
    rows = warehouse.execute("SELECT version, name, applied_at IS NOT NULL FROM raw.schema_migrations").fetchall()
    assert [(v, ok) for v, _, ok in rows] == [(v, True) for v in range(1, 9)]


def test_custom_schema_names_and_validation(warehouse: psycopg.Connection) -> None:
    assert migrate(warehouse, raw_schema="toggl_raw", analytics_schema="toggl_mart") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert warehouse.execute("SELECT to_regclass('toggl_mart.toggl_weekly_summary')").fetchone()[0]
    with pytest.raises(InvalidNameError):
        migrate(warehouse, raw_schema='raw"; DROP SCHEMA public; --')


def test_concurrent_first_migrations_do_not_race(warehouse_url: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(warehouse_url) as conn:
                results.append(migrate(conn))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(results) == [[], [], [1, 2, 3, 4, 5, 6, 7, 8]]


# Column names and types from the table specification (seed 002), which must be kept exactly.
SPEC_COLUMNS = {
    "toggl_clients": {"id": "bigint", "workspace_id": "bigint", "name": "text", "is_archived": "boolean",
                      "created_at": "timestamp with time zone", "synced_at": "timestamp with time zone"},
    "toggl_projects": {"id": "bigint", "workspace_id": "bigint", "client_id": "bigint", "name": "text",
                       "color": "text", "is_private": "boolean", "is_active": "boolean",
                       "is_billable": "boolean",
                       "created_at": "timestamp with time zone", "archived_at": "timestamp with time zone",
                       "synced_at": "timestamp with time zone"},
    "toggl_tags": {"id": "bigint", "workspace_id": "bigint", "name": "text",
                   "created_at": "timestamp with time zone", "synced_at": "timestamp with time zone"},
    "toggl_entries": {"id": "bigint", "workspace_id": "bigint", "project_id": "bigint", "task_id": "bigint",
                      "user_id": "bigint", "description": "text", "start": "timestamp with time zone",
                      "end": "timestamp with time zone", "duration_ms": "bigint", "is_billable": "boolean",
                      "billable_amount": "numeric", "currency": "text", "tags": "ARRAY",
                      "updated_at": "timestamp with time zone", "synced_at": "timestamp with time zone"},
}  # fmt: skip
NOT_NULL = {"id", "workspace_id", "name", "created_at", "start"}


def test_schema_matches_specification(db: psycopg.Connection) -> None:
    for table, expected in SPEC_COLUMNS.items():
        rows = db.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'raw' AND table_name = %s",
            (table,),
        ).fetchall()
        actual = {name: (kind, nullable) for name, kind, nullable in rows}
        for column, kind in expected.items():
            assert actual[column][0] == kind, (table, column)
            assert actual[column][1] == ("NO" if column in NOT_NULL else "YES"), (table, column)
    assert db.execute("SELECT to_regclass('raw.toggl_entries_start_idx')").fetchone()[0]


# --- metadata upserts -------------------------------------------------------------------------------------


def test_metadata_upsert_counts_and_pruning(db: psycopg.Connection) -> None:
    stats = upsert_clients(db, [client(1, "Acme"), client(2, "Globex"), client(3, "Initech")], workspace_id=1)
    assert (stats.inserted, stats.updated, stats.unchanged, stats.total) == (3, 0, 0, 3)
    upsert_projects(db, [project(10, "Website", client_id=2)], workspace_id=1)
    db.commit()

    same = upsert_clients(db, [client(1, "Acme"), client(2, "Globex"), client(3, "Initech")], workspace_id=1)
    assert (same.inserted, same.updated, same.unchanged, same.deleted) == (0, 0, 3, 0)

    # Rename 1; Toggl no longer returns 2 (referenced by project 10: kept) nor 3 (unreferenced: deleted).
    changed = upsert_clients(db, [client(1, "Acme Corp")], workspace_id=1)
    assert (changed.inserted, changed.updated, changed.unchanged, changed.deleted, changed.kept) == (
        0,
        1,
        0,
        1,
        1,
    )
    db.commit()
    names = db.execute("SELECT id, name FROM raw.toggl_clients ORDER BY id").fetchall()
    assert names == [(1, "Acme Corp"), (2, "Globex")]

    # An empty answer prunes the workspace it describes, unless told the list is partial.
    assert upsert_tags(db, [tag(5, "urgent")], workspace_id=1).inserted == 1
    assert upsert_tags(db, [], workspace_id=1, prune=False).deleted == 0
    assert upsert_tags(db, [], workspace_id=1).deleted == 1


def test_project_and_task_references_create_placeholders(db: psycopg.Connection) -> None:
    stats = upsert_projects(db, [project(10, "Website", client_id=77)], workspace_id=1)
    assert stats.placeholders == 1
    task = TaskRecord(id=500, workspace_id=1, project_id=11, name="Design")
    assert upsert_tasks(db, [task], workspace_id=1).placeholders == 1
    db.commit()
    assert db.execute("SELECT name, is_placeholder FROM raw.toggl_clients WHERE id = 77").fetchone() == (
        "(unknown client 77)",
        True,
    )
    assert db.execute("SELECT name, is_placeholder, client_id FROM raw.toggl_projects WHERE id = 11").fetchone() == (
        "(unknown project 11)",
        True,
        None,
    )
    upsert_clients(db, [client(77, "Umbrella")], workspace_id=1)
    upsert_projects(db, [project(10, "Website", client_id=77), project(11, "Mobile", client_id=77)], workspace_id=1)
    db.commit()
    assert db.execute("SELECT name, is_placeholder FROM raw.toggl_clients WHERE id = 77").fetchone() == (
        "Umbrella",
        False,
    )
    assert db.execute("SELECT name, is_placeholder FROM raw.toggl_projects WHERE id = 11").fetchone() == (
        "Mobile",
        False,
    )
    assert checks.foreign_keys_resolve(db).passed


# --- entries -----------------------------------------------------------------------------------------------


def _week(first_id: int = 1, start=W0) -> list:
    return [entry(first_id + i, start + i * DAY + timedelta(hours=9), 1800 + i) for i in range(7)]


def test_merge_is_idempotent_and_propagates_edits_and_deletions(db: psycopg.Connection) -> None:
    records = _week()
    stats = load_entries(db, records, W0, W1)
    db.commit()
    assert (stats.fetched, stats.in_window, stats.inserted, stats.updated, stats.deleted) == (7, 7, 7, 0, 0)

    again = load_entries(db, records, W0, W1)
    db.commit()
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 0, 7, 0)

    edited = [*records[:3], entry(4, records[3].start, 99, description="renamed"), *records[5:]]  # 5 is gone
    stats = load_entries(db, edited, W0, W1)
    db.commit()
    assert (stats.inserted, stats.updated, stats.unchanged, stats.deleted) == (0, 1, 5, 1)
    rows = _entries(db)
    assert 5 not in rows and rows[4][5] == "renamed" and rows[4][8] == 99_000


def test_merge_leaves_the_transactions_settings_as_it_found_them(db: psycopg.Connection) -> None:
    """The rollup's insert groups by hashing with more work memory, for itself only: the rest of the caller's
    transaction (another workspace's merge, the caller's own statements) keeps its settings."""

    def settings() -> tuple:
        return db.execute("SELECT current_setting('work_mem'), current_setting('enable_sort')").fetchone()

    db.execute("SET work_mem = '5MB'")
    db.commit()
    with db.transaction():
        before = settings()
        stats = load_entries(db, _week(), W0, W1)
        assert settings() == before == ("5MB", "on")
    assert stats.inserted == 7
    rollup = db.execute("SELECT count(*), sum(entries) FROM raw.toggl_daily_rollup").fetchone()
    assert rollup == (7, 7)


def test_other_windows_untouched(db: psycopg.Connection) -> None:
    load_entries(db, _week(1, W0), W0, W1)
    load_entries(db, _week(100, W1), W1, W1 + 7 * DAY)
    db.commit()
    before = _entries(db)
    # Merging window 1 with only part of its data plus a stray row of window 2 must not touch window 2.
    stats = load_entries(db, [*_week(1, W0)[:2], entry(100, W1 + timedelta(hours=1), 5)], W0, W1)
    db.commit()
    assert (stats.fetched, stats.in_window, stats.deleted) == (3, 2, 5)
    after = _entries(db)
    assert {k: v for k, v in after.items() if k >= 100} == {k: v for k, v in before.items() if k >= 100}
    assert checks.window_row_count(db, "raw", W0, W1) == 2


def _temp_relations(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT relname, relkind FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind IN ('r', 'v')"
    ).fetchall()


@pytest.mark.parametrize("margin", [1, 8], ids=["window holds most of the stage", "window holds a minority"])
def test_a_window_within_a_larger_stage(db: psycopg.Connection, margin: int) -> None:
    upsert_projects(db, [project(30, "Apollo")], workspace_id=1)
    db.commit()
    inside = [entry(i, W0 + i * timedelta(hours=5), 60, project_id=30) for i in range(1, 21)]
    # Project 31 is missing: its name comes from the row that carries one, not from the rows of project 30.
    inside += [
        entry(40, W0 + DAY, 60, project_id=31),
        entry(41, W0 + 2 * DAY, 60, project_id=31, project_name="Gemini"),
    ]
    before = [entry(100 + i, W0 - (i + 1) * timedelta(hours=3), 60) for i in range(margin * 8)]
    after = [entry(200 + i, W1 + i * timedelta(hours=2), 60) for i in range(margin * 8)]  # all in the next window
    stage = EntryStaging(db)
    stage.add([*before, *inside, *after])
    stats = stage.merge_window(1, W0, W1, timezone="UTC")
    # A view over the stage or a copy of the window's rows: either way it is gone after the merge.
    assert _temp_relations(db) == [(stage.table, "r")]
    # The same stage serves the next window too.
    later = stage.merge_window(1, W1, W1 + 7 * DAY, timezone="UTC")
    assert _temp_relations(db) == [(stage.table, "r")]
    stage.close()
    db.commit()
    staged = len(before) + len(inside) + len(after)
    assert (stats.fetched, stats.in_window, stats.inserted, stats.placeholders["projects"]) == (staged, 22, 22, 1)
    assert (later.in_window, later.inserted) == (len(after), len(after))
    assert checks.window_row_count(db, "raw", W0, W1) == 22
    projects = db.execute("SELECT id, name, is_placeholder FROM raw.toggl_projects ORDER BY id").fetchall()
    assert projects == [(30, "Apollo", False), (31, "Gemini", True)]


def test_last_staged_wins_and_running_entries(db: psycopg.Connection) -> None:
    stage = EntryStaging(db)
    stage.add([entry(1, W0, 60, description="old"), entry(2, W0 + DAY, None)])
    stage.add([entry(1, W0, 120, description="new")])
    stats = stage.merge_window(1, W0, W1, timezone="UTC")
    stage.close()
    db.commit()
    assert (stats.fetched, stats.in_window, stats.inserted) == (3, 2, 2)
    rows = _entries(db)
    assert rows[1][5] == "new" and rows[1][8] == 120_000
    assert rows[2][7] is None and rows[2][8] is None  # running: no end, no duration
    assert checks.durations_consistent(db).passed


def test_missing_references_become_placeholders_then_real_rows(db: psycopg.Connection) -> None:
    records = [
        entry(1, W0, 60, user_id=7, user_name="Ann", user_email="ann@example.com", project_id=30,
              project_name="Apollo", task_id=300, task_name="Landing", tags=("a,b", "c"), tag_ids=(1, 2)),
        entry(2, W0 + DAY, 60, user_id=8, project_id=31, tags=("x",), tag_ids=(3, 4)),
        # Each the only row naming its missing id, and referencing no other missing row.
        entry(3, W0 + 2 * DAY, 60, tags=("solo",), tag_ids=(5,)),
        entry(4, W0 + 3 * DAY, 60, user_id=9, user_name="Cy"),
    ]  # fmt: skip
    stats = load_entries(db, records, W0, W1)
    db.commit()
    assert stats.placeholders == {"users": 3, "projects": 2, "tasks": 1, "tags": 5}
    assert checks.foreign_keys_resolve(db).passed
    assert db.execute("SELECT name, email, is_placeholder FROM raw.toggl_users ORDER BY id").fetchall() == [
        ("Ann", "ann@example.com", True),
        ("(unknown user 8)", None, True),
        ("Cy", None, True),
    ]
    assert db.execute("SELECT name, project_id FROM raw.toggl_tasks").fetchall() == [("Landing", 30)]
    # Names pair with ids only when both lists have the same length.
    assert db.execute("SELECT id, name FROM raw.toggl_tags ORDER BY id").fetchall() == [
        (1, "a,b"),
        (2, "c"),
        (3, "(unknown tag 3)"),
        (4, "(unknown tag 4)"),
        (5, "solo"),
    ]
    assert load_entries(db, records, W0, W1).placeholders == {
        "users": 0,
        "projects": 0,
        "tasks": 0,
        "tags": 0,
    }

    upsert_users(db, [user(7, "Ann Smith"), user(8, "Bo"), user(9, "Cy")], workspace_id=1)
    upsert_projects(db, [project(30, "Apollo"), project(31, "Gemini")], workspace_id=1)
    upsert_tags(db, [tag(1, "a,b"), tag(2, "c"), tag(3, "x"), tag(4, "y"), tag(5, "solo")], workspace_id=1)
    upsert_tasks(db, [TaskRecord(id=300, workspace_id=1, project_id=30, name="Landing page")], workspace_id=1)
    db.commit()
    for table in ("toggl_users", "toggl_projects", "toggl_tags", "toggl_tasks"):
        query = sql.SQL("SELECT count(*) FROM raw.{} WHERE is_placeholder").format(sql.Identifier(table))
        assert db.execute(query).fetchone() == (0,), table
    assert db.execute("SELECT name FROM raw.toggl_users WHERE id = 7").fetchone() == ("Ann Smith",)
    assert checks.foreign_keys_resolve(db).passed


def test_failure_mid_merge_leaves_tables_unchanged(db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    load_entries(db, _week(), W0, W1)
    db.commit()
    before = _snapshot(db)

    def boom(*args: object, **kwargs: object) -> int:
        raise RuntimeError("injected failure after the upsert")

    monkeypatch.setattr(entries, "delete_unstaged", boom)
    changed = [entry(1, W0, 5, description="changed", user_id=99, project_id=98), entry(50, W0 + DAY, 10)]
    with pytest.raises(RuntimeError, match="injected"):
        load_entries(db, changed, W0, W1)
    db.rollback()
    assert _snapshot(db) == before


def test_text_is_stored_faithfully_except_nul(db: psycopg.Connection) -> None:
    texts = {
        1: "emoji 😀🎉 日本語 Ünïcödé",
        2: "x" * 10_000,
        3: '\'); DROP TABLE raw.toggl_entries; -- \\N \\. \t tab\nnewline "quoted"',
        4: "nul\x00inside\x00",
        5: "",
    }
    tags = ("comma, here", 'quote " here', "{braces}", "back\\slash", "NULL", "ta\x00g", "😀")
    records = [entry(i, W0 + i * timedelta(hours=1), 60, description=d, tags=tags) for i, d in texts.items()]
    load_entries(db, records, W0, W1)
    db.commit()
    stored = dict(db.execute("SELECT id, description FROM raw.toggl_entries").fetchall())
    assert stored == {**texts, 4: "nulinside"}
    assert db.execute("SELECT tags FROM raw.toggl_entries WHERE id = 1").fetchone()[0] == [
        t.replace("\x00", "") for t in tags
    ]
    assert load_entries(db, records, W0, W1).unchanged == 5  # cleaning is stable: re-merge changes nothing


TEXT_FIELDS = ("description", "currency", "project_name", "client_name", "task_name", "user_name", "user_email")


@pytest.mark.parametrize("autocommit", [True, False])
def test_a_page_with_a_nul_byte_is_staged_once_and_cleaned(warehouse_url: str, autocommit: bool) -> None:
    """The server refuses the page's COPY for the NUL byte of one row; the page is staged again cleaned, every row
    once, in a sync's autocommit connection and inside a caller's transaction alike (which stays usable)."""
    with psycopg.connect(warehouse_url, autocommit=autocommit) as conn:
        stage = EntryStaging(conn)
        for n, name in enumerate(TEXT_FIELDS):
            page = [entry(10 * n + i, W0 + i * DAY, 60, **({name: "a\x00b"} if i == 1 else {})) for i in range(3)]
            assert stage.add(page) == 3
        columns = sql.SQL(", ").join(map(sql.Identifier, TEXT_FIELDS))
        rows = conn.execute(
            sql.SQL("SELECT id, {} FROM {} ORDER BY id").format(columns, sql.Identifier(stage.table))
        ).fetchall()
        assert [row[0] for row in rows] == [10 * n + i for n in range(len(TEXT_FIELDS)) for i in range(3)]
        cleaned = {
            (row[0], name) for row in rows for name, value in zip(TEXT_FIELDS, row[1:], strict=True) if value == "ab"
        }
        assert cleaned == {(10 * n + 1, name) for n, name in enumerate(TEXT_FIELDS)}
        assert stage.staged == 3 * len(TEXT_FIELDS)
        stage.close()


def test_merge_refuses_autocommit(warehouse_url: str, db: psycopg.Connection) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        stage = EntryStaging(conn)
        stage.add(_week())
        with pytest.raises(WarehouseError, match="transaction"):
            stage.merge_window(1, W0, W1, timezone="UTC")
        stage.close()


def test_concurrent_overlapping_merges(warehouse_url: str, db: psycopg.Connection) -> None:
    # Two workers merge overlapping windows of the same data 5 times each: no deadlock, no duplicate.
    data = [entry(i, W0 + i * timedelta(minutes=30), 600, user_id=1 + i % 3, project_id=1 + i % 4,
                  tags=("t",), tag_ids=(1 + i % 2,)) for i in range(14 * 48)]  # fmt: skip
    errors: list[BaseException] = []
    windows = [(W0, W0 + 10 * DAY), (W0 + 4 * DAY, W0 + 14 * DAY)]

    def worker(window: tuple) -> None:
        try:
            with psycopg.connect(warehouse_url) as conn:
                for _ in range(5):
                    load_entries(conn, data, *window)
                    conn.commit()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(w,)) for w in windows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert checks.window_row_count(db, "raw", W0, W0 + 14 * DAY) == len(data)
    assert checks.no_duplicate_ids(db).passed and checks.foreign_keys_resolve(db).passed


# --- checks ------------------------------------------------------------------------------------------------


def _window_problems(conn: psycopg.Connection, expected: int | None = None) -> int:
    """Entries of [W0, W1) ending before they start, plus the row-count difference to ``expected``."""
    count = checks.window_row_count(conn, "raw", W0, W1)
    backwards = conn.execute(
        """SELECT count(*) FROM raw.toggl_entries WHERE start >= %s AND start < %s AND "end" < start""", (W0, W1)
    ).fetchone()[0]
    return backwards + (0 if expected is None else abs(count - expected))


def test_checks_pass_on_clean_data_and_detect_violations(db: psycopg.Connection) -> None:
    records = [*_week(), entry(20, W0 + timedelta(hours=1), 3600, tags=("a",), tag_ids=(1,))]
    load_entries(db, records, W0, W1)
    db.commit()
    assert all(result.passed for result in checks.run_all(db).values())
    assert _window_problems(db, expected=8) == 0

    db.execute("UPDATE raw.toggl_entries SET tag_ids = ARRAY[1, 999] WHERE id = 20")
    fk = checks.foreign_keys_resolve(db)
    assert (fk.passed, fk.failures) == (False, 1)
    assert fk.sample == [{"reference": "toggl_entries.tag_ids", "id": 20, "missing": 999}]

    db.execute("UPDATE raw.toggl_entries SET duration_ms = duration_ms + 999 WHERE id = 1")  # within tolerance
    db.execute("UPDATE raw.toggl_entries SET duration_ms = duration_ms + 5000 WHERE id = 2")
    db.execute("""UPDATE raw.toggl_entries SET "end" = NULL WHERE id = 3""")
    durations = checks.durations_consistent(db)
    assert (durations.passed, [s["id"] for s in durations.sample]) == (False, [2, 3])

    assert _window_problems(db, expected=10) == 2
    db.execute("""UPDATE raw.toggl_entries SET "end" = start - interval '1 hour' WHERE id = 4""")
    assert _window_problems(db) == 1

    db.execute("ALTER TABLE raw.toggl_entries DROP CONSTRAINT toggl_entries_pkey")
    db.execute("INSERT INTO raw.toggl_entries (id, workspace_id, start) VALUES (1, 1, now())")
    duplicates = checks.no_duplicate_ids(db)
    assert (duplicates.passed, duplicates.sample) == (
        False,
        [{"table": "toggl_entries", "id": 1, "count": 2}],
    )
    db.rollback()


def test_ids_are_counted_only_where_no_unique_index_keeps_them_unique(db: psycopg.Connection) -> None:
    """The primary keys make counting ids needless; a table whose key was dropped, or whose only unique index on
    id is partial, deferred or on an expression, is counted again."""
    assert checks.tables_unique_by_index(db, "raw", checks.TABLES) == set(checks.TABLES)
    assert checks.no_duplicate_ids(db).description == "ids unique (a unique index on id in every table)"
    db.execute("ALTER TABLE raw.toggl_tags DROP CONSTRAINT toggl_tags_pkey")
    db.execute("ALTER TABLE raw.toggl_clients DROP CONSTRAINT toggl_clients_pkey CASCADE")
    db.execute("ALTER TABLE raw.toggl_users DROP CONSTRAINT toggl_users_pkey CASCADE")
    db.execute("ALTER TABLE raw.toggl_tasks DROP CONSTRAINT toggl_tasks_pkey CASCADE")
    db.execute("CREATE UNIQUE INDEX partial_tag_ids ON raw.toggl_tags (id) WHERE id > 0")
    db.execute("ALTER TABLE raw.toggl_clients ADD CONSTRAINT deferred_ids UNIQUE (id) DEFERRABLE INITIALLY DEFERRED")
    db.execute("CREATE UNIQUE INDEX expression_ids ON raw.toggl_users ((id + 0))")
    db.execute("CREATE UNIQUE INDEX plain_task_ids ON raw.toggl_tasks (id)")  # not a key, but unique on id: enough
    guarded = checks.tables_unique_by_index(db, "raw", checks.TABLES)
    assert guarded == set(checks.TABLES) - {"toggl_tags", "toggl_clients", "toggl_users"}
    result = checks.no_duplicate_ids(db)
    assert result.passed and result.description == "ids unique (counted in toggl_clients, toggl_tags, toggl_users)"
    db.rollback()


def test_billable_amount_and_rates_are_numeric(db: psycopg.Connection) -> None:
    record = entry(1, W0, 3600, is_billable=True, billable_amount=Decimal("12.345"),
                   hourly_rate=Decimal("12.3"), currency="EUR")  # fmt: skip
    load_entries(db, [record], W0, W1)
    assert db.execute("SELECT billable_amount, hourly_rate FROM raw.toggl_entries").fetchone() == (
        Decimal("12.35"),
        Decimal("12.30"),
    )
    assert load_entries(db, [record], W0, W1).unchanged == 1


def test_autocommit_connection_inside_transaction_block(warehouse_url: str, db: psycopg.Connection) -> None:
    # Stage outside any transaction, merge in a short explicit one.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        stage = EntryStaging(conn)
        stage.add(_week())
        with conn.transaction():
            assert stage.merge_window(1, W0, W1, timezone="UTC").inserted == 7
        stage.close()
    assert checks.window_row_count(db, "raw", W0, W1) == 7


def test_sync_stamp_check_and_preview(db: psycopg.Connection) -> None:
    synced = utc(2024, 6, 1)
    load_entries(db, _week(), W0, W1, synced_at=synced)
    assert checks.entries_synced_outside_window(db, "raw", W0, W1, synced) == 0
    assert checks.entries_synced_outside_window(db, "raw", W0, W0 + DAY, synced) == 6
    preview = checks.window_preview(db, "raw", W0, W1, limit=3)
    assert [(p.id, p.duration_ms) for p in preview] == [(1, 1_800_000), (2, 1_801_000), (3, 1_802_000)]
    assert preview[0].end == preview[0].start + timedelta(seconds=1800)
