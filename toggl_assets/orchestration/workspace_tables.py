"""Workspaces and their metadata: clients, projects, tags, users and tasks, upserted into the raw schema.

Each asset covers every selected workspace in one step: it reads them all from Toggl first, then writes them
in one transaction, each workspace's rows pruned only within that workspace. A workspace Toggl refuses fails
the step before anything is written. Dependencies encode the foreign-key load order: workspaces first, then
clients before projects, projects and users before tasks, all of them before time entries.
"""

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from toggl_assets.orchestration.common import AssetStyle, toggl_failure
from toggl_assets.orchestration.metadata import (
    BY_WORKSPACE,
    ROW_COUNT,
    api_usage_metadata,
    load_counts,
    load_metadata,
    records_table,
)
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.sync.workspaces import select_workspaces
from toggl_assets.toggl import TogglClient, TogglError
from toggl_assets.warehouse import checks
from toggl_assets.warehouse import metadata as tables

WORKSPACES = "toggl_workspaces"
# With TOGGL_WORKSPACE_ID set, the workspace rows (name, currency, rate, rounding: rarely changed) are read again
# when older than this, so the daily run of one workspace stays at its 6 requests on other days.
WORKSPACE_REFRESH = timedelta(days=7)


@dataclass(frozen=True)
class TableSpec:
    """A metadata table: read with ``TogglClient.<endpoint>(workspace_id)``, written with
    ``warehouse.metadata.upsert_<endpoint>``."""

    name: str
    description: str
    deps: tuple[str, ...] = (WORKSPACES,)

    @property
    def endpoint(self) -> str:
        return self.name.removeprefix("toggl_")

    def fetch(self, client: TogglClient, workspace_id: int) -> Sequence[Any] | None:
        return getattr(client, self.endpoint)(workspace_id)

    def upsert(self, conn: Any, records: Sequence[Any], **options: Any) -> Any:
        return getattr(tables, f"upsert_{self.endpoint}")(conn, records, **options)


TABLES = (
    TableSpec("toggl_clients", "Toggl clients of every synced workspace, archived ones included."),
    TableSpec(
        "toggl_projects",
        "Toggl projects, active and inactive, and the private ones the token can see.",
        (WORKSPACES, "toggl_clients"),
    ),
    TableSpec("toggl_tags", "Toggl tags."),
    TableSpec("toggl_users", "Members of each workspace, with their billable rates and time zones."),
    TableSpec(
        "toggl_tasks",
        "Toggl tasks (a paid-plan feature: where the plan lacks it the step logs a warning and loads nothing).",
        (WORKSPACES, "toggl_projects", "toggl_users"),
    ),
)


def _fetch_all(
    context: dg.AssetExecutionContext, toggl: TogglResource, fetch: Callable[[TogglClient, int], Any]
) -> tuple[dict[int, Any], dict[str, dg.MetadataValue], dict[int, int]]:
    """Every selected workspace's records (before any write), the step's API usage, requests per workspace."""
    with toggl.client(context.log) as client:
        before, warned = copy.deepcopy(client.stats), len(client.warnings)
        try:
            workspace_ids = toggl.selected_workspace_ids(client)
            fetched = {wid: fetch(client, wid) for wid in workspace_ids}
        except TogglError as error:
            raise toggl_failure(error, toggl, client) from None
        for warning in client.warnings[warned:]:
            context.log.warning(warning)
        requests = {
            wid: client.stats.requests_by_workspace.get(wid, 0) - before.requests_by_workspace.get(wid, 0)
            for wid in workspace_ids
        }
        return fetched, api_usage_metadata(client.stats, before), requests


def _table_asset(spec: TableSpec, style: AssetStyle) -> dg.AssetsDefinition:
    @dg.asset(name=spec.name, deps=list(spec.deps), description=spec.description, **style.raw_asset(spec.name))
    def _asset(
        context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        fetched, usage, requests = _fetch_all(context, toggl, spec.fetch)
        synced_at = datetime.now(UTC)
        per_workspace: list[dict[str, Any]] = []
        totals: dict[str, int] = {}
        with warehouse.connection() as conn:
            with conn.transaction():
                for wid, records in fetched.items():
                    counts: dict[str, Any] = {"workspace_id": wid, "api_requests": requests[wid]}
                    if records is None:  # e.g. tasks on a plan without them: nothing to load, nothing to delete
                        counts["skipped"] = "not available on this plan"
                    else:
                        stats = spec.upsert(
                            conn, records, workspace_id=wid, schema=warehouse.raw_schema, synced_at=synced_at
                        )
                        counts.update(load_counts(stats))
                        for key, value in load_counts(stats).items():
                            totals[key] = totals.get(key, 0) + value
                    per_workspace.append(counts)
            row_count = checks.table_row_count(conn, warehouse.raw_schema, spec.name)
        context.log.info(f"{spec.name}: {per_workspace}")
        return dg.MaterializeResult(
            metadata={
                **usage,
                **load_metadata(totals),
                ROW_COUNT: dg.MetadataValue.int(row_count),
                BY_WORKSPACE: records_table(per_workspace),
            }
        )

    return _asset


def _workspaces_asset(style: AssetStyle) -> dg.AssetsDefinition:
    @dg.asset(name=WORKSPACES, **style.raw_asset(WORKSPACES))
    def toggl_workspaces(
        context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """The workspaces synced: TOGGL_WORKSPACE_ID's, or every workspace of the token's user (GET
        /me/workspaces, one request on the user quota). First in the foreign-key load order."""
        configured = toggl.configured_workspace_ids
        now = datetime.now(UTC)
        with warehouse.connection() as conn:
            if configured and tables.workspaces_synced_since(
                conn, warehouse.raw_schema, configured, now - WORKSPACE_REFRESH
            ):
                context.log.info(f"workspaces {list(configured)} were read less than {WORKSPACE_REFRESH} ago")
                count = checks.table_row_count(conn, warehouse.raw_schema, WORKSPACES)
                return dg.MaterializeResult(
                    metadata={ROW_COUNT: dg.MetadataValue.int(count), "api_requests": dg.MetadataValue.int(0)}
                )
            with toggl.client(context.log) as client:
                before = copy.deepcopy(client.stats)
                try:
                    selected = select_workspaces(toggl.token_workspaces(client), configured)
                except TogglError as error:
                    raise toggl_failure(error, toggl, client) from None
                usage = api_usage_metadata(client.stats, before)
            with conn.transaction():
                stats = tables.upsert_workspaces(conn, selected, schema=warehouse.raw_schema, synced_at=now)
            count = checks.table_row_count(conn, warehouse.raw_schema, WORKSPACES)
        listed = [{"id": w.id, "name": w.name, "organization_id": w.organization_id} for w in selected]
        return dg.MaterializeResult(
            metadata={
                **usage,
                **load_metadata(load_counts(stats)),
                ROW_COUNT: dg.MetadataValue.int(count),
                "workspaces": records_table(listed),
            }
        )

    return toggl_workspaces


def build_workspace_table_assets(style: AssetStyle) -> list[dg.AssetsDefinition]:
    return [_workspaces_asset(style), *(_table_asset(spec, style) for spec in TABLES)]


WORKSPACE_TABLE_NAMES = [WORKSPACES, *(spec.name for spec in TABLES)]
