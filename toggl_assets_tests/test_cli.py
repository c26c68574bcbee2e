"""The `toggl-assets` console script, run as a user runs it (a subprocess), error paths and one full sync."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec

SCRIPT = shutil.which("toggl-assets", path=str(Path(sys.executable).parent)) or "toggl-assets"


def run_cli(
    *args: str, env: dict[str, str] | None = None, home: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
    if home is not None:
        base["TOGGL_ASSETS_HOME"] = str(home)
    base.update(env or {})
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=base, timeout=timeout, cwd=home or Path.cwd()
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str, code: int = 2) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", ["dev", "sync", "demo", "simulator", "weekly-report"])
def test_every_subcommand_has_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_bad_date(tmp_path):
    result = run_cli("sync", "--start", "2024-13-01", "--end", "2024-12-31", home=tmp_path)
    assert_one_line_error(result, "--start must be a date as YYYY-MM-DD")


def test_start_after_end(tmp_path):
    result = run_cli("sync", "--start", "2024-03-02", "--end", "2024-03-01", home=tmp_path)
    assert_one_line_error(result, "is after --end")


def test_missing_token(tmp_path):
    result = run_cli("sync", "--start", "2024-03-01", "--end", "2024-03-02", home=tmp_path)
    assert_one_line_error(result, "TOGGL_API_TOKEN is not set")


def test_bad_configuration_value(tmp_path):
    result = run_cli(
        "sync",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-02",
        home=tmp_path,
        env={"TOGGL_TIMEZONE": "Nowhere/Atlantis", "TOGGL_API_TOKEN": "x"},
    )
    assert_one_line_error(result, "TOGGL_TIMEZONE")


def test_unreachable_database_names_it_without_the_password(tmp_path):
    url = "postgresql://toggl:pw_SECRET_9d1e@127.0.0.1:1/toggl"
    result = run_cli(
        "sync",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-02",
        home=tmp_path,
        env={
            "TOGGL_API_TOKEN": "x",
            "TOGGL_WAREHOUSE_URL": url,
            "DAGSTER_PG_URL": url.replace("postgresql:", "postgresql+psycopg2:"),
        },
    )
    assert_one_line_error(result, "TOGGL_WAREHOUSE_URL")
    assert "pw_SECRET_9d1e" not in result.stdout + result.stderr


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    spec = workspace_spec(5, 400, date(2024, 3, 1), date(2024, 3, 31))
    with Simulator(SimulatorConfig(spec=spec)) as sim:
        yield sim


def test_wrong_token_fails_the_sync_with_one_line(simulator, tmp_path):
    env = {
        "TOGGL_API_URL": simulator.url,
        "TOGGL_API_TOKEN": "tok_WRONG_0a7c",
        "TOGGL_START_DATE": "2024-03-01",
        "TOGGL_REQUESTS_PER_SECOND": "0",
    }
    result = run_cli("sync", "--start", "2024-03-04", "--end", "2024-03-05", "--quiet", home=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "TOGGL_API_TOKEN" in result.stderr and "tok_WRONG_0a7c" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_sync_then_weekly_report(simulator, tmp_path):
    env = {
        "TOGGL_API_URL": simulator.url,
        "TOGGL_API_TOKEN": simulator.api_token,
        "TOGGL_WORKSPACE_ID": str(simulator.workspace_id),
        "TOGGL_START_DATE": "2024-03-01",
        "TOGGL_REQUESTS_PER_SECOND": "0",
    }
    simulator.reset_stats()
    result = run_cli("sync", "--start", "2024-03-01", "--end", "2024-03-31", home=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Toggl API requests" in result.stdout and "toggl_entries" in result.stdout
    assert simulator.api_token not in result.stdout + result.stderr
    reported = int(result.stdout.split(" Toggl API requests")[0].rsplit(" ", 1)[1])
    assert reported == simulator.stats()["total"]

    report = run_cli("weekly-report", "--since", "2024-03-04", "--json", home=tmp_path, env=env)
    assert report.returncode == 0, report.stderr
    body = json.loads(report.stdout)
    assert set(body) >= {"total_grand", "total_billable", "total_currencies", "data", "week_totals"}
    assert len(body["week_totals"]) == 8 and body["total_grand"] > 0
    table = run_cli("weekly-report", "--since", "2024-03-04", home=tmp_path, env=env)
    assert table.returncode == 0 and "Mon 03-04" in table.stdout and "Total" in table.stdout
