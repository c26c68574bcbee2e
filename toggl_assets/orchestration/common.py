"""What every asset of the project shares: group, kinds, pool, owners, table metadata, and Toggl failures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from toggl_assets.orchestration.metadata import table_metadata
from toggl_assets.orchestration.resources import TogglResource
from toggl_assets.sync.workspaces import diagnose, explain
from toggl_assets.toggl import TogglClient, TogglError
from toggl_assets.warehouse.columns import column_docs

RAW_GROUP = "toggl_raw"
REPORTS_GROUP = "toggl_reports"
KINDS = {"toggl", "postgres"}
# Every step that calls Toggl is in this pool; dagster.yaml limits it to 1 (the quota is per user and hour).
TOGGL_POOL = "toggl_api"


@dataclass(frozen=True)
class AssetStyle:
    """Per-deployment asset attributes: the configured schemas and owners."""

    raw_schema: str = "raw"
    analytics_schema: str = "analytics"
    owners: tuple[str, ...] = ()

    def raw_asset(self, table: str) -> dict[str, Any]:
        """Keyword arguments of ``@dg.asset`` for an asset that writes ``<raw schema>.<table>`` from Toggl."""
        return {
            "group_name": RAW_GROUP,
            "kinds": KINDS,
            "pool": TOGGL_POOL,
            "owners": list(self.owners),
            "metadata": table_metadata(self.raw_schema, table, column_docs(table)),
        }

    def report_asset(self, table: str) -> dict[str, Any]:
        """Keyword arguments of ``@dg.asset`` for an asset computed inside the warehouse (no API calls)."""
        return {
            "group_name": REPORTS_GROUP,
            "kinds": KINDS,
            "owners": list(self.owners),
            "metadata": table_metadata(self.analytics_schema, table, column_docs(table)),
        }


def toggl_failure(error: TogglError, toggl: TogglResource, client: TogglClient) -> dg.Failure:
    """A step failure with one clear line; not retried (a wrong token or workspace does not heal by itself).
    A refused workspace is told apart from a refused token first (see ``diagnose``)."""
    return dg.Failure(description=explain(diagnose(error, lambda: toggl.token_workspaces(client))), allow_retries=False)
