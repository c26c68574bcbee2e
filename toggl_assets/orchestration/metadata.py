"""Materialization metadata shared by the assets, and the run summary the CLI prints from it.

Dagster's standard keys (``dagster/row_count``, ``dagster/table_name``, ``dagster/column_schema``) where they
exist; the rest are named here once, for the assets that write them and the CLI that reads them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from toggl_assets.warehouse.values import json_safe

ROW_COUNT = "dagster/row_count"
API_REQUESTS = "api_requests"
API_REQUESTS_BY_ENDPOINT = "api_requests_by_endpoint"
QUOTA_REMAINING = "api_quota_remaining"
QUOTA_RESETS_IN = "api_quota_resets_in_seconds"
BY_WORKSPACE = "by_workspace"
LOAD_COUNT_PREFIX = "rows_"
PREVIEW_ROWS = 5


def api_usage_metadata(stats: Any, before: Any | None = None) -> dict[str, dg.MetadataValue]:
    """Requests sent since ``before`` (a copy of the stats when the step began; the client is shared by the
    run's steps), in total and per endpoint, and the last quota Toggl reported."""
    earlier = before.requests_by_endpoint if before is not None else {}
    by_endpoint = {
        endpoint: count - earlier.get(endpoint, 0)
        for endpoint, count in stats.requests_by_endpoint.items()
        if count - earlier.get(endpoint, 0)
    }
    metadata: dict[str, dg.MetadataValue] = {
        API_REQUESTS: dg.MetadataValue.int(stats.total - (before.total if before is not None else 0)),
        API_REQUESTS_BY_ENDPOINT: dg.MetadataValue.json(by_endpoint),
    }
    if stats.quota_remaining is not None:
        metadata[QUOTA_REMAINING] = dg.MetadataValue.int(int(stats.quota_remaining))
    if stats.quota_resets_in is not None:
        metadata[QUOTA_RESETS_IN] = dg.MetadataValue.int(int(stats.quota_resets_in))
    return metadata


def load_counts(stats: Any) -> dict[str, int]:
    """Every integer field of a warehouse load-stats dataclass, e.g. inserted/updated/unchanged/deleted."""
    return {
        field.name: value
        for field in dataclasses.fields(stats)
        if isinstance(value := getattr(stats, field.name), int) and not isinstance(value, bool)
    }


def load_metadata(counts: Mapping[str, int]) -> dict[str, dg.MetadataValue]:
    return {f"{LOAD_COUNT_PREFIX}{name}": dg.MetadataValue.int(value) for name, value in counts.items()}


def records_table(rows: Sequence[Mapping[str, Any]]) -> dg.MetadataValue:
    """A list of dicts (same keys) as a table in the UI; cells made JSON-safe and cut to 80 characters."""
    columns = tuple(rows[0]) if rows else ()
    records = [dg.TableRecord({key: _cell(row[key]) for key in columns}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=_string_schema(columns))


@functools.cache
def _string_schema(columns: tuple[str, ...]) -> dg.TableSchema:
    # Immutable, and the same for every partition of a range: built once, not 761 times.
    return dg.TableSchema(columns=[dg.TableColumn(key, "string") for key in columns])


def _cell(value: Any) -> Any:
    safe = json_safe(value)
    if isinstance(safe, str):
        return safe[:80]
    return safe if safe is None or isinstance(safe, int | float | bool) else str(safe)[:80]


def table_metadata(schema: str, table: str, columns: Sequence[tuple[str, str, str]] = ()) -> dict[str, Any]:
    """``dagster/table_name`` (with the configured schema) and ``dagster/column_schema`` (name, type, doc)."""
    metadata: dict[str, Any] = {"dagster/table_name": f"{schema}.{table}"}
    if columns:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name, kind, description=doc or None) for name, kind, doc in columns]
        )
    return metadata


def run_summary(result: Any) -> tuple[dict[str, dict[str, int]], int, int | None]:
    """From a finished run: per asset its load counts and row count, the API requests and the quota left.

    A range run records one materialization per partition; run-wide figures (API requests) sit on one of
    them only, so adding them up counts each request once.
    """
    rows: dict[str, dict[str, int]] = {}
    requests, quota = 0, None
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        asset = materialization.asset_key.to_user_string()
        values = {key: value.value for key, value in materialization.metadata.items()}
        counts = rows.setdefault(asset, {})
        for key, value in values.items():
            if key.startswith(LOAD_COUNT_PREFIX) and isinstance(value, int):
                name = key.removeprefix(LOAD_COUNT_PREFIX)
                counts[name] = counts.get(name, 0) + value
        if isinstance(values.get(ROW_COUNT), int):
            counts["rows"] = counts.get("rows", 0) + values[ROW_COUNT] if event.partition else values[ROW_COUNT]
        requests += int(values.get(API_REQUESTS) or 0)
        if values.get(QUOTA_REMAINING) is not None:
            quota = int(values[QUOTA_REMAINING])
    return rows, requests, quota
