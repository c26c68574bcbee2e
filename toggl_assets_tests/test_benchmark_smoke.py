"""A small real run of ``./run bench``: every section's figures are in the JSON it writes, with sane values.

It runs the harness end to end (simulator and sync children, probes, the plain script, verdicts and the
text report) on tiny workspaces, so it stays fast; the figures themselves are not judged here.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(tmp_path: Path, *args: str) -> tuple[str, dict]:
    output = tmp_path / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGGL_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--output", str(output)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, json.loads(output.read_text())


def check_measured(m: dict, *, requests: bool = True) -> None:
    assert 0 < m["wall_seconds"] < 120 and m["cpu_seconds"] >= 0 and m["simulator_cpu_seconds"] >= 0
    assert 20 < m["peak_rss_mb"] < 2_000
    if requests:
        assert m["requests"] > 0 and sum(m["requests_by_endpoint"].values()) == m["requests"]


def test_benchmark_smoke(tmp_path: Path) -> None:
    stdout, report = run_bench(
        tmp_path,
        "--sections=overhead",
        "--overhead-days=30",
        "--overhead-entries=300",
        "--short-days=0",
        "--baseline-days=0",
        "--no-warm-up",
        "--pairs=1",
    )
    assert "Targets:" in stdout and "Machine:" in stdout and "| command" in stdout

    two = report["two_years"]
    for key in ("backfill", "one_day", "daily_quiet", "daily_edits", "plain_script"):
        check_measured(two[key])
    assert [p["ratio"] for p in two["pairs"]] == [two["backfill_vs_one_day"]] and two["backfill_vs_one_day"] > 0
    assert two["plain_script"]["script_rows"] >= 290  # every entry of the workspace (running one aside)
    quiet, edited = two["daily_quiet"], two["daily_edits"]
    assert quiet["days_compared"] >= 29 and quiet["budget"]["resynced_pages"] == 0
    # The late edits land on days of the synced history: those days (and only those) are re-synced.
    assert 1 <= edited["days_resynced"] <= len(two["late_edits"]) and edited["requests"] > quiet["requests"]
    assert quiet["budget"]["history_spans"] == 1
    statuses = {t["name"]: t["status"] for t in report["targets"]}
    assert any(n.startswith("two-year backfill") for n in statuses)
    assert statuses["daily run after late edits (issue 13 budget)"] in ("PASS", "MISS")
    assert all(status in ("PASS", "MISS", "N/A") for status in statuses.values())


@pytest.mark.slow
def test_benchmark_smoke_other_sections(tmp_path: Path) -> None:
    """Throughput, the 42-day range, the naive baseline and two workspaces, tiny."""
    stdout, report = run_bench(
        tmp_path,
        "--overhead-days=10",
        "--overhead-entries=100",
        "--no-warm-up",
        "--short-days=5",
        "--short-entries=60",
        "--baseline-days=2",
        "--workloads=1k",
        "--days=10",
        "--workspace-days=10",
        "--workspace-entries=100",
        "--pairs=2",
    )
    assert "| workload" in stdout
    ((name, run),) = report["workloads"].items()
    assert name == "1k"
    check_measured(run)
    assert 900 <= run["entries_synced"] <= run["entries_fetched"] <= 1_000
    assert run["requests"] >= run["requests_minimum"] >= 7
    for key in ("seconds_fetching", "seconds_staging", "seconds_merging", "weekly_step_seconds", "weekly_sql_seconds"):
        assert run[key] is not None and run[key] >= 0, key
    # 206 rows insert in well under the millisecond the figure is rounded to: measured means present, not > 0
    assert run["weekly_rows"] > 0 and run["weekly_write_floor_seconds"] >= 0
    assert run["load_rows_per_second"] > 0 and run["plain_copy_rows_per_second"] > 0
    assert 0 < run["load_vs_copy_ratio"] < 10
    assert run["plain_script"]["rows"] >= 900

    baseline = report["two_years"]["baseline"]
    assert baseline["runs"] == 2 and baseline["requests"] >= 7  # metadata once + one report per run
    forty = report["forty_two_days"]
    ratios = [p["ratio"] for p in forty["pairs"]]
    assert len(ratios) == 2 and forty["range_vs_one_day_median"] == statistics.median(ratios)
    fastest = min(p["longer_seconds"] for p in forty["pairs"]) / min(p["one_day_seconds"] for p in forty["pairs"])
    assert forty["range_vs_one_day"] == round(fastest, 2)
    assert len(report["two_years"]["pairs"]) == 2  # each from a fresh install
    ws = report["two_workspaces"]
    assert ws["workspaces"] == 2 and ws["organizations"] == 2
    for key in ("first_sync", "daily"):
        check_measured(ws[key])
        assert ws[key]["expected"] > 0
    statuses = {t["name"]: t["status"] for t in report["targets"]}
    assert statuses["load vs plain COPY (1k)"] in ("PASS", "MISS")
    assert statuses["two workspaces, first sync (issue 12)"] in ("PASS", "MISS")
    assert all(status in ("PASS", "MISS", "N/A") for status in statuses.values())
