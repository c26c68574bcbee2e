"""Record factories for warehouse tests (no randomness unless a seed is given)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from toggl_assets.records import ClientRecord, EntryRecord, ProjectRecord, TagRecord, UserRecord
from toggl_assets.simulator import WorkspaceSpec
from toggl_assets.warehouse.entries import EntryLoadStats, EntryStaging

WORKSPACE_ID = 1
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def entry(
    id: int,
    start: datetime,
    seconds: int | None = 3600,
    *,
    workspace_id: int = WORKSPACE_ID,
    **fields: Any,
) -> EntryRecord:
    """An EntryRecord starting at ``start`` lasting ``seconds`` (None = running); ``fields`` override."""
    values: dict[str, Any] = {
        "id": id,
        "workspace_id": workspace_id,
        "project_id": None,
        "task_id": None,
        "user_id": None,
        "description": f"entry {id}",
        "start": start,
        "end": None if seconds is None else start + timedelta(seconds=seconds),
        "duration_ms": None if seconds is None else seconds * 1000,
        "is_billable": False,
        "billable_amount": None,
        "currency": None,
        "updated_at": start,
    }
    values.update(fields)
    return EntryRecord(**values)


def client(id: int, name: str, **fields: Any) -> ClientRecord:
    return ClientRecord(**{"id": id, "workspace_id": WORKSPACE_ID, "name": name, "is_archived": False,
                           "created_at": EPOCH, **fields})  # fmt: skip


def project(id: int, name: str, client_id: int | None = None, **fields: Any) -> ProjectRecord:
    values: dict[str, Any] = {"id": id, "workspace_id": WORKSPACE_ID, "client_id": client_id, "name": name,
                              "color": "#06aaf5", "is_private": False, "is_active": True, "is_billable": True,
                              "created_at": EPOCH}  # fmt: skip
    return ProjectRecord(**{**values, **fields})


def tag(id: int, name: str, **fields: Any) -> TagRecord:
    return TagRecord(**{"id": id, "workspace_id": WORKSPACE_ID, "name": name, "created_at": EPOCH, **fields})


def user(id: int, name: str, **fields: Any) -> UserRecord:
    email = f"{name.lower().replace(' ', '.')}@example.com"
    return UserRecord(**{"id": id, "workspace_id": WORKSPACE_ID, "name": name, "email": email, **fields})


SPEC_DEFAULTS: dict[str, Any] = {
    "users": 3,
    "clients": 2,
    "projects": 5,
    "tags": 4,
    "tasks": 6,
    "plan": "premium",
    "edge_cases": True,
}


def workspace_spec(seed: int, entries: int, start: date, end: date, **overrides: Any) -> WorkspaceSpec:
    """A small generated workspace for the simulator; ``overrides`` change sizes, plan or edge cases."""
    return WorkspaceSpec(seed=seed, entries=entries, start=start, end=end, **{**SPEC_DEFAULTS, **overrides})


def load_entries(
    conn: Any,
    records: Any,
    window_start: datetime,
    window_end: datetime,
    *,
    workspace_id: int = WORKSPACE_ID,
    timezone: str = "UTC",
    schema: str = "raw",
    synced_at: datetime | None = None,
) -> EntryLoadStats:
    """Stage ``records`` and merge one workspace's window, in the caller's transaction (test convenience)."""
    stage = EntryStaging(conn, schema)
    stage.add(records)
    stats = stage.merge_window(workspace_id, window_start, window_end, timezone=timezone, synced_at=synced_at)
    stage.close()
    return stats
