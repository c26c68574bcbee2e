"""Time formatting exactly as the real API does it (toggl-api.md §2, §5): the format differs per endpoint."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

_HOUR = 3600
_YEAR_10000 = 253_402_300_800  # unix seconds of 10000-01-01: strftime's %Y is four digits below it
# "MM:SS" of each second of an hour: a time is its hour's "YYYY-MM-DDTHH:" plus one of these.
_MINUTES_SECONDS = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))


@lru_cache(maxsize=1 << 16)
def _hour_text(hour: int) -> str:
    """``YYYY-MM-DDTHH:`` of the hour ``hour`` (hours since 1970, read as UTC)."""
    return time.strftime("%Y-%m-%dT%H:", time.gmtime(hour * _HOUR))


def _clock(seconds: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` of unix ``seconds`` read as UTC: strftime once per hour (a report page formats
    tens of thousands of times, mostly within few hours of each other's days)."""
    hour, within = divmod(seconds, _HOUR)
    return _hour_text(hour) + _MINUTES_SECONDS[within]


def plus00(ts: int) -> str:
    """Reads of time entries, clients, projects: ``2024-12-16T17:05:25+00:00``."""
    if not 0 <= ts < _YEAR_10000:
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(ts))
    return _clock(ts) + "+00:00"


def zulu(ts: int) -> str:
    """POST/PUT/PATCH echoes of time entries: ``2024-12-16T02:18:20Z`` (no fraction)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def micro_zulu(us: int) -> str:
    """``at`` of time entries, tags, /me: ``2024-11-08T19:11:14.332795Z``."""
    secs, frac = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:06d}Z"


def in_zone(ts: int, tz: ZoneInfo) -> str:
    """Reports v3 ``start``/``stop``/``at_tz``: the user's offset, e.g. ``2024-07-30T11:13:46+03:00``."""
    return datetime.fromtimestamp(ts, tz).isoformat()


class ZoneTimes:
    """:func:`in_zone` for the many timestamps of one report page, text for text, several times faster.

    The zone's offset (and its ``+03:00`` suffix) is looked up once per zone and hour of time: where the offset
    is the same at both ends of the hour, no transition lies inside it (no zone changes its offset twice within
    an hour), so every second of it has that offset. An hour with a transition, or a time outside years
    1970-9999, takes :func:`in_zone` itself.
    """

    def __init__(self) -> None:
        self._zones: dict[ZoneInfo, dict[int, tuple[int, str] | None]] = {}  # zone -> hour start -> offset

    def __call__(self, ts: int, tz: ZoneInfo) -> str:
        hours = self._zones.get(tz)
        if hours is None:
            hours = self._zones[tz] = {}
        first = ts - ts % _HOUR
        try:
            hour = hours[first]
        except KeyError:
            hour = hours[first] = self._offset_in_hour(tz, first) if 0 <= ts < _YEAR_10000 else None
        if hour is None:
            return in_zone(ts, tz)
        offset, suffix = hour
        return _clock(ts + offset) + suffix

    @staticmethod
    def _offset_in_hour(tz: ZoneInfo, first: int) -> tuple[int, str] | None:
        """(offset seconds, its suffix) throughout the hour starting at ``first``; None if it changes inside."""
        start, end = datetime.fromtimestamp(first, tz), datetime.fromtimestamp(first + _HOUR - 1, tz)
        offset = start.utcoffset()
        if offset is None or offset != end.utcoffset():
            return None
        return int(offset.total_seconds()), start.isoformat()[19:]


def day_start(d: date, tz: ZoneInfo | timezone = UTC) -> int:
    """Unix seconds of 00:00 of ``d`` in ``tz``."""
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp())


def parse_instant(value: str, tz: ZoneInfo | timezone = UTC) -> tuple[int, bool]:
    """Parse ``YYYY-MM-DD`` or RFC3339; returns (unix seconds, was_date_only). Raises ValueError."""
    value = value.strip()
    if len(value) == 10:
        return day_start(date.fromisoformat(value), tz), True
    dt = datetime.fromisoformat(value.replace("z", "Z"))
    if dt.tzinfo is None:
        raise ValueError("timestamp without offset")
    return int(dt.timestamp()), False


def zone(name: str) -> ZoneInfo | timezone:
    """A zone by IANA name, UTC as the fast built-in."""
    return UTC if name == "UTC" else ZoneInfo(name)
