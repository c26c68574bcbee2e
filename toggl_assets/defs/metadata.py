"""Materialization metadata shared by the assets: API usage, load counts and a short preview."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import dagster as dg

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
        "api_requests": dg.MetadataValue.int(stats.total - (before.total if before is not None else 0)),
        "api_requests_by_endpoint": dg.MetadataValue.json(by_endpoint),
    }
    if stats.quota_remaining is not None:
        metadata["api_quota_remaining"] = dg.MetadataValue.int(int(stats.quota_remaining))
    if stats.quota_resets_in is not None:
        metadata["api_quota_resets_in_seconds"] = dg.MetadataValue.int(int(stats.quota_resets_in))
    return metadata


def load_metadata(stats: Any) -> dict[str, dg.MetadataValue]:
    """Every integer field of a warehouse load-stats dataclass, e.g. inserted/updated/unchanged/deleted."""
    return {
        f"rows_{field.name}": dg.MetadataValue.int(value)
        for field in dataclasses.fields(stats)
        if isinstance(value := getattr(stats, field.name), int) and not isinstance(value, bool)
    }


def _cell(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value if not isinstance(value, str) else value[:80]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)[:80]


def preview_metadata(records: Sequence[Any], columns: Sequence[str]) -> dg.MetadataValue:
    """The first rows of what was loaded, as a table in the UI (descriptions are cut to 80 characters)."""
    rows = [dg.TableRecord({column: _cell(getattr(r, column)) for column in columns}) for r in records[:PREVIEW_ROWS]]
    schema = dg.TableSchema(columns=[dg.TableColumn(column, "string") for column in columns])
    return dg.MetadataValue.table(records=rows, schema=schema)
