"""Guarantee 2: on a Free-plan quota (30 requests per window) a sync that needs more requests either waits
for the reset (when it comes within ``max_quota_wait_seconds``) and finishes, or stops with a message that
names the requests used and when to retry. Either way no window is half-written, and the next run completes.

The window is shrunk from an hour to a few seconds; everything else is the Free plan as the simulator knows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import psycopg
import pytest

from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    assert_checks_pass,
    cli_env,
    new_database,
    run_cli,
    run_sync,
    table_contents,
)

START, END = date(2024, 1, 1), date(2024, 2, 29)
WINDOW = 3.0
# Longer than a sync takes even on a busy machine, for tests where the quota must run out rather than reset.
LONG_WINDOW = 30.0
PAGE = 10  # ~30 report pages + 4 metadata requests: more than one Free-plan window


@pytest.fixture
def sim() -> Iterator[Simulator]:
    spec = workspace_spec(41, 300, START, END, projects=4, tasks=0, plan="free")
    with Simulator(SimulatorConfig(spec=spec)) as simulator:
        yield simulator


def _edit(sim: Simulator) -> None:
    ids = sorted(e["id"] for e in sim.truth.entries_between(START, END) if e["stop"] is not None)
    for entry_id in ids[::40]:
        sim.update_entry(entry_id, description=f"edited while the quota is short {entry_id}")
    sim.delete_entry(ids[7])


def test_a_sync_needing_more_than_the_quota_waits_for_the_reset_and_finishes(sim, pg_socket_dir):
    with new_database(pg_socket_dir) as url, new_database(pg_socket_dir) as unlimited:
        sim.set_quota("free", window_seconds=WINDOW)
        result = run_sync(sim, url, START, END, start_date=START, page_size=PAGE, max_quota_wait_seconds=30)
        assert result.success
        sim.set_quota(None)
        requests = sum(  # run-wide figures sit on one partition of a range, so this counts each request once
            int(event.materialization.metadata["api_requests"].value)
            for event in result.get_asset_materialization_events()
            if "api_requests" in event.materialization.metadata
        )
        assert requests > 30  # it really needed more than one window
        assert run_sync(sim, unlimited, START, END, start_date=START, page_size=PAGE).success
        assert table_contents(url) == table_contents(unlimited)
        assert_checks_pass(url)


@pytest.mark.slow
def test_a_sync_beyond_the_allowed_wait_stops_clearly_writes_no_window_and_the_next_run_completes(sim, pg_socket_dir):
    with new_database(pg_socket_dir) as url, new_database(pg_socket_dir) as reference_url:
        assert run_sync(sim, url, START, END, start_date=START, page_size=PAGE).success
        before = table_contents(url)
        _edit(sim)
        assert run_sync(sim, reference_url, START, END, start_date=START, page_size=PAGE).success
        expected = table_contents(reference_url)

        sim.set_quota("free", window_seconds=LONG_WINDOW)
        stopped = run_sync(sim, url, START, END, start_date=START, page_size=PAGE, max_quota_wait_seconds=1)
        assert not stopped.success
        message = next(e.event_specific_data.error.message for e in stopped.all_events if e.is_step_failure)
        assert re.search(r"quota exhausted on POST \S+search/time_entries after \d+ request\(s\)", message), message
        assert re.search(r"retry after \d\d:\d\d UTC", message), message
        assert table_contents(url) == before  # the entries window was not touched
        assert_checks_pass(url)

        # The next run (still on the Free plan) waits for the reset and completes the work.
        healed = run_sync(
            sim, url, START, END, start_date=START, page_size=PAGE, max_quota_wait_seconds=2 * LONG_WINDOW
        )
        assert healed.success
        assert table_contents(url) == expected
        assert_checks_pass(url)


@pytest.mark.slow
def test_cli_sync_out_of_quota_prints_one_line_naming_requests_and_retry_time(sim, pg_socket_dir, tmp_path):
    with new_database(pg_socket_dir) as url, new_database(pg_socket_dir) as dagster_url:
        env = cli_env(
            tmp_path,
            url,
            dagster_url,
            sim,
            TOGGL_PAGE_SIZE=str(PAGE),
            TOGGL_START_DATE=START.isoformat(),
            TOGGL_MAX_QUOTA_WAIT_SECONDS="1",
        )
        # A window longer than the command takes even on a busy machine: the quota must run out, not reset.
        sim.set_quota("free", window_seconds=LONG_WINDOW)
        result = run_cli(
            "sync", "--start", START.isoformat(), "--end", END.isoformat(), "--quiet", env=env, cwd=tmp_path
        )
        assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert re.search(r"quota exhausted .* after \d+ request\(s\) .*retry after \d\d:\d\d UTC", errors[0]), errors
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM raw.toggl_entries").fetchone() == (0,)
        env["TOGGL_MAX_QUOTA_WAIT_SECONDS"] = str(2 * LONG_WINDOW)  # the next run waits for the reset, then heals
        result = run_cli(
            "sync", "--start", START.isoformat(), "--end", END.isoformat(), "--quiet", env=env, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert_checks_pass(url)
