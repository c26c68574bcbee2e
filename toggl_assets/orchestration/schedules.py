"""The daily schedule: one run per day of the metadata, the trailing days and the history reconciliation."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from toggl_assets.orchestration.jobs import DAILY_JOB, RANGE_END, RANGE_START
from toggl_assets.settings import Settings

DAILY_SCHEDULE = "toggl_daily_sync"


def trailing_range(today: date, days: int, first_day: date) -> tuple[str, str] | None:
    """Partition keys of the ``days`` days that end with yesterday, not before ``first_day``."""
    yesterday = today - timedelta(days=1)
    start = max(yesterday - timedelta(days=days - 1), first_day)
    return (start.isoformat(), yesterday.isoformat()) if start <= yesterday else None


def daily_cron(settings: Settings) -> str:
    return f"0 {settings.schedule_hour} * * *"


def daily_run_request(settings: Settings, now: datetime) -> dg.RunRequest | dg.SkipReason:
    """The run of one tick at ``now`` (in the partitions' zone); ``toggl-assets sync`` without dates runs it too."""
    keys = trailing_range(now.date(), settings.trailing_days, settings.start_date)
    if keys is None:
        return dg.SkipReason(f"TOGGL_START_DATE {settings.start_date} is after yesterday")
    return dg.RunRequest(run_key=f"daily-{keys[1]}", tags={RANGE_START: keys[0], RANGE_END: keys[1]})


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=DAILY_SCHEDULE,
        job_name=DAILY_JOB,
        cron_schedule=daily_cron(settings),
        execution_timezone=settings.timezone,
        default_status=(
            dg.DefaultScheduleStatus.RUNNING if settings.schedule_enabled else dg.DefaultScheduleStatus.STOPPED
        ),
        description=(
            f"Each day at {settings.schedule_hour:02d}:00 {settings.timezone}: refresh the metadata, re-sync the "
            f"{settings.trailing_days} days that end with yesterday, then compare all synced history with Toggl "
            "and re-sync the days that differ, in one run."
        ),
    )
    def toggl_daily_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return daily_run_request(settings, context.scheduled_execution_time or datetime.now())

    return toggl_daily_sync
