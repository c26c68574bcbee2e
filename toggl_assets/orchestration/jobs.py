"""Jobs: the sync (metadata, entries of a day or range, history reconciliation) and the weekly summary."""

from __future__ import annotations

import dagster as dg

from toggl_assets.orchestration.entries import ENTRIES
from toggl_assets.orchestration.history import HISTORY
from toggl_assets.orchestration.weekly_summary import WEEKLY
from toggl_assets.orchestration.workspace_tables import WORKSPACE_TABLE_NAMES

SYNC_JOB = "toggl_sync"
DAILY_JOB = "toggl_daily"
WEEKLY_JOB = "toggl_weekly"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            SYNC_JOB,
            selection=dg.AssetSelection.assets(*WORKSPACE_TABLE_NAMES, ENTRIES),
            description="Refresh the metadata, then replace the entries of a day or a range of days.",
        ),
        dg.define_asset_job(
            DAILY_JOB,
            selection=dg.AssetSelection.assets(*WORKSPACE_TABLE_NAMES, ENTRIES, HISTORY),
            description=(
                "What the daily schedule runs: the metadata, the trailing days, then every synced day compared "
                "with Toggl and the days that differ re-synced."
            ),
        ),
        dg.define_asset_job(
            WEEKLY_JOB,
            selection=dg.AssetSelection.assets(WEEKLY),
            description="Recompute weekly summaries from the warehouse.",
        ),
    ]
