"""The weekly summary asset: SQL in PostgreSQL, one week replaced at a time, kept current by automation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import dagster as dg
import psycopg
import pytest

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import RANGE_END, RANGE_START, SYNC_JOB, WEEKLY_JOB
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets.warehouse.weekly import weekly_report
from toggl_assets_tests.factories import workspace_spec

SETTINGS = Settings(timezone="Europe/Berlin", start_date=date(2024, 3, 1))


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    spec = workspace_spec(21, 500, date(2024, 3, 1), date(2024, 3, 31), projects=4, tags=3, tasks=4, edge_cases=False)
    with Simulator(SimulatorConfig(spec=spec)) as sim:
        yield sim


@pytest.fixture
def defs(simulator, warehouse_url) -> dg.Definitions:
    return build_definitions(
        SETTINGS,
        {
            "toggl": TogglResource(
                api_token=simulator.api_token,
                api_url=simulator.url,
                workspace_ids=str(simulator.workspace_id),
                requests_per_second=0,
            ),
            "warehouse": WarehouseResource(url=warehouse_url),
        },
    )


def run(defs: dg.Definitions, job: str, first: str, last: str, instance: dg.DagsterInstance):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags={RANGE_START: first, RANGE_END: last}, raise_on_error=False
    )
    assert result.success
    return result


def summary_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT week_start, project_id, user_id, currency, total_ms, refreshed_at "
            "FROM analytics.toggl_weekly_summary ORDER BY 1, 2, 3, 4"
        ).fetchall()


def test_weekly_summary_matches_the_weekly_report_and_records_each_week(defs, simulator, warehouse_url):
    instance = dg.DagsterInstance.ephemeral()
    run(defs, SYNC_JOB, "2024-03-04", "2024-03-17", instance)
    result = run(defs, WEEKLY_JOB, "2024-03-04", "2024-03-11", instance)
    assert instance.get_materialized_partitions(dg.AssetKey("toggl_weekly_summary")) == {
        "2024-03-04",
        "2024-03-11",
    }

    rows = summary_rows(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        for week in (date(2024, 3, 4), date(2024, 3, 11)):
            report = weekly_report(conn, simulator.workspace_id, week, SETTINGS.timezone)
            assert sum(r[4] for r in rows if r[0] == week) == report["total_grand"] > 0

    first, event = result.get_asset_materialization_events()
    assert "dagster/column_lineage" not in first.materialization.metadata  # once per run: on its last week
    metadata = event.materialization.metadata
    markdown = metadata["hours_by_project"].value
    assert "| project |" in markdown and "data:image/svg+xml;base64," in metadata["chart"].value
    assert metadata["dagster/row_count"].value == len([r for r in rows if r[0] == date(2024, 3, 11)])
    lineage = metadata["dagster/column_lineage"].value.deps_by_column
    with psycopg.connect(warehouse_url) as conn:
        columns = {
            (schema, table): {c for (c,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (schema, table),
            ).fetchall()}
            for schema, table in [("analytics", "toggl_weekly_summary")]
            + [("raw", t) for t in ("toggl_entries", "toggl_projects", "toggl_clients", "toggl_users")]
        }  # fmt: skip
    assert set(lineage) <= columns[("analytics", "toggl_weekly_summary")] and "total_ms" in lineage
    for deps in lineage.values():  # every source column is a real column of the asset it names
        assert all(d.column_name in columns[("raw", d.asset_key.path[-1])] for d in deps)

    # The summary is a view, current with every merge: materializing a week again changes no row and records
    # the same figures.
    again = run(defs, WEEKLY_JOB, "2024-03-11", "2024-03-11", instance)
    assert summary_rows(warehouse_url) == rows
    (repeated,) = again.get_asset_materialization_events()
    assert repeated.materialization.metadata["dagster/row_count"] == metadata["dagster/row_count"]
    assert repeated.materialization.metadata["hours"] == metadata["hours"]


def test_re_synced_entries_request_their_weeks_summary(defs):
    instance = dg.DagsterInstance.ephemeral()
    run(defs, SYNC_JOB, "2024-03-04", "2024-03-10", instance)
    run(defs, WEEKLY_JOB, "2024-03-04", "2024-03-04", instance)
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    # Nothing changed since the summary: nothing to do.
    assert first.total_requested == 0
    # Re-syncing one day of an old week requests that week's summary, not only the newest week.
    run(defs, SYNC_JOB, "2024-03-06", "2024-03-06", instance)
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    requested = result.get_requested_partitions(dg.AssetKey("toggl_weekly_summary"))
    assert requested == {"2024-03-04"}


def check_result(result) -> dg.AssetCheckEvaluation:
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_the_totals_check_fails_when_the_summary_and_the_entries_disagree(defs, simulator, warehouse_url):
    instance = dg.DagsterInstance.ephemeral()
    run(defs, SYNC_JOB, "2024-03-04", "2024-03-17", instance)
    assert check_result(run(defs, WEEKLY_JOB, "2024-03-04", "2024-03-11", instance)).passed
    with psycopg.connect(warehouse_url) as conn:  # the rollup (what the view reads) loses a second of one day
        conn.execute(
            "UPDATE raw.toggl_daily_rollup SET ms = ms - 1000 WHERE ctid = (SELECT ctid FROM raw.toggl_daily_rollup"
            " WHERE week_start = '2024-03-11' LIMIT 1)"
        )
    evaluation = check_result(run(defs, WEEKLY_JOB, "2024-03-04", "2024-03-11", instance))
    assert not evaluation.passed
    (mismatch,) = evaluation.metadata["mismatches"].value
    assert mismatch["workspace_id"] == simulator.workspace_id and mismatch["week"] == "2024-03-11"
    assert mismatch["summary_ms"] == mismatch["entries_ms"] - 1000


def test_entry_week_totals_need_weeks_on_one_weekday(warehouse):
    from toggl_assets.warehouse.migrations import migrate
    from toggl_assets.warehouse.overview import entry_week_totals

    migrate(warehouse)
    assert entry_week_totals(warehouse, [date(2024, 3, 4), date(2024, 3, 18)], "UTC") == {}
    with pytest.raises(ValueError, match="same weekday"):
        entry_week_totals(warehouse, [date(2024, 3, 4), date(2024, 3, 12)], "UTC")


def test_two_connections_read_one_snapshot_while_a_write_commits(warehouse_url):
    """The weekly step's two side-by-side reads see the warehouse as one read would."""
    from toggl_assets.warehouse.db import shared_snapshot

    with psycopg.connect(warehouse_url, autocommit=True) as writer:
        writer.execute("CREATE TABLE public.counted (n int)")
        writer.execute("INSERT INTO public.counted VALUES (1)")
        with (
            psycopg.connect(warehouse_url, autocommit=True) as conn,
            psycopg.connect(warehouse_url, autocommit=True) as other,
        ):
            with shared_snapshot(conn, other):
                writer.execute("INSERT INTO public.counted VALUES (2)")  # commits before `other` reads anything
                assert other.execute("SELECT count(*) FROM public.counted").fetchone() == (1,)
                assert conn.execute("SELECT count(*) FROM public.counted").fetchone() == (1,)
                with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                    other.execute("INSERT INTO public.counted VALUES (3)")
            assert other.execute("SELECT count(*) FROM public.counted").fetchone() == (2,)


def test_week_tables_sum_hours_per_project_and_day_and_keep_empty_weeks():
    from toggl_assets.orchestration.weekly_summary import NO_PROJECT, hours_table_markdown, week_metadata, week_tables
    from toggl_assets.warehouse.overview import WeekOverview

    busy, empty = date(2024, 3, 4), date(2024, 3, 11)
    overviews = {
        busy: WeekOverview(rows=4, hours=[("beta", 0, 1.5), (None, 2, 0.25), ("Alpha", 6, 2.0), ("beta", 0, 1.0)]),
        empty: WeekOverview(),
    }
    tables = week_tables(overviews)
    table = tables[busy]
    assert table.days == ["Mon 04", "Tue 05", "Wed 06", "Thu 07", "Fri 08", "Sat 09", "Sun 10"]
    assert [project for project, _ in table.rows] == ["Alpha", "beta", NO_PROJECT]  # case-blind, none last
    assert dict(table.rows)["beta"] == [2.5, 0, 0, 0, 0, 0, 0]
    assert table.day_totals() == [2.5, 0, 0.25, 0, 0, 0, 2.0]
    assert hours_table_markdown(table).splitlines()[2:] == [
        "| Alpha | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 2.00 | 2.00 |",
        "| beta | 2.50 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 2.50 |",
        f"| {NO_PROJECT} | 0.00 | 0.00 | 0.25 | 0.00 | 0.00 | 0.00 | 0.00 | 0.25 |",
    ]
    assert tables[empty].rows == [] and tables[empty].day_totals() == [0.0] * 7
    assert week_metadata(busy, overviews[busy], table)["hours"].value == 4.75
    assert week_metadata(empty, overviews[empty], tables[empty])["hours"].value == 0.0
