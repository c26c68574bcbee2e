"""Bulk inserts set a table's indexes aside and build them again exactly, or leave them alone when that is unsafe.

A first load larger than the table drops ``toggl_entries``' (and the rollup's) indexes for its insert and builds
them after it, in the merge's transaction: new index objects, the same definitions, the same rows. Anything that
could not be rebuilt exactly (a comment, a table referencing entries, a publication, a clustered index) or a
reader holding the table keeps the indexes in place, and an error restores them with the rollback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from toggl_assets.warehouse import checks
from toggl_assets.warehouse.bulk import MIN_BULK_ROWS, bulk_insert_pays, index_rebuild_plan, indexes_set_aside
from toggl_assets.warehouse.migrations import migrate
from toggl_assets_tests.factories import entry, load_entries, utc

W0 = utc(2024, 1, 1)
DAYS = 20
W1 = W0 + timedelta(days=DAYS)
BULK = MIN_BULK_ROWS + 500  # just large enough for a first load to take the bulk path


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    warehouse.commit()
    return warehouse


def _entries(count: int, first_id: int = 1) -> list:
    minutes = DAYS * 24 * 60 // count
    return [
        entry(first_id + i, W0 + timedelta(minutes=i * minutes), 60 + i % 7, project_id=10 + i % 3, user_id=5)
        for i in range(count)
    ]


def _indexes(conn: psycopg.Connection, table: str) -> dict[str, tuple[int, str]]:
    """index name -> (index oid, definition) of raw.<table>."""
    rows = conn.execute(
        "SELECT c.relname, c.oid::int, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = %s::regclass",
        (f"raw.{table}",),
    )
    return {name: (oid, definition) for name, oid, definition in rows}


def _definitions(indexes: dict[str, tuple[int, str]]) -> dict[str, str]:
    return {name: definition for name, (_, definition) in indexes.items()}


def _oids(indexes: dict[str, tuple[int, str]]) -> set[int]:
    return {oid for oid, _ in indexes.values()}


def _rollup_totals(conn: psycopg.Connection) -> tuple:
    return conn.execute("SELECT count(*), sum(entries), sum(ms) FROM raw.toggl_daily_rollup").fetchone()


def test_a_first_load_larger_than_the_table_builds_its_indexes_again(db: psycopg.Connection) -> None:
    entries_before, rollup_before = _indexes(db, "toggl_entries"), _indexes(db, "toggl_daily_rollup")
    stats = load_entries(db, _entries(BULK), W0, W1)
    db.commit()
    entries_after, rollup_after = _indexes(db, "toggl_entries"), _indexes(db, "toggl_daily_rollup")
    # Built again: new index objects with the definitions they had.
    assert _definitions(entries_after) == _definitions(entries_before)
    assert _definitions(rollup_after) == _definitions(rollup_before)
    assert not _oids(entries_after) & _oids(entries_before)
    assert not _oids(rollup_after) & _oids(rollup_before)
    assert stats.inserted == BULK
    assert checks.window_row_count(db, "raw", W0, W1) == BULK
    assert _rollup_totals(db)[1] == BULK
    assert checks.foreign_keys_resolve(db).passed
    # The primary key is a primary key again.
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO raw.toggl_entries (id, workspace_id, start) VALUES (1, 1, now())")
    db.rollback()
    # A later merge of the same window is no bulk insert: the indexes stay as they are, and so do the figures.
    rollup = _rollup_totals(db)
    again = load_entries(db, _entries(BULK), W0, W1)
    db.commit()
    assert (again.inserted, again.unchanged) == (0, BULK)
    assert _indexes(db, "toggl_entries") == entries_after
    assert _rollup_totals(db) == rollup


def test_a_small_first_load_keeps_the_indexes(db: psycopg.Connection) -> None:
    before = _indexes(db, "toggl_entries")
    load_entries(db, _entries(MIN_BULK_ROWS - 1), W0, W1)
    db.commit()
    assert _indexes(db, "toggl_entries") == before


def test_indexes_and_constraints_someone_added_come_back_as_they_were(db: psycopg.Connection) -> None:
    db.execute("CREATE INDEX billable_text ON raw.toggl_entries (lower(description)) WHERE is_billable")
    db.execute("ALTER TABLE raw.toggl_entries ADD CONSTRAINT entry_per_workspace UNIQUE (workspace_id, id)")
    db.commit()
    before = _indexes(db, "toggl_entries")
    constraints = (
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'raw.toggl_entries'::regclass"
    )
    constraints_before = set(db.execute(constraints).fetchall())
    load_entries(db, _entries(BULK), W0, W1)
    db.commit()
    after = _indexes(db, "toggl_entries")
    assert _definitions(after) == _definitions(before) and len(after) == 4
    assert not _oids(after) & _oids(before)
    assert set(db.execute(constraints).fetchall()) == constraints_before


@pytest.mark.parametrize(
    "blocker",
    [
        "COMMENT ON INDEX raw.toggl_entries_start_idx IS 'used by the invoicing dashboard'",
        "CREATE TABLE public.notes (entry_id bigint REFERENCES raw.toggl_entries (id))",
        "CREATE PUBLICATION entries_out FOR TABLE raw.toggl_entries",
        "CLUSTER raw.toggl_entries USING toggl_entries_start_idx",
    ],
    ids=["index comment", "referencing table", "publication", "clustered"],
)
def test_what_could_not_be_rebuilt_exactly_keeps_its_indexes(db: psycopg.Connection, blocker: str) -> None:
    db.execute(blocker)
    db.commit()
    assert index_rebuild_plan(db, "raw", "toggl_entries") is None
    before = _indexes(db, "toggl_entries")
    stats = load_entries(db, _entries(BULK), W0, W1)
    db.commit()
    assert stats.inserted == BULK
    assert _indexes(db, "toggl_entries") == before


@pytest.fixture
def reader(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url) as conn:
        yield conn


def test_a_reader_holding_the_table_is_not_waited_for(db: psycopg.Connection, reader: psycopg.Connection) -> None:
    reader.execute("SELECT count(*) FROM raw.toggl_entries")  # its transaction stays open: ACCESS SHARE held
    # The reader lets go after a while: a merge that waited for it would then set the indexes aside after all.
    release = threading.Timer(5.0, reader.rollback)
    release.start()
    try:
        before = _indexes(db, "toggl_entries")
        stats = load_entries(db, _entries(BULK), W0, W1)
        db.commit()
    finally:
        release.cancel()
        release.join()
    assert stats.inserted == BULK
    assert _indexes(db, "toggl_entries") == before


def test_an_error_in_the_block_leaves_the_rollback_to_restore_the_indexes(db: psycopg.Connection) -> None:
    before = _indexes(db, "toggl_entries")
    with (
        pytest.raises(psycopg.errors.NotNullViolation),
        db.transaction(),
        indexes_set_aside(db, "raw", "toggl_entries") as aside,
    ):
        assert aside
        assert _indexes(db, "toggl_entries") == {}
        db.execute("INSERT INTO raw.toggl_entries (id, workspace_id, start) VALUES (1, 1, NULL)")
    assert _indexes(db, "toggl_entries") == before


def test_a_python_error_in_the_block_builds_the_indexes_before_it_goes_on(db: psycopg.Connection) -> None:
    before = _indexes(db, "toggl_entries")
    with pytest.raises(LookupError), indexes_set_aside(db, "raw", "toggl_entries") as aside:
        assert aside
        raise LookupError("a bug between two statements")
    db.commit()  # a caller that commits anyway commits a table with all its indexes
    after = _indexes(db, "toggl_entries")
    assert _definitions(after) == _definitions(before) and not _oids(after) & _oids(before)


def test_a_bulk_insert_pays_only_when_it_outnumbers_the_table(db: psycopg.Connection) -> None:
    assert not bulk_insert_pays(db, "raw", "toggl_entries", MIN_BULK_ROWS - 1)
    assert bulk_insert_pays(db, "raw", "toggl_entries", MIN_BULK_ROWS)
    load_entries(db, _entries(BULK), W0, W1)
    db.commit()
    assert not bulk_insert_pays(db, "raw", "toggl_entries", BULK)
    assert bulk_insert_pays(db, "raw", "toggl_entries", BULK + 1)
