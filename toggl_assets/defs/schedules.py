"""Jobs, the daily schedule and the automation sensor that keeps weekly summaries current."""

from __future__ import annotations

from datetime import datetime, timedelta

import dagster as dg

from toggl_assets.defs.entries import ENTRIES
from toggl_assets.defs.metadata_assets import METADATA_ASSET_NAMES
from toggl_assets.defs.partitions import TogglPartitions
from toggl_assets.defs.weekly import WEEKLY
from toggl_assets.settings import Settings

SYNC_JOB = "toggl_sync"
WEEKLY_JOB = "toggl_weekly"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def build_jobs(
    partitions: TogglPartitions,
) -> tuple[dg.UnresolvedAssetJobDefinition, dg.UnresolvedAssetJobDefinition]:
    sync = dg.define_asset_job(
        SYNC_JOB,
        selection=dg.AssetSelection.assets(*METADATA_ASSET_NAMES, ENTRIES),
        description="Refresh the metadata, then replace the entries of a day or a range of days.",
    )
    weekly = dg.define_asset_job(
        WEEKLY_JOB,
        selection=dg.AssetSelection.assets(WEEKLY),
        description="Recompute weekly summaries from the warehouse.",
    )
    return sync, weekly


def trailing_range(now: datetime, days: int) -> tuple[str, str]:
    """Partition keys of the ``days`` days that end with yesterday (``now`` in the partitions' time zone)."""
    yesterday = now.date() - timedelta(days=1)
    return (yesterday - timedelta(days=days - 1)).isoformat(), yesterday.isoformat()


def build_daily_schedule(settings: Settings, sync_job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="toggl_daily_sync",
        job=sync_job,
        cron_schedule=f"0 {settings.schedule_hour} * * *",
        execution_timezone=settings.timezone,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if settings.schedule_enabled else dg.DefaultScheduleStatus.STOPPED
        ),
        description=(
            f"Each day at {settings.schedule_hour:02d}:00 {settings.timezone}: refresh the metadata and re-sync the "
            f"{settings.trailing_days} days that end with yesterday (entries are often edited late), in one run."
        ),
    )
    def toggl_daily_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        now = context.scheduled_execution_time or datetime.now()
        start, end = trailing_range(now, settings.trailing_days)
        start = max(start, settings.start_date.isoformat())
        if end < start:
            return dg.SkipReason(f"TOGGL_START_DATE {settings.start_date} is after yesterday")
        return dg.RunRequest(run_key=f"daily-{end}", tags={RANGE_START: start, RANGE_END: end})

    return toggl_daily_sync


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    # Running by default: it only recomputes summaries from the warehouse and never calls Toggl.
    return dg.AutomationConditionSensorDefinition(
        "toggl_weekly_automation",
        target=dg.AssetSelection.assets(WEEKLY),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Refreshes the weekly summary of every week whose entries were re-synced.",
    )
