"""The partitions, defined once: daily entry partitions and weekly summary partitions in ``TOGGL_TIMEZONE``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import dagster as dg

from toggl_assets.settings import Settings


@dataclass(frozen=True)
class TogglPartitions:
    daily: dg.DailyPartitionsDefinition
    weekly: dg.WeeklyPartitionsDefinition


def build_partitions(settings: Settings) -> TogglPartitions:
    return TogglPartitions(
        # end_offset=1: today's (still changing) partition exists too, so a manual run can load it.
        daily=dg.DailyPartitionsDefinition(
            start_date=settings.start_date.isoformat(), timezone=settings.timezone, end_offset=1
        ),
        # day_offset follows Toggl's beginning_of_week numbering (0 = Sunday); the current week is included.
        weekly=dg.WeeklyPartitionsDefinition(
            start_date=settings.start_date.isoformat(),
            day_offset=settings.week_start,
            timezone=settings.timezone,
            end_offset=1,
        ),
    )


def days_of_window(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last calendar day (inclusive) of a partition time window [start, end)."""
    return start.date(), (end - timedelta(days=1)).date()
