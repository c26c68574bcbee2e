"""Guarantee 1: a flaky Toggl (>= 20 % of requests fail: 5xx, 429, dropped connections, slow answers,
truncated bodies, malformed JSON) changes how long a sync takes, never what it stores."""

from __future__ import annotations

from datetime import date

import pytest

from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets.simulator.config import FAULT_KINDS
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import assert_checks_pass, new_database, run_sync, table_contents


def _faulty_equals_fault_free(sim: Simulator, pg_socket_dir: str, first: date, last: date, rate: float) -> None:
    with new_database(pg_socket_dir) as clean_url, new_database(pg_socket_dir) as faulty_url:
        clean = run_sync(sim, clean_url, first, last, start_date=first, page_size=50)
        assert clean.success
        sim.reset_stats()
        sim.set_faults(rate=rate, kinds=FAULT_KINDS, seed=20240101)
        try:
            faulty = run_sync(sim, faulty_url, first, last, start_date=first, page_size=50)
        finally:
            sim.set_faults(rate=0.0)
        stats = sim.stats()
        assert faulty.success
        assert stats["faults_injected"] / stats["total"] >= 0.2, stats
        expected = table_contents(clean_url)
        assert expected["toggl_entries"], "the fault-free run loaded nothing"
        assert table_contents(faulty_url) == expected  # every raw table, row for row, column for column
        assert all(check.passed for check in faulty.get_asset_check_evaluations())
        assert_checks_pass(faulty_url)


def test_faults_change_nothing_in_a_two_month_sync(pg_socket_dir):
    spec = workspace_spec(21, 400, date(2024, 1, 1), date(2024, 2, 29), tags=5)
    with Simulator(SimulatorConfig(spec=spec, slow_seconds=0.2)) as sim:
        _faulty_equals_fault_free(sim, pg_socket_dir, spec.start, spec.end, rate=0.3)


@pytest.mark.slow
def test_faults_change_nothing_in_a_one_year_backfill(pg_socket_dir):
    spec = workspace_spec(
        22, 4000, date(2023, 1, 1), date(2023, 12, 31), users=6, clients=4, projects=12, tags=10, tasks=20
    )
    with Simulator(SimulatorConfig(spec=spec, slow_seconds=0.3)) as sim:
        _faulty_equals_fault_free(sim, pg_socket_dir, spec.start, spec.end, rate=0.25)
