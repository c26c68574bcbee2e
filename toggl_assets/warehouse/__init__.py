"""The PostgreSQL warehouse: schema migrations, loading Toggl records, data checks and the weekly report.

It knows nothing about HTTP, Toggl's JSON or Dagster: it consumes :mod:`toggl_assets.records`.
"""

from toggl_assets.warehouse.checks import (
    CheckResult,
    durations_consistent,
    entries_within_window,
    foreign_keys_resolve,
    no_duplicate_ids,
    window_row_count,
)
from toggl_assets.warehouse.db import WarehouseError, connect, redact_url
from toggl_assets.warehouse.load import (
    EntryLoadStats,
    EntryStaging,
    LoadStats,
    load_entries,
    upsert_clients,
    upsert_projects,
    upsert_tags,
    upsert_tasks,
    upsert_users,
)
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.weekly import format_weekly_report_table, refresh_weekly_summary, weekly_report

__all__ = [
    "CheckResult",
    "EntryLoadStats",
    "EntryStaging",
    "LoadStats",
    "WarehouseError",
    "connect",
    "durations_consistent",
    "entries_within_window",
    "foreign_keys_resolve",
    "format_weekly_report_table",
    "load_entries",
    "migrate",
    "no_duplicate_ids",
    "redact_url",
    "refresh_weekly_summary",
    "upsert_clients",
    "upsert_projects",
    "upsert_tags",
    "upsert_tasks",
    "upsert_users",
    "weekly_report",
    "window_row_count",
]
