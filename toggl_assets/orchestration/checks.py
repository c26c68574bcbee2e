"""Asset checks on every table, computed in SQL (``toggl_assets.warehouse.checks``) after each materialization.

Blocking checks stop downstream assets of the same run: entries are not loaded on top of metadata whose
references do not resolve.
"""

from collections.abc import Callable

import dagster as dg

from toggl_assets.orchestration.entries import ENTRIES
from toggl_assets.orchestration.resources import WarehouseResource
from toggl_assets.orchestration.workspace_tables import WORKSPACE_TABLE_NAMES
from toggl_assets.warehouse import checks


def _result(outcome: checks.CheckResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        metadata={"failures": outcome.failures, "sample": dg.MetadataValue.json(outcome.sample)},
    )


def _sql_check(
    asset: str, name: str, description: str, run: Callable[..., checks.CheckResult], blocking: bool = False
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description, blocking=blocking)
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connection() as conn:
            return _result(run(conn, warehouse.raw_schema))

    return _check


def build_checks() -> list[dg.AssetChecksDefinition]:
    """References resolve and ids are unique in every table; entry durations are consistent."""
    built = []
    for table in (*WORKSPACE_TABLE_NAMES, ENTRIES):
        built.append(
            _sql_check(
                table,
                "references_resolve",
                f"Every reference of {table} resolves (workspace, client, project, task, user, tags).",
                lambda conn, schema, table=table: checks.foreign_keys_resolve(conn, schema, tables=(table,)),
                blocking=table != ENTRIES,
            )
        )
        built.append(
            _sql_check(
                table,
                "ids_unique",
                f"No id appears twice in {table}.",
                lambda conn, schema, table=table: checks.no_duplicate_ids(conn, schema, tables=(table,)),
            )
        )
    built.append(
        _sql_check(
            ENTRIES,
            "durations_consistent",
            "For stopped entries, end - start equals duration_ms.",
            checks.durations_consistent,
        )
    )
    return built
