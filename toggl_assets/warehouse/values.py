"""Value conversions shared by the warehouse's writers and readers (no SQL, no I/O)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any


def clean_text(value: str | None) -> str | None:
    """Return ``value`` with NUL bytes removed (PostgreSQL text cannot store them); everything else is kept."""
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def json_safe(value: Any) -> Any:
    """A JSON-serializable form of a value read from the warehouse: dates and times as ISO strings, ``Decimal``
    as ``float``; ``None``, strings, numbers and booleans unchanged; anything else as its ``str``."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
