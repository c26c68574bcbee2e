"""Plain records exchanged between the Toggl client (which produces them) and the warehouse (which stores them).

They carry no HTTP and no SQL knowledge: the client parses Toggl's JSON into them, the warehouse writes them to
PostgreSQL. All datetimes are timezone-aware UTC; money is in currency units (``Decimal``), never cents.

They are frozen msgspec Structs rather than frozen dataclasses: same attributes, keyword or positional
construction, equality, hashing and repr, but built about 5x faster, which matters at hundreds of thousands of
entries per backfill (``benchmarks/decode_bench.py``). ``msgspec.structs.fields``/``replace`` stand in for the
``dataclasses`` helpers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec


class WorkspaceRecord(msgspec.Struct, frozen=True, gc=False):
    """A workspace the token's user belongs to. Every other record carries its ``workspace_id``."""

    id: int
    organization_id: int | None
    name: str
    default_currency: str | None = None
    default_hourly_rate: Decimal | None = None
    rounding: int | None = None  # 0 nearest, 1 up, -1 down (reference §2.3)
    rounding_minutes: int | None = None
    updated_at: datetime | None = None  # Toggl's ``at``


class ClientRecord(msgspec.Struct, frozen=True, gc=False):
    id: int
    workspace_id: int
    name: str
    is_archived: bool | None
    # Toggl exposes no creation time for clients; ``at`` (last modification) is the best available stand-in.
    created_at: datetime
    updated_at: datetime | None = None
    notes: str | None = None


class ProjectRecord(msgspec.Struct, frozen=True, gc=False):
    id: int
    workspace_id: int
    client_id: int | None
    name: str
    color: str | None
    is_private: bool | None
    is_active: bool | None
    is_billable: bool | None
    created_at: datetime
    archived_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None
    rate: Decimal | None = None
    currency: str | None = None
    server_deleted_at: datetime | None = None


class TagRecord(msgspec.Struct, frozen=True, gc=False):
    id: int
    workspace_id: int
    name: str
    created_at: datetime
    updated_at: datetime | None = None


class UserRecord(msgspec.Struct, frozen=True, gc=False):
    """A member of the workspace (``id`` is Toggl's global user id, the ``user_id`` of time entries)."""

    id: int
    workspace_id: int
    name: str | None
    email: str | None
    is_active: bool | None = None
    is_admin: bool | None = None
    rate: Decimal | None = None
    timezone: str | None = None
    updated_at: datetime | None = None


class TaskRecord(msgspec.Struct, frozen=True, gc=False):
    id: int
    workspace_id: int
    project_id: int | None
    name: str
    user_id: int | None = None
    is_active: bool | None = None
    estimated_seconds: int | None = None
    tracked_ms: int | None = None
    rate: Decimal | None = None
    updated_at: datetime | None = None


class EntryRecord(msgspec.Struct, frozen=True, gc=False):
    """One time entry, as the detailed report (or ``/me/time_entries/current``) describes it.

    A running entry has ``end`` and ``duration_ms`` set to None. The ``*_name``/``user_email`` fields are the
    names the report carries alongside the ids; the warehouse uses them to create placeholder rows for
    references it has not seen in the metadata tables yet.
    """

    id: int
    workspace_id: int
    project_id: int | None
    task_id: int | None
    user_id: int | None
    description: str | None
    start: datetime
    end: datetime | None
    duration_ms: int | None
    is_billable: bool | None
    billable_amount: Decimal | None
    currency: str | None
    tags: tuple[str, ...] = ()
    tag_ids: tuple[int, ...] = ()
    updated_at: datetime | None = None
    hourly_rate: Decimal | None = None
    project_name: str | None = None
    client_name: str | None = None
    task_name: str | None = None
    user_name: str | None = None
    user_email: str | None = None
