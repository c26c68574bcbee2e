"""Sensors: the automation sensor that keeps weekly summaries current, and the entries' freshness check."""

from __future__ import annotations

import dagster as dg

from toggl_assets.orchestration.weekly_summary import WEEKLY


def build_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    # Running by default: it only recomputes summaries from the warehouse and never calls Toggl.
    return dg.AutomationConditionSensorDefinition(
        "toggl_weekly_automation",
        target=dg.AssetSelection.assets(WEEKLY),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Refreshes the weekly summary of every week whose entries were re-synced.",
    )


def build_freshness(
    entries: dg.AssetsDefinition, cron: str, timezone: str
) -> tuple[list[dg.AssetChecksDefinition], dg.SensorDefinition]:
    """A freshness check tied to the daily schedule: yesterday's partition must exist an hour after the tick."""
    minute, hour = cron.split()[:2]
    deadline = f"{minute} {(int(hour) + 1) % 24} * * *"
    freshness = dg.build_time_partition_freshness_checks(
        assets=[entries], deadline_cron=deadline, timezone=timezone, severity=dg.AssetCheckSeverity.WARN
    )
    sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness, minimum_interval_seconds=3600, name="toggl_freshness"
    )
    return list(freshness), sensor

