"""A small run of ``./run bench``: the JSON it writes has every figure, with sane values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_smoke(tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGGL_", "DAGSTER_"))}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--workloads",
            "2k",
            "--days",
            "14",
            "--baseline-days",
            "2",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Targets:" in result.stdout and "| workload |" in result.stdout
    report = json.loads(output.read_text())

    ((name, run),) = report["workloads"].items()
    assert name == "2k"
    assert 1_900 <= run["entries_synced"] <= run["entries_fetched"] <= 2_000
    assert run["requests"] >= run["requests_minimum"] >= 6
    assert run["requests_by_endpoint"] and sum(run["requests_by_endpoint"].values()) == run["requests"]
    assert 0 < run["wall_seconds"] < 120 and run["entries_per_second"] > 0
    for key in (
        "seconds_fetching",
        "seconds_staging",
        "seconds_merging",
        "seconds_loading",
        "weekly_step_seconds",
        "weekly_sql_seconds",
        "entries_step_seconds",
    ):
        assert run[key] is not None and run[key] >= 0, key
    assert run["load_rows_per_second"] > 0 and run["plain_copy_rows_per_second"] > 0
    assert 0 < run["load_vs_copy_ratio"] < 10
    assert 50 < run["peak_rss_mb"] < 2_000

    daily = run["daily"]
    assert daily["requests"] == 6  # 5 metadata lists + 1 report page, TOGGL_WORKSPACE_ID set
    assert daily["rows_deleted"] == daily["deleted"] and daily["rows_inserted"] == daily["added"]

    baseline = run["baseline"]
    assert baseline["runs"] == 2 and baseline["requests"] >= 7  # metadata once + one report per run
    assert baseline["ours_requests"] == run["requests"]

    statuses = {t["name"]: t["status"] for t in report["targets"]}
    assert statuses["requests 2k"] in ("PASS", "MISS") and statuses["daily run (2k)"] == "PASS"
    assert all(status in ("PASS", "MISS", "N/A") for status in statuses.values())
