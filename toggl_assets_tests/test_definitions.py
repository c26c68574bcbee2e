"""The code location loads, validates, and wires partitions, schedule, sensor and pools as documented."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import RANGE_END, RANGE_START
from toggl_assets.orchestration.partitions import build_partitions
from toggl_assets.orchestration.schedules import trailing_range
from toggl_assets.settings import Settings

SETTINGS = Settings(timezone="Europe/Berlin", start_date=date(2024, 1, 1), trailing_days=7)


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions(SETTINGS)


def test_dagster_definitions_validate_passes(tmp_path):
    # Without TOGGL_* variables (no token, no database): loading must not need secrets or a server.
    # Run outside the repo so Dagster uses a temporary instance instead of ./dagster.yaml.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "toggl_assets.definitions"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_loading_the_definitions_leaves_pandas_to_the_weekly_step(tmp_path):
    """pandas is a quarter of a second of every process that loads the definitions (the code server, each run
    worker); only the weekly step's pivot uses it, and imports it then."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
    probe = "import sys, toggl_assets.definitions; print('pandas' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def clean_checkout(destination: Path) -> Path:
    """The project's tracked files (as they are in the working tree) under ``destination``: what a fresh clone
    holds, without .env, .venv or .toggl_assets."""
    root = Path(__file__).resolve().parent.parent
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = root / name
        if source.is_file():  # a tracked file deleted in the working tree is not copied
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.mark.slow
def test_dg_check_defs_and_definitions_validate_pass_in_a_clean_checkout(tmp_path):
    # The project root of a fresh clone, nothing configured: no TOGGL_* or DAGSTER_* variable, no .env. Both
    # commands read its dagster.yaml, so the zero-setup storage (the embedded server under .toggl_assets) is used.
    checkout = clean_checkout(tmp_path / "checkout")
    assert not (checkout / ".env").exists() and not (checkout / ".toggl_assets").exists()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
    env["PYTHONPATH"] = str(checkout)  # the checkout's package, as `pip install -e .` in it would give
    bin_dir = Path(sys.executable).parent
    dg = subprocess.run(
        [str(bin_dir / "dg"), "check", "defs"], capture_output=True, text=True, env=env, timeout=300, cwd=checkout
    )
    assert dg.returncode == 0, dg.stdout + dg.stderr
    assert "All definitions loaded successfully." in dg.stdout
    validate = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=checkout,
    )
    output = validate.stdout + validate.stderr
    assert validate.returncode == 0, output
    assert "Validation successful for code location toggl_assets." in output  # [tool.dagster] in pyproject.toml
    assert (checkout / ".toggl_assets" / "pgdata").is_dir()  # dagster.yaml's storage, started on demand


def test_assets_and_fk_dependencies(defs):
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "toggl_workspaces",
        "toggl_history",
        "toggl_clients",
        "toggl_projects",
        "toggl_tags",
        "toggl_users",
        "toggl_tasks",
        "toggl_entries",
        "toggl_weekly_summary",
    }
    parents = lambda name: {k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys}  # noqa: E731
    assert parents("toggl_workspaces") == set()  # first in the foreign-key load order
    assert parents("toggl_clients") == {"toggl_workspaces"}
    assert parents("toggl_projects") == {"toggl_workspaces", "toggl_clients"}
    assert parents("toggl_tasks") == {"toggl_workspaces", "toggl_projects", "toggl_users"}
    assert parents("toggl_entries") == {
        "toggl_workspaces",
        "toggl_clients",
        "toggl_projects",
        "toggl_tags",
        "toggl_users",
        "toggl_tasks",
    }
    assert parents("toggl_weekly_summary") == {"toggl_entries"}


def test_every_toggl_step_is_in_the_toggl_api_pool(defs):
    for name in (
        "toggl_clients",
        "toggl_projects",
        "toggl_tags",
        "toggl_users",
        "toggl_tasks",
        "toggl_entries",
    ):
        assert defs.resolve_assets_def(name).op.pool == "toggl_api", name
    assert defs.resolve_assets_def("toggl_weekly_summary").op.pool is None  # no API calls there


def test_entry_partitions_are_daily_in_the_configured_zone_and_include_today(defs):
    daily = defs.resolve_assets_def("toggl_entries").partitions_def
    window = daily.time_window_for_partition_key("2024-03-01")
    assert window.start == datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/Berlin"))
    today = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    assert daily.get_last_partition_key() == today
    assert defs.resolve_assets_def("toggl_entries").backfill_policy == dg.BackfillPolicy.single_run()


def test_weekly_partition_maps_to_its_seven_days(defs):
    partitions = build_partitions(SETTINGS)
    mapping = dg.TimeWindowPartitionMapping()
    upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
        partitions.weekly.subset_with_partition_keys(["2024-03-04"]), partitions.weekly, partitions.daily
    ).partitions_subset.get_partition_keys()
    assert sorted(upstream) == [(date(2024, 3, 4) + timedelta(days=i)).isoformat() for i in range(7)]


def test_week_start_follows_toggl_week_start():
    sunday = build_partitions(Settings(start_date=date(2024, 1, 1), week_start=0))
    assert date.fromisoformat(sunday.weekly.get_first_partition_key()).weekday() == 6


def test_daily_schedule_requests_the_trailing_window_ending_yesterday(defs):
    schedule = defs.resolve_schedule_def("toggl_daily_sync")
    assert schedule.execution_timezone == "Europe/Berlin"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    when = datetime(2024, 3, 10, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with dg.instance_for_test() as instance:
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
    [request] = result.run_requests
    assert request.tags[RANGE_START] == "2024-03-03"
    assert request.tags[RANGE_END] == "2024-03-09"
    assert request.job_name in (None, "toggl_daily")  # metadata, trailing days, history reconciliation


def test_trailing_range_never_starts_before_the_first_partition(defs):
    schedule = defs.resolve_schedule_def("toggl_daily_sync")
    when = datetime(2024, 1, 3, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    with dg.instance_for_test() as instance:
        [request] = schedule.evaluate_tick(
            dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        ).run_requests
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2024-01-01", "2024-01-02")
    assert trailing_range(date(2024, 5, 1), 1, date(2024, 1, 1)) == ("2024-04-30", "2024-04-30")
    assert trailing_range(date(2024, 1, 1), 7, date(2024, 1, 1)) is None


def test_schedule_can_start_switched_on():
    defs = build_definitions(Settings(start_date=date(2024, 1, 1), schedule_enabled=True))
    assert defs.resolve_schedule_def("toggl_daily_sync").default_status == dg.DefaultScheduleStatus.RUNNING


def test_weekly_automation_sensor_runs_by_default(defs):
    sensor = defs.resolve_sensor_def("toggl_weekly_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    weekly = defs.resolve_assets_def("toggl_weekly_summary")
    assert weekly.automation_conditions_by_key[weekly.key] is not None


def test_api_token_reaches_run_config_only_as_an_env_reference(defs, monkeypatch):
    monkeypatch.setenv("TOGGL_API_TOKEN", "tok_never_in_config_81c2")
    toggl = build_definitions(SETTINGS).resources["toggl"]
    assert "tok_never_in_config_81c2" not in repr(toggl)
