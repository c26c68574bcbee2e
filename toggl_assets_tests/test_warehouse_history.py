"""Per-day merge figures, the daily rollup, synced days, daily seconds, entry days and the watermark."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from toggl_assets.warehouse.db import WarehouseError
from toggl_assets.warehouse.entries import DayStats, EntryStaging
from toggl_assets.warehouse.history import (
    advance_watermark,
    daily_seconds,
    entry_days,
    get_watermark,
    synced_days,
)
from toggl_assets.warehouse.metadata import upsert_projects, upsert_users
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.references import check_references
from toggl_assets.warehouse.rollup import Calendar, daily_rows_sql, days_in_start_order
from toggl_assets.warehouse.weekly import prepare_weekly_summaries, weekly_report
from toggl_assets_tests.factories import entry, load_entries, project, user, utc

DAY = timedelta(days=1)
BERLIN = "Europe/Berlin"
D1 = date(2024, 3, 4)  # Monday; in Berlin (UTC+1) day D starts at D-1 23:00 UTC


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    return warehouse


def berlin_window(first: date, days: int) -> tuple:
    return utc(first.year, first.month, first.day) - timedelta(hours=1), utc(
        first.year, first.month, first.day
    ) - timedelta(hours=1) + days * DAY


def at(day: date, hour: int) -> object:
    """``hour`` o'clock Berlin time (winter, UTC+1) on ``day``."""
    return utc(day.year, day.month, day.day, hour) - timedelta(hours=1)


def test_per_day_figures_cover_every_day_of_the_window(db: psycopg.Connection) -> None:
    d2, d3 = D1 + DAY, D1 + 2 * DAY
    window = berlin_window(D1, 3)
    # 00:30 Berlin on D1 is still the day before in UTC: days are local.
    first = [entry(1, at(D1, 0) + timedelta(minutes=30), 60), entry(2, at(D1, 9), 60), entry(3, at(d3, 9), 60),
             entry(4, at(d3, 10), None)]  # fmt: skip
    stats = load_entries(db, first, *window, timezone=BERLIN)
    assert stats.by_day == {D1: DayStats(2, 2, 0, 0), d2: DayStats(), d3: DayStats(2, 2, 0, 0)}

    # Edit 1, move 2 to D2, delete 3, add 5 on D2; entry 9 comes from the day before the window.
    load_entries(db, [entry(9, at(D1 - DAY, 9), 60)], *berlin_window(D1 - DAY, 1), timezone=BERLIN)
    second = [entry(1, first[0].start, 61), entry(2, at(d2, 9), 60), first[3], entry(5, at(d2, 11), 60),
              entry(9, at(d3, 12), 60)]  # fmt: skip
    stats = load_entries(db, second, *window, timezone=BERLIN)
    assert stats.by_day == {
        D1: DayStats(rows=1, inserted=0, updated=1, deleted=0),
        d2: DayStats(rows=2, inserted=1, updated=1, deleted=0),
        d3: DayStats(rows=2, inserted=0, updated=1, deleted=1),
    }
    assert (stats.inserted, stats.updated, stats.deleted, stats.unchanged) == (1, 3, 1, 1)
    assert stats.moved_from == (D1 - DAY,)
    assert sum(d.rows for d in stats.by_day.values()) == 5


def _rollup(conn: psycopg.Connection, tz: str, week_start: int = 1) -> tuple[list, list]:
    stored = conn.execute(
        "SELECT workspace_id, day, project_id, user_id, currency, entries, ms, billable_ms, cents, week_start"
        " FROM raw.toggl_daily_rollup ORDER BY 1, 2, 3, 4, 5"
    ).fetchall()
    fresh = conn.execute(
        f"SELECT * FROM ({daily_rows_sql('raw', all_days=True).as_string(conn)}) x ORDER BY 1, 2, 3, 4, 5",
        {"ws": [1], "tz": tz, "dow": week_start},
    ).fetchall()
    return stored, fresh


def test_rollup_equals_a_fresh_aggregation_after_edits_deletions_and_moves(db: psycopg.Connection) -> None:
    upsert_projects(db, [project(1, "Euro", currency="EUR"), project(2, "Plain")], workspace_id=1)
    upsert_users(db, [user(5, "Ann"), user(6, "Bo")], workspace_id=1)
    records = [
        entry(i, at(D1 + (i % 10) * DAY, 8 + i % 9), 600 + i, project_id=1 + i % 2, user_id=5 + i % 2,
              is_billable=i % 3 == 0, hourly_rate=Decimal("33.33"),
              billable_amount=Decimal("5") if i % 5 == 0 else None)
        for i in range(60)
    ]  # fmt: skip
    load_entries(db, records[:40], *berlin_window(D1, 5), timezone=BERLIN)
    load_entries(db, records, *berlin_window(D1 + 5 * DAY, 5), timezone=BERLIN)
    stored, fresh = _rollup(db, BERLIN)
    assert stored == fresh and len(stored) >= 10
    # Edits, a deletion, a move from the second window into the first, a running entry.
    changed = [r for r in records if r.id not in (3, 13)]
    changed = [entry(r.id, r.start, 5, project_id=2, user_id=5, is_billable=True, hourly_rate=Decimal("99"))
               if r.id % 7 == 0 else r for r in changed]  # fmt: skip
    changed.append(entry(15, at(D1 + DAY, 23), 1234, user_id=6))  # entry 15 was on day 6
    changed.append(entry(99, at(D1 + 2 * DAY, 9), None))
    load_entries(db, changed, *berlin_window(D1, 5), timezone=BERLIN)
    stored, fresh = _rollup(db, BERLIN)
    assert stored == fresh
    # The weekly summary (from the rollup) equals the report (from the entries).
    week = D1
    assert prepare_weekly_summaries(db, Calendar(BERLIN, 1), workspace_ids=[1]) == []  # merges kept it current
    total = db.execute(
        "SELECT sum(total_ms), sum(earnings) FILTER (WHERE currency IS NOT NULL)"
        " FROM analytics.toggl_weekly_summary WHERE week_start = %s",
        (week,),
    ).fetchone()
    report = weekly_report(db, 1, week, BERLIN, calculate="earnings")
    assert total[0] == weekly_report(db, 1, week, BERLIN)["total_grand"]
    assert [c["currency"] for c in report["total_currencies"]] == ["EUR"]
    assert float(total[1]) == report["total_currencies"][0]["amount"] > 0
    # Another calendar (zone, week start) rebuilds the rollup in it.
    assert prepare_weekly_summaries(db, Calendar("UTC", 0), workspace_ids=[1]) == [1]
    stored, fresh = _rollup(db, "UTC", 0)
    assert stored == fresh and {row[-1].isoweekday() for row in stored} == {7}  # weeks from Sunday
    assert db.execute("SELECT timezone, week_start FROM raw.toggl_rollup_zones WHERE workspace_id = 1").fetchone() == (
        "UTC",
        0,
    )


@pytest.mark.parametrize(("order", "span"), [("by start", 40), ("shuffled", 40), ("by start", 400)])
def test_a_rebuild_reads_day_by_day_only_entries_stored_in_start_order(
    db: psycopg.Connection, order: str, span: int
) -> None:
    """A first load stored in the order of the entries' start (as Toggl's reports deliver them) is rolled up day
    by day through the start index; shuffled entries, or too few per day (600 over 400 days), in one aggregate.
    Either way the rollup equals a fresh aggregation, over a change to summer time and with a running entry."""
    upsert_projects(db, [project(1, "Euro", currency="EUR"), project(2, "Plain")], workspace_id=1)
    upsert_users(db, [user(5, "Ann"), user(6, "Bo")], workspace_id=1)
    records = [
        entry(i, at(D1 + (i * 7 % span) * DAY, 8 + i % 9), 600 + i, project_id=1 + i // 40 % 2, user_id=5 + i // 80 % 2,
              is_billable=i % 3 == 0, hourly_rate=Decimal("33.33"))
        for i in range(600)
    ]  # fmt: skip
    records.append(entry(999, at(D1 + 3 * DAY, 9), None))
    if order == "by start":
        records.sort(key=lambda r: r.start)
    else:
        random.Random(3).shuffle(records)
    load_entries(db, records, *berlin_window(D1, span), timezone=BERLIN)
    days = days_in_start_order(db, "raw", 1, BERLIN)
    assert days == ((D1, D1 + 39 * DAY) if (order, span) == ("by start", 40) else None)
    stored, fresh = _rollup(db, BERLIN)
    assert stored == fresh and len(stored) > 100


def test_synced_days_record_every_merged_day_per_workspace(db: psycopg.Connection) -> None:
    load_entries(db, [], *berlin_window(D1, 3), timezone=BERLIN)
    load_entries(db, [entry(1, at(D1, 9), 60, workspace_id=2)], *berlin_window(D1 + 5 * DAY, 2), workspace_id=2,
                 timezone=BERLIN)  # fmt: skip
    load_entries(db, [], *berlin_window(D1 + 2 * DAY, 2), timezone=BERLIN)
    assert synced_days(db, "raw", 1) == [D1 + i * DAY for i in range(4)]
    assert synced_days(db, "raw", 2) == [D1 + 5 * DAY, D1 + 6 * DAY]
    assert synced_days(db, "raw", 3) == []


def test_daily_seconds_floor_each_entry_and_bucket_by_zone(db: psycopg.Connection) -> None:
    upsert_users(db, [user(5, "Tokyo", timezone="Asia/Tokyo"), user(6, "Odd", timezone="Mars/Olympus")],
                 workspace_id=1)  # fmt: skip
    records = [
        entry(1, utc(2024, 3, 4, 10), 1, duration_ms=1500, user_id=6),
        entry(2, utc(2024, 3, 4, 11), 1, duration_ms=1500, user_id=6),
        entry(3, utc(2024, 3, 4, 20), 100, user_id=5),  # 05:00 on the 5th in Tokyo
        entry(4, utc(2024, 3, 4, 12), None),  # running: nothing
        entry(5, utc(2024, 3, 6, 12), 50, workspace_id=2),  # another workspace
    ]
    load_entries(db, records[:4], utc(2024, 3, 1), utc(2024, 3, 10))
    load_entries(db, records[4:], utc(2024, 3, 1), utc(2024, 3, 10), workspace_id=2)
    first, last = date(2024, 3, 3), date(2024, 3, 6)
    assert daily_seconds(db, "raw", 1, first, last, "UTC") == {
        date(2024, 3, 3): 0, date(2024, 3, 4): 102, date(2024, 3, 5): 0, date(2024, 3, 6): 0,
    }  # fmt: skip
    assert daily_seconds(db, "raw", 1, first, last, "UTC", by_user_timezone=True) == {
        date(2024, 3, 3): 0, date(2024, 3, 4): 2, date(2024, 3, 5): 100, date(2024, 3, 6): 0,
    }  # fmt: skip
    assert entry_days(db, "raw", 1, [1, 3, 5, 404], "Asia/Tokyo") == {1: date(2024, 3, 4), 3: date(2024, 3, 5)}


def test_watermark_never_moves_backwards_and_commits_with_the_caller(db: psycopg.Connection, warehouse_url) -> None:
    assert get_watermark(db, "raw", 1) is None
    advance_watermark(db, "raw", 1, utc(2024, 3, 5))
    db.commit()
    advance_watermark(db, "raw", 1, utc(2024, 3, 1))
    assert get_watermark(db, "raw", 1) == utc(2024, 3, 5)
    advance_watermark(db, "raw", 1, utc(2024, 3, 9))
    db.rollback()  # a failed run does not advance it
    assert get_watermark(db, "raw", 1) == utc(2024, 3, 5)
    advance_watermark(db, "raw", 2, utc(2024, 1, 1))
    db.commit()
    assert get_watermark(db, "raw", 1) == utc(2024, 3, 5) and get_watermark(db, "raw", 2) == utc(2024, 1, 1)
    with psycopg.connect(warehouse_url, autocommit=True) as conn, pytest.raises(WarehouseError, match="transaction"):
        advance_watermark(conn, "raw", 1, utc(2025, 1, 1))

    # Concurrent advances end at the latest value.
    def advance(at: object) -> None:
        with psycopg.connect(warehouse_url) as conn:
            advance_watermark(conn, "raw", 1, at)
            conn.commit()

    threads = [threading.Thread(target=advance, args=(utc(2024, 4, d),)) for d in (3, 9, 1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert get_watermark(db, "raw", 1) == utc(2024, 4, 9)


def test_set_based_and_per_row_reference_checks_agree(db: psycopg.Connection) -> None:
    records = [entry(i, utc(2024, 3, 4, i), 60, project_id=10 + i % 2, user_id=5, task_id=None) for i in range(6)]
    for set_based, ws in ((True, 1), (False, 2)):
        stage = EntryStaging(db, set_based_references=set_based)
        stage.add([entry(r.id + 100 * ws, r.start, 60, workspace_id=ws, project_id=r.project_id + 100 * ws,
                         user_id=5) for r in records])  # fmt: skip
        stats = stage.merge_window(ws, utc(2024, 3, 4), utc(2024, 3, 5), timezone="UTC")
        stage.close()
        assert (stats.inserted, stats.placeholders["projects"]) == (6, 2)
    db.commit()
    # The declared foreign keys still hold for every other writer.
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("INSERT INTO raw.toggl_entries (id, workspace_id, start, project_id) VALUES (1, 1, now(), 424242)")
    db.rollback()
    # A window referencing a missing row fails the set-based check.
    db.execute("CREATE TEMP TABLE bad_window AS SELECT 1::bigint AS workspace_id, 424242::bigint AS project_id,"
               " NULL::bigint AS task_id, 5::bigint AS user_id")  # fmt: skip
    with pytest.raises(WarehouseError, match="project_id"):
        check_references(db, "raw", "bad_window")
    db.rollback()
