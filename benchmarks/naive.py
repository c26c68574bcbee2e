"""The naive baseline: one Dagster run per daily partition, as a plain partitioned asset's backfill launches.

Run as ``python -m benchmarks.naive --start D --end D`` with the same environment as ``toggl-assets sync``
(TOGGL_API_URL/TOKEN/WORKSPACE_ID, TOGGL_ASSETS_HOME, ...). The first run also materializes the metadata
assets (a backfill runs unpartitioned upstream assets once); every other run materializes ``toggl_entries``
for one day, through the same job, resources and Dagster instance as ``toggl-assets sync``. Prints one JSON
line: runs, wall seconds, failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.naive")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)

    import dagster as dg

    from toggl_assets.cli import prepare_instance
    from toggl_assets.definitions import build_definitions
    from toggl_assets.orchestration.entries import ENTRIES
    from toggl_assets.orchestration.jobs import SYNC_JOB
    from toggl_assets.settings import Settings

    settings = Settings.from_env()
    prepare_instance(settings)
    defs = build_definitions(settings)
    job = defs.resolve_job_def(SYNC_JOB)
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    started = time.monotonic()
    runs = failures = 0
    day = args.start
    with dg.DagsterInstance.get() as instance:
        while day <= args.end:
            result = job.execute_in_process(
                instance=instance,
                run_config=run_config,
                partition_key=day.isoformat(),
                # First run: metadata + the day's entries; then the day's entries only.
                asset_selection=None if runs == 0 else [dg.AssetKey(ENTRIES)],
                tags={"toggl/source": "benchmark-naive"},
                raise_on_error=False,
            )
            runs += 1
            failures += 0 if result.success else 1
            day += timedelta(days=1)
    print(json.dumps({"runs": runs, "failures": failures, "seconds": time.monotonic() - started}))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
