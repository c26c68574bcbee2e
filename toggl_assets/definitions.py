"""The code location ``toggl_assets``: ``defs`` is built from the environment (see README, Configuration).

``dagster dev``, ``dg dev``, ``dg launch``, ``dagster definitions validate`` and ``toggl-assets`` all load it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import dagster as dg

from toggl_assets.event_batching import batch_event_writes
from toggl_assets.orchestration.checks import build_checks
from toggl_assets.orchestration.common import AssetStyle
from toggl_assets.orchestration.entries import build_entries_asset
from toggl_assets.orchestration.history import build_history_asset
from toggl_assets.orchestration.jobs import build_jobs
from toggl_assets.orchestration.partitions import build_partitions
from toggl_assets.orchestration.resources import build_resources
from toggl_assets.orchestration.schedules import build_daily_schedule, daily_cron
from toggl_assets.orchestration.sensors import build_automation_sensor
from toggl_assets.orchestration.weekly_summary import build_weekly_asset
from toggl_assets.orchestration.workspace_tables import build_workspace_table_assets
from toggl_assets.settings import Settings, load_dotenv_file

batch_event_writes()  # also for instances that do not load our storage (e.g. `dg.materialize`)


def build_definitions(settings: Settings, resources: dict[str, Any] | None = None) -> dg.Definitions:
    """All definitions for ``settings``; ``resources`` replaces the environment-built ones (tests, benchmarks)."""
    partitions = build_partitions(settings)
    style = AssetStyle(settings.raw_schema, settings.analytics_schema, settings.owners)
    entries = build_entries_asset(partitions, style, settings.timezone, daily_cron(settings))
    assets = [
        *build_workspace_table_assets(style),
        entries,
        build_history_asset(style, settings.timezone),
        build_weekly_asset(partitions, style, settings.timezone, settings.week_start),
    ]
    with warnings.catch_warnings():
        # Code references are beta in Dagster 1.13; we opt in on purpose, so its warning is noise for users.
        warnings.simplefilter("ignore", dg.BetaWarning)
        assets = dg.with_source_code_references(assets)
    return dg.Definitions(
        assets=assets,
        asset_checks=build_checks(),
        jobs=build_jobs(),
        schedules=[build_daily_schedule(settings)],
        sensors=[build_automation_sensor()],
        resources=resources if resources is not None else build_resources(settings),
        # One process per run: Toggl steps are serialized by the toggl_api pool anyway, and a process per step
        # would only add start-up time and memory.
        executor=dg.in_process_executor,
    )


load_dotenv_file(Path.cwd() / ".env")
defs = build_definitions(Settings.from_env())
