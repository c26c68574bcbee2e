"""Issue 13 "history", end to end: two years synced, Toggl edited far back, ONE daily run makes them equal again.

Real PostgreSQL, real HTTP to the project's Toggl simulator, the real code location (``build_definitions``) and
exactly the run the real ``toggl_daily_sync`` schedule asks for (its RunRequest's job and tags, executed in
process). After each run the warehouse is compared with the simulator's ground truth, entry for entry, over
the whole history.

History length: 750 days ending yesterday (two years and three weeks). At exactly 730 days the daily run needs
one request more than issue 13's budget (report spans are capped at 365 days and the last-update read reaches a
day beyond each end: 732 days are three spans), see ``test_history_budget_at_span_edges``.
"""

import math
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest
import requests

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.entries import ENTRIES
from toggl_assets.orchestration.history import CHECK_MATCHES, HISTORY
from toggl_assets.orchestration.jobs import DAILY_JOB, RANGE_END, RANGE_START, SYNC_JOB, WEEKLY_JOB
from toggl_assets.orchestration.partitions import build_partitions
from toggl_assets.orchestration.schedules import DAILY_SCHEDULE
from toggl_assets.orchestration.weekly_summary import WEEKLY
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets.simulator.config import FAULT_KINDS
from toggl_assets.sync.history import reconcile_workspace
from toggl_assets.sync.window import Window, sync_windows
from toggl_assets.toggl import TogglClient
from toggl_assets.toggl.client import report_spans
from toggl_assets.warehouse import history as store
from toggl_assets.warehouse.db import connect
from toggl_assets.warehouse.migrations import migrate
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    assert_checks_pass,
    cli_env,
    make_resources,
    new_database,
    run_cli,
    table_contents,
)

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)
HISTORY_DAYS = 750
START = YESTERDAY - timedelta(days=HISTORY_DAYS - 1)
SETTINGS = Settings(timezone="UTC", start_date=START)  # trailing_days 7, weeks start on Monday
TRAILING = [(YESTERDAY - timedelta(days=i)).isoformat() for i in range(6, -1, -1)]
ENTRIES_KEY, HISTORY_KEY, WEEKLY_KEY = dg.AssetKey(ENTRIES), dg.AssetKey(HISTORY), dg.AssetKey(WEEKLY)
BUDGET_SPAN_DAYS = 366  # issue 13's budget: two requests per span of at most 366 days of synced history
QUOTA_PATTERN = r"quota exhausted on POST \S+ after \d+ request\(s\) this run; retry after \d\d:\d\d UTC"


def back(days: int) -> date:
    return YESTERDAY - timedelta(days=days)


def at_hour(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour)


def spec(seed: int, **overrides: Any):
    values = {"users": 4, "projects": 6, "tags": 6, "tasks": 8, **overrides}
    return workspace_spec(seed, 3000, START, YESTERDAY, **values)


# ---------------------------------------------------------------------------------------------- running


def definitions(sim: Simulator, url: str, settings: Settings = SETTINGS, **toggl: Any) -> dg.Definitions:
    return build_definitions(settings, make_resources(sim, url, **toggl))


def local_yesterday(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.timezone)).date() - timedelta(days=1)


def backfill(defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings = SETTINGS) -> None:
    """The first full sync: the sync job over every day of history (up to yesterday), one run."""
    days = {RANGE_START: settings.start_date.isoformat(), RANGE_END: local_yesterday(settings).isoformat()}
    assert defs.resolve_job_def(SYNC_JOB).execute_in_process(instance=instance, tags=days).success


def summarize_all_weeks(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.JobDefinition:
    """The weekly summary of every week, one run; returns the weekly job."""
    job = defs.resolve_job_def(WEEKLY_JOB)
    weeks = build_partitions(SETTINGS).weekly.get_partition_keys()
    assert job.execute_in_process(instance=instance, tags={RANGE_START: weeks[0], RANGE_END: weeks[-1]}).success
    return job


def daily_tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, settings: Settings = SETTINGS
) -> dg.ExecuteInProcessResult:
    """Exactly what one tick of the daily schedule starts: the schedule's own RunRequest, executed."""
    schedule = defs.resolve_schedule_def(DAILY_SCHEDULE)
    now = datetime.now(ZoneInfo(settings.timezone))
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=now) as context:
        [request] = schedule.evaluate_tick(context).run_requests
    job = defs.resolve_job_def(request.job_name or schedule.job_name)
    assert job.name == DAILY_JOB
    yesterday = local_yesterday(settings)
    trailing = (yesterday - timedelta(days=settings.trailing_days - 1)).isoformat(), yesterday.isoformat()
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == trailing
    return job.execute_in_process(instance=instance, tags=request.tags, raise_on_error=False)


def history_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == HISTORY_KEY]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def differences(metadata: dict[str, Any]) -> dict[date, set[str]]:
    return {
        date.fromisoformat(r.data["day"]): set(r.data["reasons"].split(", ")) for r in metadata["differences"].records
    }


def entry_partitions(result: dg.ExecuteInProcessResult) -> dict[str, list[str]]:
    """Partitions of toggl_entries the run materialized, by step."""
    out: dict[str, list[str]] = defaultdict(list)
    for event in result.get_asset_materialization_events():
        if event.asset_key == ENTRIES_KEY:
            out[event.step_key].append(event.partition)
    return {step: sorted(keys) for step, keys in out.items()}


def failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    [event] = [e for e in result.all_events if e.is_step_failure]
    return event.step_key, event.event_specific_data.error.message


def history_check_passed(result: dg.ExecuteInProcessResult) -> bool:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == CHECK_MATCHES]
    return evaluation.passed


# ---------------------------------------------------------------------------------------------- truth


def truth_entries(sim: Simulator, settings: Settings = SETTINGS) -> dict[int, tuple[Any, ...]]:
    """Every stopped live entry of the simulated workspace's synced days, as the warehouse should hold it."""
    out = {}
    zone, last = ZoneInfo(settings.timezone), local_yesterday(settings)
    for e in sim.truth.iter_entries():
        if e["stop"] is None:
            continue  # the reports omit running entries, and a past day's window never asks for them
        if not settings.start_date <= datetime.fromisoformat(e["start"]).astimezone(zone).date() <= last:
            continue
        out[e["id"]] = (
            e["workspace_id"],
            e["project_id"],
            e["task_id"],
            e["user_id"],
            e["description"],
            datetime.fromisoformat(e["start"]),
            datetime.fromisoformat(e["stop"]),
            e["duration"] * 1000,
            e["billable"],
            sorted(e["tag_ids"]),
            sorted(e["tags"]),
            datetime.fromisoformat(e["at"]).replace(microsecond=0),  # the reports' `at` has whole seconds
        )
    return out


def warehouse_entries(url: str) -> dict[int, tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            'SELECT id, workspace_id, project_id, task_id, user_id, description, start, "end", duration_ms,'
            " is_billable, coalesce(tag_ids, '{}'), coalesce(tags, '{}'), updated_at FROM raw.toggl_entries"
        ).fetchall()
    return {r[0]: (*r[1:10], sorted(r[10]), sorted(r[11]), r[12]) for r in rows}


def assert_warehouse_equals_toggl(sim: Simulator, url: str, settings: Settings = SETTINGS, least: int = 2500) -> None:
    """raw.toggl_entries holds exactly Toggl's entries of the whole history, field for field."""
    truth, ours = truth_entries(sim, settings), warehouse_entries(url)
    assert len(truth) > least
    missing, extra = truth.keys() - ours.keys(), ours.keys() - truth.keys()
    differing = {i: (ours[i], truth[i]) for i in truth.keys() & ours.keys() if ours[i] != truth[i]}
    assert not missing and not extra and not differing, (sorted(missing), sorted(extra), differing)


def by_day(entries: dict[int, tuple[Any, ...]]) -> dict[date, dict[int, tuple[Any, ...]]]:
    out: dict[date, dict[int, tuple[Any, ...]]] = defaultdict(dict)
    for entry_id, row in entries.items():
        out[row[5].astimezone(UTC).date()][entry_id] = row
    return out


def independent_read(sim: Simulator, url: str) -> list[tuple[Any, ...]]:
    """Every column of every entry from one fresh read of the whole history (no Dagster, no reconciliation)."""
    with connect(url, autocommit=True) as conn:
        migrate(conn)
        with TogglClient(sim.api_token, sim.url, requests_per_second=0) as client:
            window = Window(at_hour(START, 0), at_hour(TODAY, 0), "UTC")
            sync_windows(client, conn, [sim.workspace_id], window)
    return table_contents(url)["toggl_entries"]


def watermark(url: str, workspace_id: int) -> datetime | None:
    with psycopg.connect(url) as conn:
        return store.get_watermark(conn, "raw", workspace_id)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def truth_weeks(sim: Simulator, weeks: set[date]) -> dict[tuple[date, int | None, int], int]:
    """Milliseconds per (week, project, user) of Toggl's stopped entries: what the weekly summary must say."""
    out: dict[tuple[date, int | None, int], int] = defaultdict(int)
    for row in truth_entries(sim).values():
        week = week_of(row[5].date())
        if week in weeks:
            out[(week, row[1], row[3])] += row[7]
    return dict(out)


def summary_weeks(url: str, weeks: set[date]) -> dict[tuple[date, int | None, int], int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT week_start, project_id, user_id, sum(total_ms) FROM analytics.toggl_weekly_summary"
            " WHERE week_start = ANY(%s) GROUP BY 1, 2, 3",
            (sorted(weeks),),
        ).fetchall()
    return {(w, p, u): int(ms) for w, p, u, ms in rows if ms}


# ---------------------------------------------------------------------------------------------- late edits


def _stopped(sim: Simulator, near: date, count: int) -> tuple[date, list[dict[str, Any]]]:
    """The day nearest ``near`` (within a week, the earlier first) with ``count`` ordinary stopped entries
    (UTC: with time, not crossing midnight), and those entries. The generated data depends on today's date, so
    a given day may have none."""
    for offset in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6, -7, 7):
        day = near + timedelta(days=offset)
        found = [
            e
            for e in sim.truth.entries_between(day, day)
            if e["stop"] is not None and e["duration"] > 0 and e["stop"][:10] == day.isoformat()
        ]
        if len(found) >= count:
            return day, found[:count]
    raise AssertionError(f"no day within a week of {near} has {count} stopped entries")


def late_edits(sim: Simulator) -> dict[date, set[str]]:
    """Issue 13's edits far back, made in Toggl; returns the differences the daily run must find (day: reasons),
    the description edit's day first."""
    projects = [p["id"] for p in sim.truth.projects if p["active"]]
    tags = [t["id"] for t in sim.truth.tags]
    edited_day, [described] = _stopped(sim, back(30), 1)
    sim.update_entry(described["id"], description="fixed a month later")
    reassigned_day, [reassigned] = _stopped(sim, back(200), 1)
    sim.update_entry(reassigned["id"], project_id=next(p for p in projects if p != reassigned["project_id"]))
    old_day, (retagged, deleted, moved) = _stopped(sim, back(500), 3)
    sim.update_entry(retagged["id"], tag_ids=[t for t in tags if t not in retagged["tag_ids"]][:2])
    sim.delete_entry(deleted["id"])
    sim.update_entry(moved["id"], start=at_hour(back(420), 10))
    created = sim.create_entry(  # created now, started long ago
        user_id=sim.truth.users[1]["uid"],
        start=at_hour(back(650), 9),
        duration_seconds=2700,
        description="forgot to track this",
        project_id=projects[0],
    )
    assert created["start"].startswith(back(650).isoformat())
    return {
        edited_day: {"edited"},
        reassigned_day: {"edited"},
        back(420): {"moved", "seconds differ"},
        old_day: {"edited", "moved", "deleted"},
        back(650): {"new", "seconds differ"},
    }


def newest_at(sim: Simulator) -> datetime:
    return max(row[11] for row in truth_entries(sim).values())


# ---------------------------------------------------------------------------------------------- budget


def history_requests(days: int) -> int:
    """Issue 13's allowance for the reconciliation: 2 per 366-day span of synced history."""
    return 2 * math.ceil(days / BUDGET_SPAN_DAYS)


def report_usage(sim: Simulator) -> tuple[int, int, int, int]:
    """(all requests, metadata requests, detailed-report pages, totals) since the last reset."""
    stats = sim.stats()
    pages = sum(n for key, n in stats["by_endpoint"].items() if key.endswith("/search/time_entries"))
    totals = sum(n for key, n in stats["by_endpoint"].items() if key.endswith("/search/time_entries/totals"))
    return stats["total"], stats["total"] - pages - totals, pages, totals


def assert_within_budget(sim: Simulator, resynced_ranges: int) -> int:
    """Issue 13's budget: metadata + 1 report page for the trailing days + 2 per 366-day span of history
    (+ one page per re-synced range of days: each is one small window). Returns the requests measured."""
    total, metadata, _pages, totals = report_usage(sim)
    assert metadata == 5, sim.stats()["by_endpoint"]  # clients, tags, workspace_users, projects, tasks
    budget = metadata + 1 + history_requests(HISTORY_DAYS) + resynced_ranges
    assert total <= budget, (total, budget, sim.stats()["by_endpoint"])
    assert totals == len(report_spans(START, YESTERDAY))  # one totals request per span: deletions anywhere
    return total


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_one_daily_run_repairs_late_edits_anywhere_in_two_years(pg_socket_dir):
    """Point 1: backfill, issue 13's edits 30/200/500/650 days back, then ONE daily schedule tick: the warehouse
    equals Toggl entry for entry; the differences found are exactly the edited days, each re-synced day is a
    materialized partition of this run, the sensor asks for the weeks of those days, and their summaries then
    equal Toggl's. A second tick finds nothing."""
    with (
        Simulator(SimulatorConfig(spec=spec(1301))) as sim,
        new_database(pg_socket_dir) as url,
        new_database(pg_socket_dir) as reference_url,
    ):
        defs = definitions(sim, url)
        instance = dg.DagsterInstance.ephemeral()
        backfill(defs, instance)
        weekly_job = summarize_all_weeks(defs, instance)
        baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert baseline.total_requested == 0  # every week summarized after its entries

        expected = late_edits(sim)
        sim.reset_stats()
        result = daily_tick(defs, instance)
        assert result.success
        requests_with_edits = assert_within_budget(sim, resynced_ranges=len(expected))

        # The warehouse equals Toggl over the whole history, and equals a fresh read of it column for column.
        assert_warehouse_equals_toggl(sim, url)
        assert table_contents(url)["toggl_entries"] == independent_read(sim, reference_url)
        assert_checks_pass(url)

        # What the reconciliation found and did, as its materialization reports it.
        meta = history_metadata(result)
        assert differences(meta) == expected
        resynced = sorted(day.isoformat() for day in expected)
        assert meta["days_compared"] == HISTORY_DAYS and meta["days_resynced"] == len(expected)
        assert meta["resynced_days"] == resynced
        assert history_check_passed(result)
        assert watermark(url, sim.workspace_id) == newest_at(sim)

        # Re-synced days are materializations of their toggl_entries partitions, by this run.
        assert entry_partitions(result) == {ENTRIES: TRAILING, HISTORY: resynced}
        latest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=ENTRIES_KEY, asset_partitions=resynced), limit=100
        ).records
        newest_by_partition: dict[str, str] = {}
        for record in latest:  # newest first
            newest_by_partition.setdefault(record.partition_key, record.run_id)
        assert newest_by_partition == dict.fromkeys(resynced, result.run_id)
        assert set(resynced) <= instance.get_materialized_partitions(ENTRIES_KEY)

        # The summary view already shows the repaired weeks (every merge keeps its rollup current); the automation
        # sensor's condition asks for the summaries of exactly the weeks touched, whose figures are then recorded.
        touched = {week_of(date.fromisoformat(day)) for day in [*TRAILING, *resynced]}
        requested = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=baseline.cursor)
        assert requested.get_requested_partitions(WEEKLY_KEY) == {week.isoformat() for week in touched}
        changed = {week_of(day) for day in list(expected)[1:]}  # the first, a new description, changes no total
        assert changed and summary_weeks(url, changed) == truth_weeks(sim, changed)
        for week in sorted(touched):
            assert weekly_job.execute_in_process(instance=instance, partition_key=week.isoformat()).success
        assert summary_weeks(url, touched) == truth_weeks(sim, touched)

        # A second tick with nothing changed since re-syncs nothing.
        sim.reset_stats()
        again = daily_tick(defs, instance)
        assert again.success and history_metadata(again)["days_resynced"] == 0
        assert entry_partitions(again) == {ENTRIES: TRAILING}
        assert_warehouse_equals_toggl(sim, url)
        print(f"daily run with edits: {requests_with_edits} requests; after: {report_usage(sim)[0]}")


@pytest.mark.slow
def test_a_daily_run_without_changes_resyncs_nothing_within_budget(pg_socket_dir):
    """Point 3: right after the backfill (no watermark yet) and again after it (the watermark set), a tick
    re-syncs no day, materializes only the trailing partitions, changes no row and stays within the budget."""
    with Simulator(SimulatorConfig(spec=spec(1303))) as sim, new_database(pg_socket_dir) as url:
        defs = definitions(sim, url)
        instance = dg.DagsterInstance.ephemeral()
        backfill(defs, instance)
        before = table_contents(url)
        assert watermark(url, sim.workspace_id) is None
        for tick in range(2):
            sim.reset_stats()
            result = daily_tick(defs, instance)
            assert result.success
            meta = history_metadata(result)
            assert (meta["days_compared"], meta["days_different"], meta["days_resynced"]) == (HISTORY_DAYS, 0, 0)
            assert meta["resynced_days"] == [] and history_check_passed(result)
            assert entry_partitions(result) == {ENTRIES: TRAILING}  # none re-materialized by toggl_history
            # the trailing days this run re-synced count as compared and cost the reconciliation nothing
            assert [r.data["days_just_synced"] for r in meta["by_workspace"].records] == [len(TRAILING)]
            measured = assert_within_budget(sim, resynced_ranges=0)
            _, _, pages, totals = report_usage(sim)
            assert pages - 1 + totals == meta["api_requests"]  # the history's own requests: all but 1 page
            assert table_contents(url) == before
            assert watermark(url, sim.workspace_id) is not None
            print(f"quiet daily run {tick + 1}: {measured} requests ({sim.stats()['by_endpoint']})")


@pytest.mark.slow
def test_one_daily_run_repairs_late_edits_under_25_percent_faults(pg_socket_dir):
    """Point 2a: the same scenario with a quarter of all requests failing (5xx, 429, drops, truncated and
    malformed bodies, slow answers), backfill included: the client retries, the result is the same."""
    config = SimulatorConfig(spec=spec(1302), slow_seconds=0.2)
    with Simulator(config) as sim, new_database(pg_socket_dir) as url:
        defs = definitions(sim, url)
        instance = dg.DagsterInstance.ephemeral()
        sim.set_faults(rate=0.25, kinds=FAULT_KINDS, seed=1313)
        backfill(defs, instance)
        expected = late_edits(sim)
        result = daily_tick(defs, instance)
        stats = sim.stats()
        sim.set_faults(rate=0.0)
        assert result.success, failure(result)
        assert stats["faults_injected"] >= 4, stats
        assert differences(history_metadata(result)) == expected
        assert_warehouse_equals_toggl(sim, url)
        assert_checks_pass(url)
        assert watermark(url, sim.workspace_id) == newest_at(sim)


QUOTA_WINDOW = 20.0


@pytest.mark.slow
def test_out_of_quota_daily_run_stops_cleanly_and_the_next_heals(pg_socket_dir):
    """Point 2b: Free plan (30 requests a window). The quota runs out in the middle of the repair: the run
    stops with the quota message; every day holds either its old or its new entries (each window replace is
    one transaction), the watermark has not moved; the next tick (allowed to wait for the reset) heals."""
    with Simulator(SimulatorConfig(spec=spec(1304, plan="free"))) as sim, new_database(pg_socket_dir) as url:
        instance = dg.DagsterInstance.ephemeral()
        backfill(definitions(sim, url), instance)
        assert daily_tick(definitions(sim, url), instance).success  # sets the watermark
        mark = watermark(url, sim.workspace_id)
        old = warehouse_entries(url)
        expected = late_edits(sim)

        # Spend the quota so that the run can read everything it compares but repair only two ranges of days.
        sim.set_quota("free", window_seconds=QUOTA_WINDOW)
        reads = 4 + 1 + len(report_spans(START - timedelta(1), TODAY)) + len(report_spans(START, YESTERDAY))
        with requests.Session() as http:  # metadata reads (tasks: 402 on Free, no quota); trailing page; history
            http.auth = (sim.api_token, "api_token")
            for _ in range(30 - reads - 2):
                assert http.get(f"{sim.url}/api/v9/workspaces/{sim.workspace_id}/clients").status_code == 200
        stopped = daily_tick(definitions(sim, url, max_quota_wait_seconds=1), instance)
        assert not stopped.success
        step, message = failure(stopped)
        assert step == HISTORY and re.search(QUOTA_PATTERN, message), (step, message)
        assert watermark(url, sim.workspace_id) == mark  # never past uncommitted work
        truth, ours = by_day(truth_entries(sim)), by_day(warehouse_entries(url))
        before = by_day(old)
        repaired = [day for day in sorted(expected) if ours[day] == truth[day]]
        assert repaired == sorted(expected)[:2]  # two ranges, oldest first, each whole
        assert all(ours[day] == before[day] for day in sorted(expected)[2:])  # the others untouched
        assert all(ours[day] == truth[day] for day in truth if day not in expected)
        assert_checks_pass(url)

        healed = daily_tick(definitions(sim, url, max_quota_wait_seconds=QUOTA_WINDOW + 10), instance)
        assert healed.success, failure(healed)
        assert set(differences(history_metadata(healed))) == set(sorted(expected)[2:])
        assert_warehouse_equals_toggl(sim, url)
        assert_checks_pass(url)
        assert watermark(url, sim.workspace_id) == newest_at(sim)


@pytest.mark.slow
def test_cli_sync_without_dates_repairs_an_edit_200_days_back(pg_socket_dir, tmp_path):
    """Point 4: ``toggl-assets sync`` without dates (a subprocess) runs one schedule tick: after an edit 200
    days back it re-syncs that day, says so, and refreshes the summary of its week."""
    with (
        Simulator(SimulatorConfig(spec=spec(1305))) as sim,
        new_database(pg_socket_dir) as url,
        new_database(pg_socket_dir) as dagster_url,
    ):
        # The first full sync and every week's summary (what `toggl-assets sync --start --end` does), in process.
        defs = definitions(sim, url)
        instance = dg.DagsterInstance.ephemeral()
        backfill(defs, instance)
        summarize_all_weeks(defs, instance)
        day, [entry] = _stopped(sim, back(200), 1)
        projects = [p["id"] for p in sim.truth.projects if p["active"] and p["id"] != entry["project_id"]]
        sim.update_entry(entry["id"], project_id=projects[0])
        assert summary_weeks(url, {week_of(day)}) != truth_weeks(sim, {week_of(day)})  # not synced yet
        sim.reset_stats()
        env = cli_env(tmp_path, url, dagster_url, sim, TOGGL_START_DATE=START.isoformat(), TOGGL_TIMEZONE="UTC")
        result = run_cli("sync", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert "Syncing Toggl as the daily schedule does (UTC)" in out
        assert f"history: {HISTORY_DAYS} synced days compared with Toggl, 1 different, 1 re-synced" in out, out
        assert f"    {day} (workspace {sim.workspace_id}): edited" in out, out
        reported = int(re.search(r"with (\d+) Toggl API requests", out).group(1))
        assert reported == sim.stats()["total"] <= 5 + 1 + history_requests(HISTORY_DAYS) + 1
        assert_warehouse_equals_toggl(sim, url)
        assert summary_weeks(url, {week_of(day)}) == truth_weeks(sim, {week_of(day)})


LOS_ANGELES = Settings(
    timezone="America/Los_Angeles",
    start_date=datetime.now(ZoneInfo("America/Los_Angeles")).date() - timedelta(days=120),
)


@pytest.mark.slow
def test_days_in_another_zone_than_toggls_daily_totals_are_repaired(pg_socket_dir):
    """TOGGL_TIMEZONE America/Los_Angeles while Toggl's daily totals are UTC days (the simulator's choice; the
    reference leaves the zone open). A quiet tick re-syncs nothing, although the oldest synced day's UTC day
    reaches into days never synced; an evening entry (its UTC day is the next day) deleted in Toggl is gone
    after one tick: the differing UTC day re-syncs both local days it overlaps."""
    settings, last = LOS_ANGELES, local_yesterday(LOS_ANGELES)
    config = SimulatorConfig(spec=workspace_spec(1306, 1200, settings.start_date, last, users=3, tasks=0))
    with Simulator(config) as sim, new_database(pg_socket_dir) as url:
        evening = last - timedelta(days=60)  # 19:00 or 20:00 in Los Angeles, 03:00 UTC the next day
        victim = sim.create_entry(start=at_hour(evening + timedelta(days=1), 3), duration_seconds=5400)
        defs = definitions(sim, url, settings)
        instance = dg.DagsterInstance.ephemeral()
        backfill(defs, instance, settings)
        assert victim["id"] in warehouse_entries(url)
        quiet = daily_tick(defs, instance, settings)
        assert quiet.success and history_metadata(quiet)["resynced_days"] == []
        assert history_metadata(quiet)["days_compared"] == (last - settings.start_date).days + 1

        sim.delete_entry(victim["id"])
        result = daily_tick(defs, instance, settings)
        assert result.success
        meta = history_metadata(result)
        assert [r.data["day_zone"] for r in meta["by_workspace"].records] == ["UTC"]  # Toggl's days recognised
        assert evening.isoformat() in meta["resynced_days"], meta["resynced_days"]
        assert victim["id"] not in warehouse_entries(url)
        assert_warehouse_equals_toggl(sim, url, settings, least=1000)
        again = daily_tick(defs, instance, settings)
        assert again.success and history_metadata(again)["resynced_days"] == []


# Issue 13's allowance (2 per 366-day span of synced history) against what the daily run's reconciliation needs.
# It reads the days older than the run's trailing days (these were just read in full): report spans of at most
# 365 days (Toggl's apps refuse more) for the totals, and the same days plus a day of margin on each side (the
# zone of Toggl's dates is unknown) for the last-update read. The trailing week pays for the margins and the
# shorter spans up to five years of history (5 x 366 - 5 <= 5 x 365).
@pytest.mark.parametrize("days", [363, 364, 365, 366, 367, 730, 731, 732, 733, HISTORY_DAYS, 5 * 366])
def test_history_budget_at_span_edges(pg_socket_dir, days):
    """The daily run's order without Dagster: the trailing week re-synced, then the reconciliation over ``days``
    of synced history with nothing changed. It finds nothing, counts every synced day as compared, and sends at
    most 2 requests per 366 days; the trailing week costs it nothing."""
    first = YESTERDAY - timedelta(days=days - 1)
    trailing = YESTERDAY - timedelta(days=6)
    config = SimulatorConfig(spec=workspace_spec(days, days, first, YESTERDAY, users=2, tasks=0))
    with Simulator(config) as sim, new_database(pg_socket_dir) as url, connect(url, autocommit=True) as conn:
        migrate(conn)
        with TogglClient(sim.api_token, sim.url, requests_per_second=0) as client:
            sync_windows(client, conn, [sim.workspace_id], Window(at_hour(first, 0), at_hour(TODAY, 0), "UTC"))
            run_start = datetime.now(UTC)
            sync_windows(client, conn, [sim.workspace_id], Window(at_hour(trailing, 0), at_hour(TODAY, 0), "UTC"))
            check = reconcile_workspace(client, conn, sim.workspace_id, timezone="UTC", fresh_since=run_start)
        assert check.days_compared == days and check.days_just_synced == 7 and not check.differences
        assert check.api_requests <= history_requests(days), check.api_requests


def test_days_synced_by_an_earlier_run_are_checked(pg_socket_dir):
    """Only the days synced by this run count as read in full: an edit made after an earlier sync of a day is
    found, and a reconciliation without a run start compares every day by the signals."""
    first = YESTERDAY - timedelta(days=39)
    config = SimulatorConfig(spec=workspace_spec(40, 200, first, YESTERDAY, users=2, tasks=0))
    with Simulator(config) as sim, new_database(pg_socket_dir) as url, connect(url, autocommit=True) as conn:
        migrate(conn)
        with TogglClient(sim.api_token, sim.url, requests_per_second=0) as client:
            sync_windows(client, conn, [sim.workspace_id], Window(at_hour(first, 0), at_hour(TODAY, 0), "UTC"))
            day, [victim] = _stopped(sim, YESTERDAY - timedelta(days=20), 1)
            sim.update_entry(victim["id"], description="fixed after the earlier sync")
            run_start = datetime.now(UTC)
            check = reconcile_workspace(client, conn, sim.workspace_id, timezone="UTC", fresh_since=run_start)
        assert check.days_just_synced == 0 and check.days_compared == 40
        assert check.resynced_days == [day]
