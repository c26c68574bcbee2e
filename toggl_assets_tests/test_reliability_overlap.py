"""Guarantee 4: the daily schedule's run and a backfill over the same days, started at the same moment
(two threads, each with its own Dagster instance and its own database connections, so Dagster's pool does
not serialize them), both succeed: no duplicate rows, no deadlock or serialization failure, and the result
is what one sync of the whole range stores. Merges take an advisory lock, so they queue.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import pytest

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import RANGE_END, RANGE_START
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    assert_checks_pass,
    make_resources,
    new_database,
    run_sync,
    table_contents,
)

START, END = date(2024, 1, 1), date(2024, 2, 29)


def _schedule_range(settings: Settings, resources: dict[str, Any], when: datetime) -> tuple[date, date]:
    """The days the real `toggl_daily_sync` schedule asks for at ``when``."""
    defs = build_definitions(settings, resources)
    schedule = defs.resolve_schedule_def("toggl_daily_sync")
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    return date.fromisoformat(request.tags[RANGE_START]), date.fromisoformat(request.tags[RANGE_END])


def _race(sim: Simulator, url: str, ranges: list[tuple[date, date]]) -> list[Any]:
    barrier = threading.Barrier(len(ranges))
    results: list[Any] = [None] * len(ranges)

    def sync(index: int, first: date, last: date) -> None:
        barrier.wait()
        try:  # an instance per thread, created and closed in it (its in-memory SQLite is thread-bound)
            with dg.DagsterInstance.ephemeral() as instance:
                results[index] = run_sync(sim, url, first, last, start_date=START, page_size=40, instance=instance)
        except BaseException as error:  # reported by the assertion below
            results[index] = error

    threads = [threading.Thread(target=sync, args=(i, *r)) for i, r in enumerate(ranges)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


@pytest.mark.parametrize("rounds", [3])
def test_schedule_run_and_backfill_started_together_leave_no_duplicates(pg_socket_dir, rounds):
    spec = workspace_spec(51, 1200, START, END, users=4, clients=3, projects=6, tags=5, tasks=8)
    settings = Settings(start_date=START)
    backfill = (date(2024, 2, 1), date(2024, 2, 29))
    with Simulator(SimulatorConfig(spec=spec)) as sim, new_database(pg_socket_dir) as url:
        daily = _schedule_range(settings, make_resources(sim, url), datetime(2024, 2, 28, 2, 0, tzinfo=UTC))
        assert daily == (date(2024, 2, 21), date(2024, 2, 27))
        for round_number in range(rounds):
            if round_number:  # edits in the overlapping days between rounds: updates and deletes race too
                ids = sorted(e["id"] for e in sim.truth.entries_between(*daily) if e["stop"] is not None)
                for entry_id in ids[round_number::9]:
                    sim.update_entry(entry_id, description=f"round {round_number} {entry_id}")
                sim.delete_entry(ids[round_number])
            results = _race(sim, url, [daily, backfill, daily])  # the daily run started twice, too
            for result in results:
                assert isinstance(result, dg.ExecuteInProcessResult), result
                assert result.success, [
                    e.event_specific_data.error.message for e in result.all_events if e.is_step_failure
                ]
            assert_checks_pass(url)  # includes: no id twice in any raw table
        with new_database(pg_socket_dir) as reference:
            assert run_sync(sim, reference, *backfill, start_date=START).success
            assert table_contents(url) == table_contents(reference)
