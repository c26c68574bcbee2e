"""The reconciliation of all synced history with Toggl, run by every daily sync (and ``toggl-assets sync``).

The asset ``toggl_history`` compares every synced day of every workspace with Toggl
(:mod:`toggl_assets.sync.history`) and re-syncs the days that differ. Each re-synced day is recorded as a
materialization of its ``toggl_entries`` partition, with that day's own figures, so the UI shows it as
materialized and the weekly summaries of those weeks are refreshed by their automation condition.
"""

import copy
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from toggl_assets.orchestration.common import AssetStyle, toggl_failure
from toggl_assets.orchestration.entries import ENTRIES, day_metadata
from toggl_assets.orchestration.metadata import BY_WORKSPACE, api_usage_metadata, records_table
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.orchestration.workspace_tables import WORKSPACE_TABLE_NAMES
from toggl_assets.sync.history import HistoryCheck, reconcile_workspace
from toggl_assets.toggl import TogglError

HISTORY = "toggl_history"
CHECK_MATCHES = "history_matches_toggl"


def _findings(checks: list[HistoryCheck]) -> list[dict[str, Any]]:
    return [
        {"workspace_id": c.workspace_id, "day": day.isoformat(), "reasons": ", ".join(sorted(reasons))}
        for c in checks
        for day, reasons in sorted(c.differences.items())
    ]


def _entry_materializations(checks: list[HistoryCheck]) -> list[dg.AssetMaterialization]:
    """One materialization per re-synced day (summed over workspaces), with that day's own figures."""
    days: dict[date, dict[int, Any]] = {}
    for check in checks:
        for result in check.results:
            for day in result.stats.by_day:
                days.setdefault(day, {})[check.workspace_id] = result
    return [
        dg.AssetMaterialization(
            asset_key=ENTRIES,
            partition=day.isoformat(),
            description="re-synced by the reconciliation of history with Toggl",
            metadata=day_metadata(day, results, []),
        )
        for day, results in sorted(days.items())
    ]


def _run_start(context: dg.AssetExecutionContext) -> datetime | None:
    """When this run started: the days its own steps synced after that were read in full moments ago."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record else None
    return datetime.fromtimestamp(started, UTC) if started else None


def build_history_asset(style: AssetStyle, timezone: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=HISTORY,
        deps=[*WORKSPACE_TABLE_NAMES, ENTRIES],
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_MATCHES,
                asset=HISTORY,
                description="After repair, every synced day's entries match Toggl's daily totals and edits.",
            )
        ],
        **{**style.raw_asset(ENTRIES), "metadata": {}},
    )
    def toggl_history(context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource):
        """Every synced day of every workspace compared with Toggl (edits, moves and new entries by last
        update since the previous check, deletions by daily totals), and the days that differ re-synced.
        About two requests per year of synced history, plus the pages of the re-synced days."""
        checks: list[HistoryCheck] = []
        run_start = _run_start(context)
        with toggl.client(context.log) as client, warehouse.connection() as conn:
            before = copy.deepcopy(client.stats)
            try:
                for wid in toggl.selected_workspace_ids(client):
                    checks.append(
                        reconcile_workspace(
                            client, conn, wid, timezone=timezone, schema=warehouse.raw_schema,
                            now=datetime.now(UTC), fresh_since=run_start, log=context.log,
                        )
                    )  # fmt: skip
            except TogglError as error:
                raise toggl_failure(error, toggl, client) from None
            usage = api_usage_metadata(client.stats, before)
        yield from _entry_materializations(checks)
        resynced = sorted({day for c in checks for day in c.resynced_days})
        summary = [
            {
                "workspace_id": c.workspace_id,
                "days_compared": c.days_compared,
                "days_different": len(c.differences),
                "days_resynced": len(c.resynced_days),
                "days_just_synced": c.days_just_synced,
                "day_zone": c.zone or "",
                "api_requests": c.api_requests,
            }
            for c in checks
        ]
        context.log.info(f"{HISTORY}: {summary}")
        yield dg.MaterializeResult(
            metadata={
                **usage,
                "days_compared": dg.MetadataValue.int(sum(c.days_compared for c in checks)),
                "days_different": dg.MetadataValue.int(sum(len(c.differences) for c in checks)),
                "days_resynced": dg.MetadataValue.int(len(resynced)),
                "differences": records_table(_findings(checks)),
                "resynced_days": dg.MetadataValue.json([day.isoformat() for day in resynced]),
                BY_WORKSPACE: records_table(summary),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_MATCHES,
                    passed=all(c.matches for c in checks),
                    metadata={"days_compared": sum(c.days_compared for c in checks)},
                )
            ],
        )

    return toggl_history
