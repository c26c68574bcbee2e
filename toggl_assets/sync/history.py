"""Keep all synced history equal to Toggl: find the days that differ, at a few requests per year, and re-sync them.

Toggl offers no feed of changes for a whole workspace (toggl-api.md §3.4). Two signals together cover it:

- **Edits, moves and new entries:** the detailed search ordered by ``last_update`` descending, read only until
  entries are older than the watermark (the newest ``at`` seen by the last reconciliation, minus a margin for
  clock skew). An entry whose ``at`` and day equal the warehouse's row is already there; any other marks its
  new day and, for a moved entry, the day the warehouse has it on.
- **Deletions:** Toggl's seconds per day (the totals endpoint, one request per span of up to a year) compared
  with the warehouse's. A day with fewer seconds in Toggl lost an entry. The zone of Toggl's day buckets is
  undocumented, so the warehouse's seconds are bucketed in each candidate zone and the best match is used; a
  pair of neighbouring days whose sums agree is a boundary shift between zones, not a difference.

Days read in full by the same run (the daily run's trailing days, re-synced just before) are not compared again:
they cost no request, which keeps the reconciliation within two requests per 365 days of older history.

Days that differ are merged into ranges of adjacent days and re-synced by the usual window replace
(:func:`toggl_assets.sync.window.sync_windows`). The watermark advances only after those merges committed.

Blind spots (see README, Guarantees): deleting an entry of 0 seconds, or deleting one entry and adding another
of exactly the same seconds on the same day, changes no total; a tag rename does not move its entries' ``at``.
A full re-verification of a range (``toggl-assets sync --start --end``) re-syncs it whatever the signals say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from toggl_assets.records import EntryRecord
from toggl_assets.sync.window import Window, WindowSyncResult, sync_windows
from toggl_assets.toggl import TogglClient
from toggl_assets.warehouse import history as store

# Toggl's `at` comes from its clock, the first watermark from ours: re-reading an hour of edits is cheap, and an
# entry already in the warehouse with the same `at` is recognised and not re-synced.
CLOCK_SKEW_MARGIN = timedelta(hours=1)
EDITED, NEW, MOVED, DELETED, SECONDS = "edited", "new", "moved", "deleted", "seconds differ"
USER_ZONES = "each user's zone"


@dataclass
class HistoryCheck:
    """One workspace's reconciliation: what was compared, what differed (day -> reasons), what was re-synced."""

    workspace_id: int
    days_compared: int = 0
    days_just_synced: int = 0
    differences: dict[date, set[str]] = field(default_factory=dict)
    resynced: list[tuple[date, date]] = field(default_factory=list)
    results: list[WindowSyncResult] = field(default_factory=list)
    zone: str | None = None
    watermark: datetime | None = None
    api_requests: int = 0

    @property
    def resynced_days(self) -> list[date]:
        return [day for first, last in self.resynced for day in _days(first, last)]

    @property
    def matches(self) -> bool:
        """True when nothing differed, or everything that differed was re-synced."""
        return set(self.differences) <= set(self.resynced_days)


def _days(first: date, last: date) -> Iterable[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def adjacent_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days merged into inclusive ranges of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def local_days_of(day: date, zone: str, timezone: str) -> list[date]:
    """The local days (in ``timezone``) that overlap ``day`` as Toggl buckets it in ``zone``: the days to re-sync
    when that bucket's seconds differ. In each user's zone, the day and its neighbours."""
    if zone == timezone:
        return [day]
    if zone == USER_ZONES:
        return [day - timedelta(days=1), day, day + timedelta(days=1)]
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(zone)) - timedelta(microseconds=1)
    return list(_days(local_day(start, timezone), local_day(end, timezone)))


def edited_days(
    updated: Sequence[EntryRecord], known: dict[int, tuple[datetime | None, date]], timezone: str
) -> dict[date, set[str]]:
    """Days touched by entries Toggl changed: new, edited, or moved (both days). ``known`` is the warehouse's
    (updated_at, local day) per id; an entry whose ``at`` and day equal the warehouse's changed nothing."""
    days: dict[date, set[str]] = {}
    for entry in updated:
        day = local_day(entry.start, timezone)
        previous = known.get(entry.id)
        if previous is None:
            days.setdefault(day, set()).add(NEW)
        elif previous[1] != day:
            days.setdefault(day, set()).add(MOVED)
            days.setdefault(previous[1], set()).add(MOVED)
        elif previous[0] != entry.updated_at:
            days.setdefault(day, set()).add(EDITED)
    return days


def seconds_differences(toggl: dict[date, int], ours: dict[date, int], days: Iterable[date]) -> dict[date, set[str]]:
    """Days whose seconds differ, ignoring a pair of neighbours whose sums agree (a zone boundary shift)."""
    wanted = sorted(set(days))
    differing = [day for day in wanted if toggl.get(day, 0) != ours.get(day, 0)]
    shifted: set[date] = set()
    for day in differing:
        after = day + timedelta(days=1)
        if day in shifted or after not in differing or after in shifted:
            continue
        if toggl.get(day, 0) + toggl.get(after, 0) == ours.get(day, 0) + ours.get(after, 0):
            shifted.update((day, after))
    return {
        day: {DELETED if toggl.get(day, 0) < ours.get(day, 0) else SECONDS} for day in differing if day not in shifted
    }


def _best_bucketing(
    toggl: dict[date, int], candidates: dict[str, dict[date, int]], days: Sequence[date]
) -> tuple[str, dict[date, set[str]]]:
    """The candidate bucketing of the warehouse's seconds that differs from Toggl on the fewest days."""
    scored = {name: seconds_differences(toggl, ours, days) for name, ours in candidates.items()}
    best = min(scored, key=lambda name: len(scored[name]))
    return best, scored[best]


def _merge(target: dict[date, set[str]], more: dict[date, set[str]], allowed: set[date]) -> None:
    for day, reasons in more.items():
        if day in allowed:
            target.setdefault(day, set()).update(reasons)


def reconcile_workspace(
    client: TogglClient,
    conn: psycopg.Connection,
    workspace_id: int,
    *,
    timezone: str,
    schema: str = "raw",
    now: datetime | None = None,
    fresh_since: datetime | None = None,
    log: logging.Logger | Any | None = None,
) -> HistoryCheck:
    """Compare the workspace's synced history (every synced day before today) with Toggl and repair it.

    Days whose window merge read Toggl at or after ``fresh_since`` (the daily run passes its own start: its
    trailing days) were just read in full; they count as compared and cost no request here.
    """
    now = now or datetime.now(UTC)
    log = log or logging.getLogger(__name__)
    check = HistoryCheck(workspace_id)
    today = local_day(now, timezone)
    synced = [day for day in store.synced_days(conn, schema, workspace_id) if day < today]
    fresh = store.days_synced_since(conn, schema, workspace_id, fresh_since) if fresh_since else set()
    stale = [day for day in synced if day not in fresh]
    check.days_compared, check.days_just_synced = len(synced), len(synced) - len(stale)
    if not stale:
        return check
    requests_before = client.stats.requests_by_workspace.get(workspace_id, 0)
    first, last = stale[0], stale[-1]
    allowed, complete = set(stale), set(synced)
    watermark = store.get_watermark(conn, schema, workspace_id) or store.first_synced_at(conn, schema, workspace_id)
    since = (watermark or now) - CLOCK_SKEW_MARGIN
    # A day of margin on each side: Toggl's report dates may be in another zone than ours (reference §5).
    updated = [
        entry
        for page in client.iter_updated_entry_pages(
            workspace_id, first - timedelta(days=1), last + timedelta(days=1), since
        )
        for entry in page
    ]
    known = store.entry_versions(conn, schema, workspace_id, [entry.id for entry in updated], timezone)
    _merge(check.differences, edited_days(updated, known, timezone), allowed)
    toggl_seconds = client.daily_seconds(workspace_id, first, last)
    candidates = {
        timezone: store.daily_seconds(conn, schema, workspace_id, first, last, timezone),
        USER_ZONES: store.daily_seconds(conn, schema, workspace_id, first, last, timezone, by_user_timezone=True),
    }
    if timezone != "UTC":
        candidates["UTC"] = store.daily_seconds(conn, schema, workspace_id, first, last, "UTC")
    # A day of another zone is compared only when every local day it overlaps is synced (else the warehouse
    # lacks part of it); the zone is chosen on the days every candidate compares, and a day that differs in it
    # re-syncs the stale local days it overlaps (the fresh ones were just read in full).
    comparable = {
        zone: [day for day in stale if complete.issuperset(local_days_of(day, zone, timezone))] for zone in candidates
    }
    common = sorted(set.intersection(*(set(days) for days in comparable.values())))
    check.zone, _ = _best_bucketing(toggl_seconds, candidates, common)
    for day, reasons in seconds_differences(toggl_seconds, candidates[check.zone], comparable[check.zone]).items():
        _merge(check.differences, dict.fromkeys(local_days_of(day, check.zone, timezone), reasons), allowed)
    _repair(client, conn, check, timezone=timezone, schema=schema, now=now, log=log)
    newest = max((entry.updated_at for entry in updated if entry.updated_at is not None), default=None)
    with conn.transaction():
        store.advance_watermark(conn, schema, workspace_id, newest or watermark or now)
    check.watermark = store.get_watermark(conn, schema, workspace_id)
    check.api_requests = client.stats.requests_by_workspace.get(workspace_id, 0) - requests_before
    return check


def _repair(
    client: TogglClient,
    conn: psycopg.Connection,
    check: HistoryCheck,
    *,
    timezone: str,
    schema: str,
    now: datetime,
    log: Any,
) -> None:
    """Re-sync each range of adjacent differing days with the usual window replace."""
    zone = ZoneInfo(timezone)
    for first, last in adjacent_ranges(check.differences):
        window = Window(
            datetime.combine(first, datetime.min.time(), zone),
            datetime.combine(last + timedelta(days=1), datetime.min.time(), zone),
            timezone,
        )
        log.info(f"workspace {check.workspace_id}: re-syncing {first} .. {last}")
        result = sync_windows(client, conn, [check.workspace_id], window, schema=schema, now=now, log=log)
        check.results.append(result[check.workspace_id])
        check.resynced.append((first, last))
