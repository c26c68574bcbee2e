"""The raw assets end to end: dg.materialize with the real resources, the simulator over HTTP, real PostgreSQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import RANGE_END, RANGE_START, SYNC_JOB
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec

START = date(2024, 1, 1)
END = date(2024, 2, 29)
PAGE = 50


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    spec = workspace_spec(11, 900, START, END, users=4, clients=3, projects=8, tags=6, tasks=10)
    with Simulator(SimulatorConfig(spec=spec, max_page_size=PAGE)) as sim:
        yield sim


def make_resources(sim: Simulator, warehouse_url: str, **toggl: object) -> dict[str, object]:
    options = {"workspace_ids": str(sim.workspace_id), "requests_per_second": 0, "page_size": PAGE, **toggl}
    return {
        "toggl": TogglResource(api_token=sim.api_token, api_url=sim.url, **options),
        "warehouse": WarehouseResource(url=warehouse_url),
    }


class Sync:
    """Runs the sync job (metadata + entries) for a day or a range, like the schedule and `toggl-assets sync`."""

    def __init__(self, sim: Simulator, warehouse_url: str, timezone: str = "UTC") -> None:
        self.sim = sim
        self.url = warehouse_url
        self.settings = Settings(timezone=timezone, start_date=START)
        self.instance = dg.DagsterInstance.ephemeral()

    def run(self, first: date, last: date | None = None, **toggl: object) -> dg.ExecuteInProcessResult:
        resources = make_resources(self.sim, self.url, **toggl)
        job = build_definitions(self.settings, resources).resolve_job_def(SYNC_JOB)
        tags = {RANGE_START: first.isoformat(), RANGE_END: (last or first).isoformat()}
        return job.execute_in_process(instance=self.instance, tags=tags, raise_on_error=False)


def window_bounds(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    return (
        datetime.combine(first, datetime.min.time(), zone),
        datetime.combine(last + timedelta(days=1), datetime.min.time(), zone),
    )


def truth_ids(sim: Simulator, first: date, last: date, timezone: str = "UTC") -> set[int]:
    lower, upper = window_bounds(first, last, timezone)
    return {
        e["id"]
        for e in sim.truth.entries
        if lower <= datetime.fromisoformat(e["start"]).astimezone(UTC) < upper and e.get("stop") is not None
    }


def stored_ids(url: str, first: date, last: date, timezone: str = "UTC") -> set[int]:
    lower, upper = window_bounds(first, last, timezone)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id FROM raw.toggl_entries WHERE start >= %s AND start < %s", (lower, upper))
        return {row[0] for row in rows}


def entry_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The first partition's own metadata, plus the run-wide figures (recorded on the range's last partition)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("toggl_entries")]
    merged: dict[str, object] = {}
    for event in events:
        for key, value in event.materialization.metadata.items():
            merged.setdefault(key, value.value)
    return merged


def snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            'SELECT id, description, start, "end", duration_ms, project_id, tags FROM raw.toggl_entries ORDER BY id'
        ).fetchall()


def test_one_partition_holds_exactly_tolls_entries_of_that_day(simulator, warehouse_url):
    day = date(2024, 1, 16)
    result = Sync(simulator, warehouse_url).run(day)
    assert result.success
    assert stored_ids(warehouse_url, day, day) == truth_ids(simulator, day, day) != set()
    metadata = entry_metadata(result)
    assert metadata["rows_inserted"] == len(truth_ids(simulator, day, day))
    assert metadata["dagster/row_count"] == len(truth_ids(simulator, day, day))
    assert metadata["api_requests"] >= 1 and "preview" in metadata
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "row_count_matches_toggl": True,
        "references_resolve": True,  # on every table
        "ids_unique": True,
        "durations_consistent": True,
    }
    # Nothing outside the window was written.
    assert stored_ids(warehouse_url, START, day - timedelta(days=1)) == set()


def test_a_range_is_one_run_with_few_requests(simulator, warehouse_url):
    first, last = date(2024, 1, 1), date(2024, 2, 29)
    simulator.reset_stats()
    sync = Sync(simulator, warehouse_url)
    result = sync.run(first, last)
    assert result.success
    assert stored_ids(warehouse_url, first, last) == truth_ids(simulator, first, last)
    materialized = sync.instance.get_materialized_partitions(dg.AssetKey("toggl_entries"))
    assert len(materialized) == (last - first).days + 1
    report_requests = sum(
        count for endpoint, count in simulator.stats()["by_endpoint"].items() if "search/time_entries" in endpoint
    )
    fetched = sum(
        int(e.materialization.metadata["rows_fetched"].value)
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("toggl_entries") and "rows_fetched" in e.materialization.metadata
    )
    assert report_requests == max(1, math.ceil(fetched / PAGE))  # never a request per day


def test_re_running_without_changes_changes_nothing(simulator, warehouse_url):
    day = date(2024, 1, 17)
    sync = Sync(simulator, warehouse_url)
    assert sync.run(day).success
    before = snapshot(warehouse_url)
    result = sync.run(day)
    metadata = entry_metadata(result)
    assert (metadata["rows_inserted"], metadata["rows_updated"], metadata["rows_deleted"]) == (0, 0, 0)
    assert snapshot(warehouse_url) == before


def test_edits_and_deletions_in_toggl_propagate_on_re_sync(simulator, warehouse_url):
    day = date(2024, 1, 18)
    sync = Sync(simulator, warehouse_url)
    assert sync.run(day).success
    edited, deleted = sorted(truth_ids(simulator, day, day))[:2]
    simulator.update_entry(edited, description="edited in Toggl")
    simulator.delete_entry(deleted)
    added = simulator.create_entry(
        user_id=simulator.truth.users[0]["uid"],
        start=datetime(2024, 1, 18, 9, 0, tzinfo=UTC),
        duration_seconds=1800,
        description="added later",
    )
    metadata = entry_metadata(sync.run(day))
    assert (metadata["rows_inserted"], metadata["rows_updated"], metadata["rows_deleted"]) == (1, 1, 1)
    assert stored_ids(warehouse_url, day, day) == truth_ids(simulator, day, day)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT description FROM raw.toggl_entries WHERE id = %s", (edited,)).fetchone() == (
            "edited in Toggl",
        )
        assert conn.execute("SELECT count(*) FROM raw.toggl_entries WHERE id = %s", (added["id"],)).fetchone() == (1,)


def test_a_failure_part_way_leaves_the_tables_unchanged(simulator, warehouse_url):
    first, last = date(2024, 2, 1), date(2024, 2, 20)
    sync = Sync(simulator, warehouse_url)
    assert sync.run(first, last).success
    before = snapshot(warehouse_url)
    for entry_id in sorted(truth_ids(simulator, first, last))[:3]:
        simulator.update_entry(entry_id, description="changed while the run fails")
    simulator.reset_stats()
    simulator.set_faults(rate=0.3, kinds=("500",), seed=3)
    try:
        result = sync.run(first, last, max_retries=0)
    finally:
        simulator.set_faults(rate=0.0)
    assert not result.success
    assert simulator.stats()["total"] >= 2  # it failed part-way, after some pages were served
    assert snapshot(warehouse_url) == before
    assert sync.run(first, last).success  # a re-run heals
    assert stored_ids(warehouse_url, first, last) == truth_ids(simulator, first, last)


def test_entries_crossing_midnight_belong_to_the_day_of_their_start_in_the_configured_zone(simulator, warehouse_url):
    zone = "America/New_York"
    user = simulator.truth.users[0]["uid"]
    late = simulator.create_entry(
        user_id=user,
        start=datetime(2024, 2, 21, 23, 30, tzinfo=ZoneInfo(zone)),
        duration_seconds=3600,
        description="crosses midnight in New York",
    )
    early = simulator.create_entry(
        user_id=user,
        start=datetime(2024, 2, 22, 0, 0, tzinfo=ZoneInfo(zone)),
        duration_seconds=600,
        description="starts at 00:00 New York",
    )
    sync = Sync(simulator, warehouse_url, timezone=zone)
    assert sync.run(date(2024, 2, 21)).success
    stored = stored_ids(warehouse_url, date(2024, 2, 21), date(2024, 2, 21), zone)
    assert late["id"] in stored and early["id"] not in stored
    assert stored == truth_ids(simulator, date(2024, 2, 21), date(2024, 2, 21), zone)
    assert sync.run(date(2024, 2, 22)).success
    assert early["id"] in stored_ids(warehouse_url, date(2024, 2, 22), date(2024, 2, 22), zone)


def test_a_run_shares_one_client_so_me_is_asked_once_and_costs_the_minimum(simulator, warehouse_url):
    sync = Sync(simulator, warehouse_url)
    simulator.reset_stats()
    assert sync.run(date(2024, 2, 5), date(2024, 2, 11), workspace_ids="").success  # every workspace of the token
    by_endpoint = simulator.stats()["by_endpoint"]
    assert by_endpoint.get("GET /api/v9/me/workspaces") == 1  # not once per step
    simulator.reset_stats()
    result = sync.run(date(2024, 2, 5), date(2024, 2, 11))  # TOGGL_WORKSPACE_ID set: a 7-day daily run
    pages = math.ceil(entry_metadata(result)["rows_fetched"] / PAGE)
    # One request per metadata endpoint (clients, projects, tags, users, tasks) plus the report's pages.
    assert result.success and simulator.stats()["total"] == 5 + pages
    per_step: dict[str, int] = {}
    for event in result.get_asset_materialization_events():  # entries: run-wide figures on the last partition only
        if "api_requests" in event.materialization.metadata:
            key = event.asset_key.to_user_string()
            per_step[key] = per_step.get(key, 0) + event.materialization.metadata["api_requests"].value
    assert per_step["toggl_entries"] == pages and sum(per_step.values()) == 5 + pages


def test_row_counts_of_the_metadata_tables_include_placeholder_rows(simulator, warehouse_url):
    sync = Sync(simulator, warehouse_url)
    assert sync.run(START, END).success  # entries referencing a deleted tag create a placeholder tag row
    result = sync.run(START, START)  # the tags step now counts the placeholder its table holds
    tables = ("toggl_workspaces", "toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks")
    shown = {
        event.asset_key.to_user_string(): event.materialization.metadata["dagster/row_count"].value
        for event in result.get_asset_materialization_events()
        if event.asset_key.to_user_string() in tables
    }
    with psycopg.connect(warehouse_url) as conn:
        stored = {t: conn.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in tables}
        placeholders = conn.execute("SELECT count(*) FROM raw.toggl_tags WHERE is_placeholder").fetchone()[0]
    assert placeholders > 0 and shown == stored
