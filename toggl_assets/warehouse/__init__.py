"""The PostgreSQL warehouse: migrations, loading Toggl records per workspace, history, checks, the weekly report.

It knows nothing about HTTP, Toggl's JSON, Dagster or the application's settings: it consumes
:mod:`toggl_assets.records`. Modules:

* :mod:`.db` connections (passwords never leak), schema names and time zones, the writers' lock;
* :mod:`.migrations` versioned schema migrations;
* :mod:`.metadata` workspace and metadata upserts (one workspace per call) and their prunes;
* :mod:`.placeholders` placeholder rows that keep foreign keys whole;
* :mod:`.entries` staging time entries and merging one workspace's window, with per-day figures;
* :mod:`.rollup` the per-day rollup the merges keep current and the weekly summary reads;
* :mod:`.bulk` large first loads: a table's indexes set aside for the insert and built again after it;
* :mod:`.history` synced days, daily totals, entry days and the reconciliation watermark;
* :mod:`.weekly` the weekly summary view and Toggl's weekly report as data;
* :mod:`.checks` data checks; :mod:`.values` value conversions.
"""

from toggl_assets.warehouse.checks import (
    CheckResult,
    durations_consistent,
    foreign_keys_resolve,
    no_duplicate_ids,
    window_row_count,
)
from toggl_assets.warehouse.db import (
    InvalidNameError,
    WarehouseError,
    connect,
    redact_url,
    validate_schema_name,
    validate_timezone,
)
from toggl_assets.warehouse.entries import DayStats, EntryLoadStats, EntryStaging
from toggl_assets.warehouse.history import (
    advance_watermark,
    daily_seconds,
    entry_days,
    get_watermark,
    synced_days,
    warehouse_workspace_ids,
)
from toggl_assets.warehouse.metadata import (
    LoadStats,
    upsert_clients,
    upsert_projects,
    upsert_tags,
    upsert_tasks,
    upsert_users,
    upsert_workspaces,
)
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.rollup import Calendar
from toggl_assets.warehouse.values import json_safe
from toggl_assets.warehouse.weekly import prepare_weekly_summaries, weekly_hours_by_project, weekly_report

__all__ = [
    "Calendar",
    "CheckResult",
    "DayStats",
    "EntryLoadStats",
    "EntryStaging",
    "InvalidNameError",
    "LoadStats",
    "WarehouseError",
    "advance_watermark",
    "connect",
    "daily_seconds",
    "durations_consistent",
    "entry_days",
    "foreign_keys_resolve",
    "get_watermark",
    "json_safe",
    "migrate",
    "no_duplicate_ids",
    "prepare_weekly_summaries",
    "redact_url",
    "synced_days",
    "upsert_clients",
    "upsert_projects",
    "upsert_tags",
    "upsert_tasks",
    "upsert_users",
    "upsert_workspaces",
    "validate_schema_name",
    "validate_timezone",
    "warehouse_workspace_ids",
    "weekly_hours_by_project",
    "weekly_report",
    "window_row_count",
]
