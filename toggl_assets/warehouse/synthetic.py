"""Synthetic records for tests and benchmarks of the warehouse (no randomness unless a seed is given)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from toggl_assets.records import ClientRecord, EntryRecord, ProjectRecord, TagRecord, UserRecord

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


def synthetic_entries(
    count: int, start: datetime = EPOCH, *, first_id: int = 1, seed: int = 0, span_days: int = 365
) -> Iterator[EntryRecord]:
    """``count`` plausible entries spread over ``span_days`` from ``start``, referencing users 1-20,
    projects 1-200, tasks 1-500 and tags 1-50 by id and name (so merges create placeholders)."""
    rng = random.Random(seed)
    step = span_days * 86400 / max(count, 1)
    for n in range(count):
        seconds = rng.randint(60, 4 * 3600)
        project_id = rng.randint(1, 200)
        tags = rng.sample(range(1, 51), rng.randint(0, 3))
        billable = rng.random() < 0.5
        yield entry(
            first_id + n,
            start + timedelta(seconds=int(n * step)),
            seconds,
            project_id=project_id,
            project_name=f"Project {project_id}",
            task_id=rng.choice([None, rng.randint(1, 500)]),
            task_name=None,
            user_id=rng.randint(1, 20),
            user_name=None,
            description=f"work item {n} – {rng.random():.6f}",
            is_billable=billable,
            billable_amount=Decimal(seconds * 25) / 3600 if billable else None,
            currency="EUR",
            tags=tuple(f"tag {t}" for t in tags),
            tag_ids=tuple(tags),
            hourly_rate=Decimal("25.00"),
        )
