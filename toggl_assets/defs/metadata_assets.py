"""Toggl's workspace metadata: clients, projects, tags, users and tasks, upserted into the ``raw`` schema.

Dependencies encode the foreign-key load order: clients before projects, projects and users before tasks,
all of them before time entries.
"""

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from toggl_assets.defs.metadata import api_usage_metadata, load_metadata, preview_metadata
from toggl_assets.defs.resources import TogglResource, WarehouseResource
from toggl_assets.toggl import TogglClient, TogglError
from toggl_assets.warehouse import load

GROUP = "toggl_raw"
KINDS = {"toggl", "postgres"}
TOGGL_POOL = "toggl_api"


def _metadata_asset(
    name: str,
    fetch: Callable[[TogglClient], Sequence[Any] | None],
    upsert: Callable[..., Any],
    preview_columns: Sequence[str],
    description: str,
    deps: Sequence[str] = (),
) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        kinds=KINDS,
        deps=list(deps),
        pool=TOGGL_POOL,
        description=description,
        metadata={"table": f"raw.{name}"},
    )
    def _asset(
        context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        with toggl.client(context.log) as client:
            before, warned = copy.deepcopy(client.stats), len(client.warnings)
            try:
                records = fetch(client)
            except TogglError as error:
                raise dg.Failure(description=str(error), allow_retries=False) from None
            usage = api_usage_metadata(client.stats, before)
            warnings = client.warnings[warned:]
        for warning in warnings:
            context.log.warning(warning)
        metadata: dict[str, Any] = dict(usage)
        if records is None:  # e.g. tasks on a plan without them: nothing to load, nothing to delete
            metadata["skipped"] = dg.MetadataValue.text("; ".join(warnings) or "not available")
            metadata["dagster/row_count"] = dg.MetadataValue.int(0)
            return dg.MaterializeResult(metadata=metadata)
        with warehouse.connection() as conn, conn.transaction():
            stats = upsert(conn, records, schema=warehouse.raw_schema, synced_at=datetime.now(UTC))
        context.log.info(f"{name}: {len(records)} from Toggl; {stats}")
        metadata.update(load_metadata(stats))
        metadata["dagster/row_count"] = dg.MetadataValue.int(stats.total)
        metadata["preview"] = preview_metadata(records, preview_columns)
        return dg.MaterializeResult(metadata=metadata)

    return _asset


toggl_clients = _metadata_asset(
    "toggl_clients",
    lambda client: client.clients(),
    load.upsert_clients,
    ("id", "name", "is_archived"),
    "Toggl clients of the workspace, archived ones included (raw.toggl_clients).",
)
toggl_projects = _metadata_asset(
    "toggl_projects",
    lambda client: client.projects(),
    load.upsert_projects,
    ("id", "name", "client_id", "is_active", "is_billable", "currency"),
    "Toggl projects, active and inactive, private ones the token can see (raw.toggl_projects).",
    deps=["toggl_clients"],
)
toggl_tags = _metadata_asset(
    "toggl_tags",
    lambda client: client.tags(),
    load.upsert_tags,
    ("id", "name"),
    "Toggl tags of the workspace (raw.toggl_tags).",
)
toggl_users = _metadata_asset(
    "toggl_users",
    lambda client: client.users(),
    load.upsert_users,
    ("id", "name", "is_active", "rate"),
    "Members of the workspace with their billable rates (raw.toggl_users).",
)
toggl_tasks = _metadata_asset(
    "toggl_tasks",
    lambda client: client.tasks(),
    load.upsert_tasks,
    ("id", "name", "project_id", "is_active"),
    "Toggl tasks (a paid-plan feature: on other plans the step logs a warning and loads nothing) (raw.toggl_tasks).",
    deps=["toggl_projects", "toggl_users"],
)

METADATA_ASSETS = [toggl_clients, toggl_projects, toggl_tags, toggl_users, toggl_tasks]
METADATA_ASSET_NAMES = [asset.key.to_user_string() for asset in METADATA_ASSETS]
