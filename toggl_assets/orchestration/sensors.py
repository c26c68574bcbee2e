"""The automation sensor that keeps weekly summaries current."""

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
