"""Configuration from environment variables (and an optional ``.env`` file), validated in one place.

Every variable is documented in README.md and ``.env.example``. Values that are secrets (the API token,
database URLs) are read by Dagster through ``dg.EnvVar`` at run time; this module only validates the
non-secret ones that shape definitions (partitions, schedule) and the CLI.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_URL = "https://api.track.toggl.com"
DEFAULT_START_DATE = "2020-01-01"
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable, never a secret value."""


def load_dotenv_file(path: Path | None = None) -> None:
    """Load ``.env`` from the working directory (or ``path``) without overriding variables already set."""
    from dotenv import load_dotenv

    load_dotenv(path or Path.cwd() / ".env", override=False)


def parse_date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def parse_timezone(value: str, name: str = "TOGGL_TIMEZONE") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as Europe/Berlin, got {value!r}") from None
    return value


def parse_weekday(value: str, name: str = "TOGGL_WEEK_START") -> int:
    """Return the weekday as Toggl's ``beginning_of_week`` number: 0 = Sunday, 1 = Monday, ... 6 = Saturday."""
    cleaned = value.strip().lower()
    if cleaned.isdigit() and int(cleaned) < 7:
        return int(cleaned)
    if cleaned in WEEKDAYS:
        return WEEKDAYS.index(cleaned)
    raise ConfigError(f"{name} must be a weekday name such as monday (or 0-6, 0 = Sunday), got {value!r}")


def validate_schema_name(value: str, name: str) -> str:
    """The warehouse's rule for schema names, reported as a configuration error."""
    from toggl_assets.warehouse.db import InvalidNameError
    from toggl_assets.warehouse.db import validate_schema_name as warehouse_rule

    try:
        return warehouse_rule(value, name)
    except InvalidNameError as error:
        raise ConfigError(str(error)) from None


def parse_workspace_ids(value: str, name: str = "TOGGL_WORKSPACE_ID") -> tuple[int, ...]:
    """One workspace id or a comma-separated list; empty means every workspace the token's user belongs to."""
    ids: list[int] = []
    for part in (piece.strip() for piece in value.split(",")):
        if not part:
            continue
        if not part.isdigit() or int(part) == 0:
            raise ConfigError(f"{name} must be workspace ids separated by commas (e.g. 123,456), got {value!r}")
        if int(part) not in ids:
            ids.append(int(part))
    return tuple(ids)


def parse_owners(value: str, name: str = "TOGGL_OWNERS") -> tuple[str, ...]:
    """Asset owners: e-mail addresses or ``team:name``, comma-separated (Dagster refuses anything else)."""
    owners = tuple(part.strip() for part in value.split(",") if part.strip())
    for owner in owners:
        if not (owner.startswith("team:") and len(owner) > 5) and not re.fullmatch(r"[^@\s]+@[^@\s]+", owner):
            raise ConfigError(f"{name} entries must be e-mail addresses or team:<name>, got {owner!r}")
    return owners


def _int_in_range(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number


def _number(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative, got {value!r}")
    return number


def _boolean(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """The non-secret settings that shape definitions and the CLI."""

    timezone: str = "UTC"
    start_date: date = date.fromisoformat(DEFAULT_START_DATE)  # noqa: RUF009 (immutable value)
    week_start: int = 1  # Toggl's beginning_of_week: 0 = Sunday, 1 = Monday
    trailing_days: int = 7
    raw_schema: str = "raw"
    analytics_schema: str = "analytics"
    schedule_hour: int = 2
    home: Path = Path(".toggl_assets")
    schedule_enabled: bool = False
    requests_per_second: float = 1.0
    max_quota_wait_seconds: float = 900.0
    page_size: int = 10_000
    workspace_ids: tuple[int, ...] = ()  # empty: every workspace of the token's user
    owners: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        get = lambda name, default: (env.get(name) or "").strip() or default  # noqa: E731
        return cls(
            timezone=parse_timezone(get("TOGGL_TIMEZONE", "UTC")),
            start_date=parse_date(get("TOGGL_START_DATE", DEFAULT_START_DATE), "TOGGL_START_DATE"),
            week_start=parse_weekday(get("TOGGL_WEEK_START", "monday")),
            trailing_days=_int_in_range(get("TOGGL_SYNC_TRAILING_DAYS", "7"), "TOGGL_SYNC_TRAILING_DAYS", 1, 366),
            raw_schema=validate_schema_name(get("TOGGL_RAW_SCHEMA", "raw"), "TOGGL_RAW_SCHEMA"),
            analytics_schema=validate_schema_name(get("TOGGL_ANALYTICS_SCHEMA", "analytics"), "TOGGL_ANALYTICS_SCHEMA"),
            schedule_hour=_int_in_range(get("TOGGL_SCHEDULE_HOUR", "2"), "TOGGL_SCHEDULE_HOUR", 0, 23),
            home=Path(get("TOGGL_ASSETS_HOME", ".toggl_assets")).expanduser().resolve(),
            schedule_enabled=_boolean(get("TOGGL_SCHEDULE_ENABLED", "false"), "TOGGL_SCHEDULE_ENABLED"),
            requests_per_second=_number(get("TOGGL_REQUESTS_PER_SECOND", "1"), "TOGGL_REQUESTS_PER_SECOND"),
            max_quota_wait_seconds=_number(get("TOGGL_MAX_QUOTA_WAIT_SECONDS", "900"), "TOGGL_MAX_QUOTA_WAIT_SECONDS"),
            page_size=_int_in_range(get("TOGGL_PAGE_SIZE", "10000"), "TOGGL_PAGE_SIZE", 1, 1_000_000),
            workspace_ids=parse_workspace_ids(get("TOGGL_WORKSPACE_ID", "")),
            owners=parse_owners(get("TOGGL_OWNERS", "")),
        )
