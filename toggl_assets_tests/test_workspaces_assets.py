"""Several workspaces end to end: the real Dagster jobs, the simulator over HTTP, real PostgreSQL (issue 12).

Two workspaces A and B in different organizations, both with the generator's edge cases (a member shared by A
and B, a deleted project still referenced, archived clients, a deactivated user...).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import psycopg
import pytest
import requests
from psycopg import sql

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import DAILY_JOB, RANGE_END, RANGE_START, SYNC_JOB, WEEKLY_JOB
from toggl_assets.orchestration.schedules import daily_run_request
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets.warehouse.weekly import weekly_report
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import make_resources, new_database

START, END = date(2024, 1, 1), date(2024, 1, 31)  # the generated entries
SYNCED = date(2024, 1, 21)  # the first sync covers START..SYNCED (three weeks from a Monday)
WEEKS = (date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15))
PAGE = 50  # the client's page size: several report pages per workspace
SPEC_A = workspace_spec(41, 320, START, END)
SPEC_B = workspace_spec(42, 260, START, END, organization=2, name="Second")
# Columns that record when a sync ran (not what Toggl holds): they legitimately differ between two syncs.
SYNC_TIME_COLUMNS = {"synced_at", "rebuilt_at", "reconciled_at", "refreshed_at", "applied_at"}


def two_workspaces(**config: Any) -> Simulator:
    return Simulator(SimulatorConfig(spec=SPEC_A, more_workspaces=(SPEC_B,), **config))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A simulator of A and B that a test may change."""
    with two_workspaces() as simulator:
        yield simulator


def ids(sim: Simulator, *which: int) -> str:
    return ",".join(str(sim.workspace_ids[i]) for i in which)


def run_job(
    sim: Simulator,
    url: str,
    job: str,
    first: date | str,
    last: date | str,
    *,
    workspace_ids: str,
    timezone: str = "UTC",
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of ``job`` over the partitions first..last, like the schedule and ``toggl-assets sync``."""
    settings = Settings(timezone=timezone, start_date=START)
    resources = make_resources(sim, url, workspace_ids=workspace_ids, page_size=PAGE)
    job_def = build_definitions(settings, resources).resolve_job_def(job)
    return job_def.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RANGE_START: str(first), RANGE_END: str(last)},
        raise_on_error=False,
    )


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        event.step_key: event.event_specific_data.error.message for event in result.all_events if event.is_step_failure
    }


def _tables(conn: psycopg.Connection) -> list[tuple[str, str, list[str]]]:
    """(schema, table, columns) of every table of the warehouse but the migrations' bookkeeping."""
    rows = conn.execute(
        "SELECT table_schema, table_name, array_agg(column_name::text ORDER BY ordinal_position)"
        " FROM information_schema.columns WHERE table_schema IN ('raw', 'analytics')"
        " AND table_name <> 'schema_migrations' GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    return [(schema, table, list(columns)) for schema, table, columns in rows]


def warehouse_rows(url: str, *, sync_times: bool = True, workspace_id: int | None = None) -> dict[str, list[Any]]:
    """Every row of every table (``workspace_id``: only that workspace's rows, its workspace row included),
    sorted. Without ``sync_times``, the columns recording when a sync ran are left out, and so is a placeholder
    row's ``created_at`` (the time it was created: Toggl's is unknown)."""
    out: dict[str, list[Any]] = {}
    with psycopg.connect(url) as conn:
        for schema, table, columns in _tables(conn):
            selected = []
            for name in columns:
                if not sync_times and name in SYNC_TIME_COLUMNS:
                    continue
                if not sync_times and name == "created_at" and "is_placeholder" in columns:
                    selected.append(sql.SQL("CASE WHEN is_placeholder THEN NULL ELSE created_at END"))
                else:
                    selected.append(sql.Identifier(name))
            query = sql.SQL("SELECT {} FROM {}.{}").format(
                sql.SQL(", ").join(selected), sql.Identifier(schema), sql.Identifier(table)
            )
            params: tuple[Any, ...] = ()
            if workspace_id is not None:
                key = "id" if table == "toggl_workspaces" else "workspace_id"
                if key not in columns:
                    continue
                query += sql.SQL(" WHERE {} = %s").format(sql.Identifier(key))
                params = (workspace_id,)
            out[f"{schema}.{table}"] = sorted(conn.execute(query, params).fetchall(), key=repr)
    return out


def stored_entries(url: str, workspace_id: int) -> dict[int, tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            'SELECT id, description, start, "end", project_id, user_id FROM raw.toggl_entries WHERE workspace_id = %s',
            (workspace_id,),
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def truth_entries(sim: Simulator, workspace_id: int, first: date, last: date) -> dict[int, tuple[Any, ...]]:
    """The stopped entries of a workspace with start on UTC days first..last, shaped like ``stored_entries``."""
    out = {}
    for e in sim.truth.entries_between(first, last, workspace_id):
        if e["stop"] is None:
            continue
        start, stop = datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["stop"])
        out[e["id"]] = (e["description"], start, stop, e["project_id"], e["user_id"])
    return out


class Synced:
    """One simulator (never changed) and two warehouses: A and B synced in one run, and A then B separately;
    both then got the weekly summaries of WEEKS."""

    def __init__(self, sim: Simulator, together: str, separate: str) -> None:
        self.sim, self.together, self.separate = sim, together, separate


def run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    """The run-wide figures of the entries step (recorded on the range's last partition)."""
    [metadata] = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if "rows_fetched" in e.materialization.metadata
    ]
    return metadata


@pytest.fixture(scope="module")
def synced(pg_socket_dir: str) -> Iterator[Synced]:
    with two_workspaces() as sim, new_database(pg_socket_dir) as together, new_database(pg_socket_dir) as separate:
        both = run_job(sim, together, SYNC_JOB, START, SYNCED, workspace_ids=ids(sim, 0, 1))
        one = run_job(sim, separate, SYNC_JOB, START, SYNCED, workspace_ids=ids(sim, 0))
        other = run_job(sim, separate, SYNC_JOB, START, SYNCED, workspace_ids=ids(sim, 1))
        assert both.success and one.success and other.success
        # Each workspace reports the rows of its own pages, though they share one staging table.
        fetched = [run_metadata(r)["rows_fetched"].value for r in (both, one, other)]
        assert fetched[0] == fetched[1] + fetched[2] and fetched[1] > 0 and fetched[2] > 0
        for url in (together, separate):
            assert run_job(sim, url, WEEKLY_JOB, WEEKS[0], WEEKS[-1], workspace_ids=ids(sim, 0, 1)).success
        yield Synced(sim, together, separate)


def test_two_workspaces_in_one_run_equal_two_separate_runs(synced):
    sim = synced.sim
    wa, wb = sim.workspace_ids
    combined = warehouse_rows(synced.together, sync_times=False)
    assert combined == warehouse_rows(synced.separate, sync_times=False)
    # Not vacuously: both workspaces are there, with every entry of the range, each in its own workspace.
    for wid in (wa, wb):
        assert stored_entries(synced.together, wid) == truth_entries(sim, wid, START, SYNCED) != {}
    assert {row[0] for row in combined["raw.toggl_workspaces"]} == {wa, wb}
    for table in ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks"):
        assert {row[1] for row in combined[f"raw.{table}"]} == {wa, wb}, table
    assert len(combined["raw.toggl_synced_days"]) == 2 * ((SYNCED - START).days + 1)
    assert len(combined["analytics.toggl_weekly_summary"]) > 0


def expected_week(sim: Simulator, workspace_id: int, week: date) -> dict[str, Any]:
    """The weekly report's figures of one workspace and week (UTC days), from the simulator's own truth:
    milliseconds per (project, user) and day, billable milliseconds, and earnings per currency (cents)."""
    lines: dict[tuple[int | None, int], list[int | None]] = defaultdict(lambda: [None] * 8)
    billable = 0
    earnings: dict[str, int] = defaultdict(int)
    for e in sim.truth.entries_between(week, week + timedelta(days=6), workspace_id):
        if e["stop"] is None:  # running entries are not in the weekly report
            continue
        ms = e["duration"] * 1000
        day = (datetime.fromisoformat(e["start"]).astimezone(UTC).date() - week).days
        line = lines[(e["project_id"], e["user_id"])]
        for i in (day, 7):
            line[i] = (line[i] or 0) + ms
        rate, currency = sim.truth.report_rate(e["id"])
        earnings[currency] += 0
        if e["billable"]:
            billable += ms
            if rate is not None:  # Reports v3: round_half_up(seconds / 3600 * rate)
                earnings[currency] += (e["duration"] * rate * 2 + 3600) // 7200
    return {"lines": dict(lines), "billable": billable, "earnings": dict(earnings)}


def simulator_totals(sim: Simulator, workspace_id: int, week: date) -> dict[str, Any]:
    """The simulator's Reports v3 totals of the week, per UTC day (its own reading of the API, over HTTP)."""
    reply = requests.post(
        f"{sim.url}/reports/api/v3/workspace/{workspace_id}/search/time_entries/totals",
        json={
            "start_date": week.isoformat(),
            "end_date": (week + timedelta(days=6)).isoformat(),
            "granularity": "day",
            "with_graph": True,
        },
        auth=(sim.api_token, "api_token"),
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_weekly_report_and_summary_of_each_workspace_are_exact(synced):
    sim = synced.sim
    with psycopg.connect(synced.together) as conn:
        for wid in sim.workspace_ids:
            for week in WEEKS:
                expected = expected_week(sim, wid, week)
                report = weekly_report(conn, wid, week, "UTC")
                lines = {
                    (row["pid"], detail["uid"]): detail["totals"] for row in report["data"] for detail in row["details"]
                }
                assert lines == expected["lines"] != {}, (wid, week)
                day_sums = [sum(line[i] or 0 for line in lines.values()) for i in range(8)]
                assert [v or 0 for v in report["week_totals"]] == day_sums
                assert report["total_grand"] == day_sums[7]
                assert (report["total_billable"] or 0) == expected["billable"]
                money = weekly_report(conn, wid, week, "UTC", calculate="earnings")["week_totals"]
                cents = {total["currency"]: round(total["amount"][7] * 100) for total in money}
                assert cents == expected["earnings"], (wid, week)
                # The simulator's own totals endpoint agrees, day by day.
                totals = simulator_totals(sim, wid, week)
                assert [bucket["seconds"] * 1000 for bucket in totals["graph"]] == [
                    v or 0 for v in report["week_totals"][:7]
                ]
                assert totals["billable_amount_in_cents"] == sum(cents.values())
            # The stored summary (toggl_weekly_summary asset): per-workspace rows with the same totals.
            stored = conn.execute(
                "SELECT week_start, project_id, user_id, sum(total_ms), sum(billable_ms), sum(earnings)"
                " FROM analytics.toggl_weekly_summary WHERE workspace_id = %s GROUP BY 1, 2, 3",
                (wid,),
            ).fetchall()
            for week in WEEKS:
                expected = expected_week(sim, wid, week)
                rows = {(pid, uid): total for w, pid, uid, total, _, _ in stored if w == week}
                assert rows == {key: line[7] for key, line in expected["lines"].items()}, (wid, week)
                assert sum(r[4] or 0 for r in stored if r[0] == week) == expected["billable"]
                assert round(sum(r[5] or 0 for r in stored if r[0] == week) * 100) == sum(expected["earnings"].values())
        weeks = conn.execute(
            "SELECT week_start, array_agg(DISTINCT workspace_id ORDER BY workspace_id)"
            " FROM analytics.toggl_weekly_summary GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert weeks == [(week, sorted(sim.workspace_ids)) for week in WEEKS]


def day_entry_ids(sim: Simulator, workspace_id: int, day: date) -> list[int]:
    return sorted(truth_entries(sim, workspace_id, day, day))


def daily_tags(timezone: str, now: datetime) -> tuple[str, str]:
    """The range of the daily schedule's run at ``now``."""
    request = daily_run_request(Settings(timezone=timezone, start_date=START), now)
    assert isinstance(request, dg.RunRequest)
    return request.tags[RANGE_START], request.tags[RANGE_END]


def history_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [metadata] = [
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("toggl_history")
    ]
    return metadata


def test_syncing_b_alone_changes_no_row_of_a(sim, warehouse_url):
    wa, wb = sim.workspace_ids
    assert run_job(sim, warehouse_url, SYNC_JOB, START, SYNCED, workspace_ids=ids(sim, 0, 1)).success
    rows_of_a = warehouse_rows(warehouse_url, workspace_id=wa)  # every column, synced_at included
    b_before = stored_entries(warehouse_url, wb)
    # A changes in Toggl too: a sync of B alone must not pick that up either.
    changed_in_a = day_entry_ids(sim, wa, date(2024, 1, 10))[0]
    sim.update_entry(changed_in_a, description="edited in A")
    # B: edits, deletions, additions (one by the member B shares with A), a move to another day.
    edited, deleted = day_entry_ids(sim, wb, date(2024, 1, 4))[:2]
    sim.update_entry(edited, description="edited in B")
    sim.delete_entry(deleted)
    moved = day_entry_ids(sim, wb, date(2024, 1, 12))[0]
    sim.update_entry(moved, start=datetime(2024, 1, 3, 7, 30, tzinfo=UTC))
    members = [{u["uid"] for u in sim.truth.for_workspace(wid).users} for wid in (wa, wb)]
    shared = min(set.intersection(*members) - {sim.truth.users[0]["uid"]})  # not the token's user
    # raw.toggl_users has one row per user: the member A and B share is A's row (A was written first), and
    # B's syncs must leave it alone even though B lists that member too.
    assert shared in {row[0] for row in rows_of_a["raw.toggl_users"]}
    added = sim.create_entry(
        user_id=shared,
        start=datetime(2024, 1, 11, 9, tzinfo=UTC),
        duration_seconds=2700,
        description="added in B by the shared member",
        project_id=sim.truth.for_workspace(wb).projects[0]["id"],
        workspace_id=wb,
    )
    sim.apply_daily_edits(date(2024, 1, 16), edits=4, deletions=2, additions=2, seed=5, workspace_id=wb)
    # B alone: a window, then B's daily run (trailing days overlapping that window, and the reconciliation of all
    # of B's history, which finds the old days changed outside any window: 2024-01-03, 2024-01-04).
    runs = [
        (SYNC_JOB, date(2024, 1, 10), date(2024, 1, 18)),
        (DAILY_JOB, *daily_tags("UTC", datetime(2024, 1, 22, 3, tzinfo=UTC))),  # 2024-01-15 .. 2024-01-21
    ]
    for job, first, last in runs:
        result = run_job(sim, warehouse_url, job, first, last, workspace_ids=ids(sim, 1))
        assert result.success, step_failures(result)
        assert warehouse_rows(warehouse_url, workspace_id=wa) == rows_of_a, (job, first, last)
    assert history_metadata(result)["resynced_days"].value == ["2024-01-03", "2024-01-04"]
    # B did change, to exactly Toggl's entries; A's edit is still not in the warehouse.
    b_after = stored_entries(warehouse_url, wb)
    assert b_after == truth_entries(sim, wb, START, SYNCED) != b_before
    assert b_after[edited][0] == "edited in B" and deleted not in b_after and b_after[added["id"]][-1] == shared
    assert b_after[moved][1].date() == date(2024, 1, 3)
    assert stored_entries(warehouse_url, wa)[changed_in_a][0] != "edited in A"


def test_a_workspace_answering_403_fails_the_run_cleanly_and_changes_nothing(sim, warehouse_url):
    wa, wb = sim.workspace_ids
    first, last = START, date(2024, 1, 14)
    assert run_job(sim, warehouse_url, SYNC_JOB, first, last, workspace_ids=ids(sim, 0, 1)).success
    before = warehouse_rows(warehouse_url)  # every column of every table, synced_at included
    # Both workspaces change in Toggl (A's metadata too: a new tag), then the token's user loses B.
    changed_in_a = day_entry_ids(sim, wa, date(2024, 1, 9))[0]
    sim.update_entry(changed_in_a, description="edited in A", tags=["new tag in A"])
    sim.delete_entry(day_entry_ids(sim, wb, date(2024, 1, 9))[0])
    sim.remove_membership(wb)
    result = run_job(sim, warehouse_url, SYNC_JOB, first, last, workspace_ids=ids(sim, 0, 1))
    assert not result.success
    failures = step_failures(result)
    assert failures, "the run failed without a step failure"
    for step, message in failures.items():
        text = message.strip()
        assert "\n" not in text, (step, message)  # one line
        assert f"workspace {wb}" in text and "TOGGL_WORKSPACE_ID" in text, (step, message)
        assert "Traceback" not in text
    # Nothing was written: not the other, still readable workspace A (whose edit waits for the next good run)
    # and not the entries (the step never ran).
    assert warehouse_rows(warehouse_url) == before
    written = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert written <= {"toggl_workspaces"}, written  # its rows were fresh: it did not read Toggl at all
    assert "toggl_entries" not in {s.step_key for s in result.get_step_success_events()}
    assert stored_entries(warehouse_url, wa)[changed_in_a][0] != "edited in A"
    assert "new tag in A" in {t["name"] for t in sim.truth.for_workspace(wa).tags}
    assert "new tag in A" not in {row[2] for row in before["raw.toggl_tags"]}


def pages(rows: int, per_page: int) -> int:
    """Requests to read ``rows`` rows when a short page ends the list (an empty one if the last page is full)."""
    return rows // per_page + 1


def report_pages(sim: Simulator, workspace_id: int, first: date, last: date) -> int:
    """Detailed-report requests of a window: its days and a day of margin on each side, at least one page."""
    rows = len(truth_entries(sim, workspace_id, first - timedelta(days=1), last + timedelta(days=1)))
    return max(1, math.ceil(rows / PAGE))


def metadata_requests(sim: Simulator, workspace_id: int) -> int:
    """clients, tags and workspace_users (one request each), projects and tasks (200 per page)."""
    truth = sim.truth.for_workspace(workspace_id)
    return 3 + pages(len(truth.projects), 200) + pages(len(truth.tasks), 200)


def quota_left(sim: Simulator) -> dict[str | None, int]:
    """Requests left per organization, and (None) on the token user's own bucket."""
    quota = sim.stats()["quota"]
    return {None: quota["user_remaining"], **{org: q["remaining"] for org, q in quota["organizations"].items()}}


def spent(before: dict[str | None, int], after: dict[str | None, int]) -> dict[str | None, int]:
    return {bucket: before[bucket] - after[bucket] for bucket in before}


def test_request_counts_of_a_first_sync_and_the_next_daily_run_follow_the_design(warehouse_url):
    with two_workspaces(quota_plan="enterprise") as sim:
        wa, wb = sim.workspace_ids
        org = {wid: str(sim.organization_of(wid)) for wid in (wa, wb)}
        assert org[wa] != org[wb]  # so the simulator counts each workspace's requests in its own bucket
        instance = dg.DagsterInstance.ephemeral()

        # First sync of both workspaces (START..SYNCED): /me/workspaces once for the run (the workspace rows),
        # then per workspace its metadata endpoints and the pages of its detailed report. Nothing else.
        sim.reset_stats()
        quota = quota_left(sim)
        run = run_job(sim, warehouse_url, SYNC_JOB, START, SYNCED, workspace_ids=ids(sim, 0, 1), instance=instance)
        assert run.success
        first = {wid: metadata_requests(sim, wid) + report_pages(sim, wid, START, SYNCED) for wid in (wa, wb)}
        assert spent(quota, quota_left(sim)) == {None: 1, org[wa]: first[wa], org[wb]: first[wb]}
        stats = sim.stats()
        assert stats["total"] == 1 + first[wa] + first[wb]
        assert stats["by_endpoint"]["GET /api/v9/me/workspaces"] == 1
        assert stats["by_endpoint"]["POST /reports/api/v3/workspace/{wid}/search/time_entries"] == sum(
            report_pages(sim, wid, START, SYNCED) for wid in (wa, wb)
        )
        first_sync = stats["total"]

        # Late changes in Toggl: A loses an entry of an old day and gets an edit in the trailing days; B gets an
        # edit on an old day and a new entry in the trailing days.
        sim.delete_entry(day_entry_ids(sim, wa, date(2024, 1, 5))[0])
        sim.update_entry(day_entry_ids(sim, wa, date(2024, 1, 19))[0], description="edited in A")
        sim.update_entry(day_entry_ids(sim, wb, date(2024, 1, 9))[0], description="edited in B")
        sim.create_entry(start=datetime(2024, 1, 22, 10, tzinfo=UTC), duration_seconds=900, workspace_id=wb)
        updated = {wa: 1, wb: 2}  # entries whose last update is after the first sync (deletions never show)
        resynced = {wa: date(2024, 1, 5), wb: date(2024, 1, 9)}  # old days that differ; the rest is trailing

        # The daily run of the next days: no /me (the workspace rows are fresh), per workspace its metadata,
        # the trailing days' report pages, the history check (updated entries newest first until an older one:
        # one page here; the daily totals: one request per year) and the pages of each re-synced day.
        range_start, range_end = daily_tags("UTC", datetime(2024, 1, 25, 3, tzinfo=UTC))
        assert (range_start, range_end) == ("2024-01-18", "2024-01-24")  # 7 days up to yesterday
        trailing = (date.fromisoformat(range_start), date.fromisoformat(range_end))
        sim.reset_stats()
        quota = quota_left(sim)
        daily = run_job(
            sim, warehouse_url, DAILY_JOB, range_start, range_end, workspace_ids=ids(sim, 0, 1), instance=instance
        )
        assert daily.success, step_failures(daily)
        budget = {
            wid: metadata_requests(sim, wid)
            + report_pages(sim, wid, *trailing)
            + pages(updated[wid], PAGE)
            + 1
            + report_pages(sim, wid, resynced[wid], resynced[wid])
            for wid in (wa, wb)
        }
        assert spent(quota, quota_left(sim)) == {None: 0, org[wa]: budget[wa], org[wb]: budget[wb]}
        daily_run = sim.stats()["total"]
        assert daily_run == budget[wa] + budget[wb]
        assert history_metadata(daily)["resynced_days"].value == sorted(day.isoformat() for day in resynced.values())
        for wid in (wa, wb):
            assert stored_entries(warehouse_url, wid) == truth_entries(sim, wid, START, trailing[1])
    print(f"\nrequests: first sync {first_sync} ({first}), daily run {daily_run} ({budget})")
