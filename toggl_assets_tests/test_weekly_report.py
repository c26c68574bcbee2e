"""Weekly report and weekly summary, computed from entries loaded through the load functions."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from toggl_assets.report_format import format_weekly_report_table
from toggl_assets.warehouse.metadata import upsert_clients, upsert_projects, upsert_users
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.overview import WeekOverview, entry_week_totals, week_figures, week_overviews
from toggl_assets.warehouse.rollup import Calendar
from toggl_assets.warehouse.weekly import build_weekly_report, prepare_weekly_summaries, weekly_hours_by_project
from toggl_assets.warehouse.weekly import weekly_report as workspace_weekly_report
from toggl_assets_tests.factories import WORKSPACE_ID, client, entry, load_entries, project, user, utc

# Toggl's Reports API v2 documentation of the weekly report (a copy of the project's seed document 003).
SEED = Path(__file__).parent / "data" / "toggl_weekly_report_v2.txt"
SINCE = date(2013, 5, 19)  # the example request's since
FAR = (utc(2013, 1, 1), utc(2014, 1, 1))


def weekly_report(conn: psycopg.Connection, since: date, tz: str, **options: str) -> dict:
    """The report of the tests' one workspace."""
    return workspace_weekly_report(conn, WORKSPACE_ID, since, tz, **options)


def refresh_weekly_summary(conn: psycopg.Connection, week: date, tz: str) -> int:
    """Weeks from ``week``'s weekday in ``tz``; returns the summary rows of ``week``."""
    prepare_weekly_summaries(conn, Calendar(tz, week.isoweekday() % 7), workspace_ids=[WORKSPACE_ID])
    query = "SELECT count(*) FROM analytics.toggl_weekly_summary WHERE workspace_id = %s AND week_start = %s"
    return conn.execute(query, (WORKSPACE_ID, week)).fetchone()[0]


def seed_example() -> dict:
    text = SEED.read_text()
    body = text.split("Successful response", 1)[1].split("Example code snippet", 1)[0]
    return json.loads(body)


@pytest.fixture
def db(warehouse: psycopg.Connection) -> psycopg.Connection:
    migrate(warehouse)
    return warehouse


def at(day: int, hour: int = 9) -> datetime:
    """UTC time on day ``day`` (1 = SINCE) of the example week."""
    return datetime(2013, 5, 19 + day - 1, hour, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def example(db: psycopg.Connection) -> psycopg.Connection:
    """The data behind Toggl's documented example response."""
    upsert_clients(db, [client(1, "Toggl")], workspace_id=1)
    upsert_projects(
        db,
        [project(7363449, "Toggl Desktop", client_id=1, currency="EUR"), project(1651, "Important Client")],
        workspace_id=1,
    )
    upsert_users(
        db, [user(352243, "John Swift"), user(31232243, "Jane Doe"), user(19569, "John Swift")], workspace_id=1
    )
    records = [
        # Billable 4 h at 10 EUR/h without a billable_amount: earnings come from the rate (40 EUR).
        entry(1, at(5), 14_400, project_id=7363449, user_id=352243, is_billable=True,
              hourly_rate=Decimal("10"), currency="EUR"),
        entry(2, at(3), 14_400, project_id=1651, user_id=31232243),
        entry(3, at(3, 12), 1, user_id=19569),
        entry(4, at(4, 12), 7_203, user_id=19569),
        entry(5, at(8), 3_600, user_id=19569),  # the day after the week: excluded
        entry(6, at(2), None, user_id=19569),  # running: excluded
    ]  # fmt: skip
    load_entries(db, records, *FAR)
    db.commit()
    return db


def test_reproduces_toggl_documented_example(example: psycopg.Connection) -> None:
    expected = seed_example()
    assert weekly_report(example, SINCE, "UTC") == expected


def test_users_grouping(example: psycopg.Connection) -> None:
    report = weekly_report(example, SINCE, "UTC", grouping="users")
    d4 = [None, None, None, None, 14_400_000, None, None, 14_400_000]
    assert report["data"] == [
        {"title": {"user": "Jane Doe"}, "uid": 31232243,
         "totals": [None, None, 14_400_000, None, None, None, None, 14_400_000],
         "details": [{"pid": 1651, "title": {"client": None, "project": "Important Client"},
                      "totals": [None, None, 14_400_000, None, None, None, None, 14_400_000]}]},
        {"title": {"user": "John Swift"}, "uid": 19569,
         "totals": [None, None, 1000, 7_203_000, None, None, None, 7_204_000],
         "details": [{"pid": None, "title": {"client": None, "project": None},
                      "totals": [None, None, 1000, 7_203_000, None, None, None, 7_204_000]}]},
        {"title": {"user": "John Swift"}, "uid": 352243, "totals": d4,
         "details": [{"pid": 7363449, "title": {"client": "Toggl", "project": "Toggl Desktop"},
                      "totals": d4}]},
    ]  # fmt: skip
    assert report["week_totals"] == seed_example()["week_totals"]


def test_users_grouping_detail_order(db: psycopg.Connection) -> None:
    upsert_clients(db, [client(1, "Zeta"), client(2, "Alpha")], workspace_id=1)
    upsert_projects(
        db,
        [project(10, "P-zeta", client_id=1), project(11, "P-alpha", client_id=2), project(12, "A-none")],
        workspace_id=1,
    )
    upsert_users(db, [user(1, "Ann")], workspace_id=1)
    load_entries(db, [entry(i, at(1), 60, user_id=1, project_id=p) for i, p in enumerate([None, 10, 11, 12])], *FAR)
    report = weekly_report(db, SINCE, "UTC", grouping="users")
    assert [d["pid"] for d in report["data"][0]["details"]] == [11, 10, 12, None]


def test_earnings_in_two_currencies(db: psycopg.Connection) -> None:
    upsert_projects(
        db, [project(1, "Euro work", currency="EUR"), project(2, "Dollar work", currency="USD")], workspace_id=1
    )
    upsert_users(db, [user(5, "Ann")], workspace_id=1)
    records = [
        entry(1, at(1), 7200, project_id=1, user_id=5, is_billable=True, billable_amount=Decimal("40")),
        entry(2, at(3), 3600, project_id=1, user_id=5, is_billable=False),  # worth 0 EUR that day
        entry(3, at(1), 3600, project_id=2, user_id=5, is_billable=True, billable_amount=Decimal("20.5"),
              currency="USD"),
        entry(4, at(5), 1800, project_id=2, user_id=5, is_billable=True, hourly_rate=Decimal("27"),
              currency="USD"),
    ]  # fmt: skip
    load_entries(db, records, *FAR)
    report = weekly_report(db, SINCE, "UTC", calculate="earnings")
    eur = {"currency": "EUR", "amount": [40.0, None, 0.0, None, None, None, None, 40.0]}
    usd = {"currency": "USD", "amount": [20.5, None, None, None, 13.5, None, None, 34.0]}
    assert report["total_currencies"] == [
        {"currency": "EUR", "amount": 40.0},
        {"currency": "USD", "amount": 34.0},
    ]
    assert report["total_grand"] == (7200 + 3600 + 3600 + 1800) * 1000
    assert report["total_billable"] == (7200 + 3600 + 1800) * 1000
    assert [row["totals"] for row in report["data"]] == [[usd], [eur]]  # no clients: by project name
    assert report["data"][1]["details"] == [{"uid": 5, "title": {"user": "Ann"}, "totals": [eur]}]
    assert report["week_totals"] == [eur, usd]
    table = format_weekly_report_table(report, SINCE, "earnings")
    assert "40.00 EUR" in table and "34.00 USD" in table


def test_empty_week(db: psycopg.Connection) -> None:
    expected_totals = [None] * 8
    for calculate in ("time", "earnings"):
        report = weekly_report(db, SINCE, "Europe/Berlin", calculate=calculate)
        assert report == {
            "total_grand": None,
            "total_billable": None,
            "total_currencies": [],
            "data": [],
            "week_totals": expected_totals if calculate == "time" else [],
        }
        assert "Total" in format_weekly_report_table(report, SINCE, calculate)
    assert refresh_weekly_summary(db, SINCE, "UTC") == 0


def test_dst_week_in_berlin(db: psycopg.Connection) -> None:
    # Clocks go forward on Sunday 2024-03-31 at 02:00 (UTC+1 -> UTC+2); the week from Monday 03-25 has 7
    # days ending at Monday 2024-04-01 00:00 CEST = 2024-03-31 22:00 UTC.
    since = date(2024, 3, 25)
    records = [
        entry(1, utc(2024, 3, 24, 23, 30), 600),  # Mon 00:30 CET: day 1
        entry(2, utc(2024, 3, 24, 22, 59), 600),  # Sun 23:59 CET of the week before: excluded
        entry(3, utc(2024, 3, 30, 22, 59), 60),  # Sat 23:59 CET: day 6
        entry(4, utc(2024, 3, 30, 23, 0), 120),  # Sun 00:00 CET: day 7
        entry(5, utc(2024, 3, 31, 21, 59), 180),  # Sun 23:59 CEST: day 7
        entry(6, utc(2024, 3, 31, 22, 0), 240),  # Mon 00:00 CEST: next week
    ]
    load_entries(db, records, utc(2024, 3, 1), utc(2024, 5, 1))
    report = weekly_report(db, since, "Europe/Berlin")
    assert report["week_totals"] == [600_000, None, None, None, None, 60_000, 300_000, 960_000]
    nxt = weekly_report(db, since + timedelta(days=7), "Europe/Berlin")
    assert nxt["week_totals"][0] == 240_000
    # The same data in UTC lands differently.
    utc_week = [None, None, None, None, None, 180_000, 420_000, 600_000]  # entry 1 is a Sunday in UTC
    assert weekly_report(db, since, "UTC")["week_totals"] == utc_week


def test_tokyo_day_attribution(db: psycopg.Connection) -> None:
    # Tokyo is UTC+9: 15:00 UTC is already the next day there; since may be any weekday (here a Wednesday).
    since = date(2024, 7, 3)
    load_entries(db, [entry(1, utc(2024, 7, 2, 15, 0), 3600), entry(2, utc(2024, 7, 2, 14, 59), 60),
                      entry(3, utc(2024, 7, 9, 14, 59), 7200)], utc(2024, 6, 1), utc(2024, 8, 1))  # fmt: skip
    report = weekly_report(db, since, "Asia/Tokyo")
    assert report["week_totals"] == [3_600_000, None, None, None, None, None, 7_200_000, 10_800_000]
    assert report["data"][0]["pid"] is None and report["data"][0]["details"][0]["uid"] is None


def test_weekly_summary_holds_each_week_once(example: psycopg.Connection) -> None:
    assert refresh_weekly_summary(example, SINCE, "UTC") == 3
    assert refresh_weekly_summary(example, SINCE + timedelta(days=7), "UTC") == 1
    example.commit()
    assert refresh_weekly_summary(example, SINCE, "UTC") == 3  # the same rows, not duplicated
    rows = example.execute(
        "SELECT week_start, project_id, user_name, day3_ms, day5_ms, total_ms, billable_ms, earnings,"
        " day5_earnings"
        " FROM analytics.toggl_weekly_summary ORDER BY week_start, total_ms, project_id"
    ).fetchall()
    assert rows == [
        (SINCE, None, "John Swift", 1000, None, 7_204_000, None, Decimal("0.00"), None),
        (SINCE, 1651, "Jane Doe", 14_400_000, None, 14_400_000, None, Decimal("0.00"), None),
        (
            SINCE,
            7363449,
            "John Swift",
            None,
            14_400_000,
            14_400_000,
            14_400_000,
            Decimal("40.00"),
            Decimal("40.00"),
        ),
        (SINCE + timedelta(days=7), None, "John Swift", None, None, 3_600_000, None, Decimal("0.00"), None),
    ]
    # The stored week and the computed report agree (same aggregation).
    total = example.execute(
        "SELECT sum(total_ms) FROM analytics.toggl_weekly_summary WHERE week_start = %s", (SINCE,)
    ).fetchone()[0]
    assert total == weekly_report(example, SINCE, "UTC")["total_grand"]


def test_format_table(example: psycopg.Connection) -> None:
    table = format_weekly_report_table(weekly_report(example, SINCE, "UTC"), SINCE, "time")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["Sun", "05-19", "Mon"]
    desktop = next(line for line in lines if line.startswith("Toggl Desktop (Toggl)"))
    assert desktop.split()[-2:] == ["4:00", "4:00"]
    assert lines[-1].split() == ["Total", "4:00", "2:00", "4:00", "10:00"]


def test_build_weekly_report_validates_arguments() -> None:
    with pytest.raises(ValueError, match="grouping"):
        build_weekly_report([], grouping="clients")
    with pytest.raises(ValueError, match="calculate"):
        build_weekly_report([], calculate="money")


def test_weekly_hours_by_project(example: psycopg.Connection) -> None:
    refresh_weekly_summary(example, SINCE, "UTC")
    assert weekly_hours_by_project(example, WORKSPACE_ID, SINCE) == [
        ("(no project)", 2, 1 / 3600),
        ("(no project)", 3, 7203 / 3600),
        ("Important Client", 2, 4.0),
        ("Toggl Desktop", 4, 4.0),
    ]


def test_week_overviews_agree_with_the_summary_view(db: psycopg.Connection) -> None:
    """The weekly step's figures (one aggregate of the rollup) equal the view's rows, hours and earnings."""
    upsert_projects(
        db, [project(1, "Euro work", currency="EUR"), project(2, "Dollar work", currency="USD")], workspace_id=1
    )
    upsert_users(db, [user(5, "Ann"), user(6, "Bob")], workspace_id=1)
    records = [
        entry(1, at(1), 7200, project_id=1, user_id=5, is_billable=True, billable_amount=Decimal("40")),
        entry(2, at(1, 11), 600, project_id=1, user_id=6),
        entry(3, at(3), 3600, project_id=1, user_id=5, currency="USD", is_billable=True, billable_amount=Decimal("7")),
        entry(4, at(1), 3600, project_id=2, user_id=5, is_billable=True, billable_amount=Decimal("20.5"),
              currency="USD"),
        entry(5, at(5), 1800, project_id=2, user_id=None, is_billable=True, hourly_rate=Decimal("27"),
              currency="USD"),
        entry(6, at(5, 12), 900, project_id=2, user_id=None),
        entry(7, at(2), 1200, user_id=6),  # no project
        entry(8, at(7, 20), 300),  # no project, no user
        entry(9, at(8), 3600, project_id=1, user_id=5),  # the next week
    ]  # fmt: skip
    load_entries(db, records, *FAR)
    prepare_weekly_summaries(db, Calendar("UTC", 0), workspace_ids=[WORKSPACE_ID])
    weeks = [SINCE, SINCE + timedelta(days=7), SINCE + timedelta(days=14)]
    overviews = week_overviews(db, weeks)
    for week in weeks:
        view = db.execute(
            "SELECT count(*), coalesce(sum(total_ms), 0) FROM analytics.toggl_weekly_summary WHERE week_start = %s",
            (week,),
        ).fetchone()
        earnings = dict(db.execute(
            "SELECT coalesce(currency, ''), sum(coalesce(earnings, 0)) FROM analytics.toggl_weekly_summary"
            " WHERE week_start = %s GROUP BY 1", (week,),
        ).fetchall())  # fmt: skip
        hours: dict[tuple[str, int], float] = {}
        for name, day, h in overviews[week].hours:  # summed over users and currencies, as the view's query is
            key = (name or "(no project)", day)
            hours[key] = hours.get(key, 0.0) + h
        expected = {(name, day): h for name, day, h in weekly_hours_by_project(db, WORKSPACE_ID, week)}
        assert overviews[week].rows == view[0]
        assert sum(overviews[week].total_ms.values()) == view[1]
        assert overviews[week].earnings == earnings
        assert hours == pytest.approx(expected)
    # (project, user, currency): Euro work by Ann in EUR and USD and by Bob, Dollar work by Ann and by nobody,
    # no project by Bob and by nobody; USD 7 + 20.5 + 0.5 h at 27.
    assert overviews[SINCE].rows == 7
    assert overviews[SINCE].earnings == {"EUR": Decimal("40"), "USD": Decimal("41"), "": Decimal("0")}
    assert overviews[weeks[2]] == WeekOverview()
    # The weekly step reads the same figures beside the entries' totals, on two connections.
    db.commit()
    with psycopg.connect(db.info.dsn) as other:
        figures, totals = week_figures(db, other, weeks, "UTC")
    assert figures == overviews
    assert totals == entry_week_totals(db, weeks, "UTC")
    assert totals == {(WORKSPACE_ID, week): ms for week in weeks[:2] for ms in overviews[week].total_ms.values()}
