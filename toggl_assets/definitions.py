"""The code location: ``defs`` is built from the environment (see README, Configuration)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from toggl_assets.defs.entries import ENTRY_CHECKS, build_entries_asset
from toggl_assets.defs.metadata_assets import METADATA_ASSETS
from toggl_assets.defs.partitions import build_partitions
from toggl_assets.defs.resources import build_resources
from toggl_assets.defs.schedules import build_automation_sensor, build_daily_schedule, build_jobs
from toggl_assets.defs.weekly import build_weekly_asset
from toggl_assets.settings import Settings, load_dotenv_file


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> dg.Definitions:
    """All definitions for ``settings``; ``resources`` replaces the environment-built ones (tests, benchmarks)."""
    partitions = build_partitions(settings)
    sync_job, weekly_job = build_jobs(partitions)
    return dg.Definitions(
        assets=[
            *METADATA_ASSETS,
            build_entries_asset(partitions),
            build_weekly_asset(partitions, settings.timezone),
        ],
        asset_checks=ENTRY_CHECKS,
        jobs=[sync_job, weekly_job],
        schedules=[build_daily_schedule(settings, sync_job)],
        sensors=[build_automation_sensor()],
        resources=resources if resources is not None else build_resources(settings),
        # One process per run: Toggl steps are serialized by the toggl_api pool anyway, and a process per step
        # would only add start-up time and memory.
        executor=dg.in_process_executor,
    )


load_dotenv_file()
defs = build_definitions(Settings.from_env())
