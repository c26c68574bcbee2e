"""Time entries: daily partitions in ``TOGGL_TIMEZONE``, loaded by idempotent window replace.

A run (one day or a backfill range, always one run thanks to ``BackfillPolicy.single_run``) replaces the
window of every synced workspace with Toggl's (:func:`toggl_assets.sync.window.sync_windows`). Each daily
partition gets its own figures (rows, inserted/updated/deleted, newest entries); run-wide figures (requests,
quota, timings) are recorded once, on the range's last partition, so adding them up never multiplies them.
"""

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from toggl_assets.orchestration.common import AssetStyle, toggl_failure
from toggl_assets.orchestration.metadata import (
    BY_WORKSPACE,
    ROW_COUNT,
    api_usage_metadata,
    load_metadata,
    records_table,
)
from toggl_assets.orchestration.partitions import TogglPartitions
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.orchestration.workspace_tables import WORKSPACE_TABLE_NAMES
from toggl_assets.sync.window import Window, WindowSyncResult, sync_windows
from toggl_assets.toggl import TogglError
from toggl_assets.warehouse import checks

ENTRIES = "toggl_entries"
CHECK_ROW_COUNT = "row_count_matches_toggl"
PREVIEW_PER_DAY = 3
PREVIEW_COLUMNS = ("id", "start", "duration_ms", "user_id", "project_id", "description")


def day_metadata(day: date, results: dict[int, WindowSyncResult], newest: list[Any]) -> dict[str, Any]:
    """One partition's own figures, summed over the workspaces."""
    totals = {"inserted": 0, "updated": 0, "deleted": 0}
    rows = 0
    for result in results.values():
        stats = result.stats.by_day.get(day)
        if stats is None:
            continue
        rows += stats.rows
        for key in totals:
            totals[key] += getattr(stats, key)
    metadata: dict[str, Any] = {
        ROW_COUNT: dg.MetadataValue.int(rows),
        **load_metadata(totals),
    }
    if newest:
        metadata["preview"] = records_table([{c: getattr(r, c) for c in PREVIEW_COLUMNS} for r in newest])
    return metadata


def run_metadata(results: dict[int, WindowSyncResult], usage: dict[str, Any]) -> dict[str, Any]:
    """What the whole run did: requests, per-workspace figures and where the time went."""
    per_workspace = [
        {
            "workspace_id": wid,
            "api_requests": r.api_requests,
            "fetched": r.stats.fetched,
            "in_window": r.stats.in_window,
            "inserted": r.stats.inserted,
            "updated": r.stats.updated,
            "deleted": r.stats.deleted,
        }
        for wid, r in results.items()
    ]
    return {
        **usage,
        "rows_fetched": dg.MetadataValue.int(sum(r.stats.fetched for r in results.values())),
        BY_WORKSPACE: records_table(per_workspace),
        "seconds_fetching": dg.MetadataValue.float(round(sum(r.seconds_fetching for r in results.values()), 3)),
        "seconds_staging": dg.MetadataValue.float(round(sum(r.seconds_staging for r in results.values()), 3)),
        "seconds_merging": dg.MetadataValue.float(round(sum(r.seconds_merging for r in results.values()), 3)),
    }


def freshness(schedule_cron: str, timezone: str) -> dg.FreshnessPolicy:
    """Tied to the daily schedule: an hour after each tick, the entries must have been synced in the last day."""
    minute, hour = schedule_cron.split()[:2]
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{minute} {(int(hour) + 1) % 24} * * *", lower_bound_delta=timedelta(hours=24), timezone=timezone
    )


def build_entries_asset(
    partitions: TogglPartitions, style: AssetStyle, timezone: str, schedule_cron: str
) -> dg.AssetsDefinition:
    @dg.asset(
        freshness_policy=freshness(schedule_cron, timezone),
        name=ENTRIES,
        partitions_def=partitions.daily,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=WORKSPACE_TABLE_NAMES,
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_ROW_COUNT,
                asset=ENTRIES,
                blocking=True,
                description="Each synced window holds exactly the entries Toggl returned for it.",
            )
        ],
        **style.raw_asset(ENTRIES),
    )
    def toggl_entries(
        context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Time entries of all users of every synced workspace, one partition per day of their start in
        TOGGL_TIMEZONE. A run over a range is one API session and one transaction."""
        time_window = context.partition_time_window
        window = Window(time_window.start, time_window.end, timezone)
        context.log.info(f"Syncing entries {window.first_day} .. {window.last_day} ({timezone})")
        with toggl.client(context.log) as client, warehouse.connection() as conn:
            before = copy.deepcopy(client.stats)
            try:
                workspace_ids = toggl.selected_workspace_ids(client)
                results = sync_windows(
                    client,
                    conn,
                    workspace_ids,
                    window,
                    schema=warehouse.raw_schema,
                    now=datetime.now(UTC),
                    log=context.log,
                )
            except TogglError as error:
                raise toggl_failure(error, toggl, client) from None
            usage = api_usage_metadata(client.stats, before)
            newest = checks.newest_entries_by_day(
                conn, warehouse.raw_schema, workspace_ids, window.start, window.end, timezone, PREVIEW_PER_DAY
            )
        keys = context.partition_keys
        for key in keys:
            day = date.fromisoformat(key)
            context.add_asset_metadata(day_metadata(day, results, newest.get(day, [])), partition_key=key)
        context.add_asset_metadata(run_metadata(results, usage), partition_key=keys[-1])
        mismatched = {
            wid: (r.stats.in_window, sum(d.rows for d in r.stats.by_day.values()))
            for wid, r in results.items()
            if r.stats.in_window != sum(d.rows for d in r.stats.by_day.values())
        }
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_ROW_COUNT,
                    passed=not mismatched,
                    metadata={
                        "mismatched_workspaces": dg.MetadataValue.json({str(k): v for k, v in mismatched.items()})
                    },
                )
            ]
        )

    return toggl_entries
