"""Replace the time entries of one window (a day or a range of days) with Toggl's, for several workspaces.

Every workspace's entries are fetched page by page into one staging table (while the next page is already
being fetched), then each workspace's window is merged in ONE short transaction: a failure anywhere, in any
workspace, changes nothing; a re-run heals. Only the workspaces given are touched, and in each only entries
whose start lies in the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

from toggl_assets.sync.heap import older_objects_frozen
from toggl_assets.sync.prefetch import prefetched
from toggl_assets.toggl import TogglClient
from toggl_assets.warehouse.entries import EntryLoadStats, EntryStaging

# Reports API date filters are date-only and their zone is undocumented (UTC or each user's profile zone,
# toggl-api.md §5), so the request reaches a day further on each side; staged rows outside the window are
# ignored by the merge.
FETCH_MARGIN = timedelta(days=1)
PROGRESS_SECONDS = 5.0  # at most one progress line per workspace this often while its pages arrive


@dataclass(frozen=True)
class Window:
    """[start, end) in the partitions' time zone; ``first_day``..``last_day`` are its local days."""

    start: datetime
    end: datetime
    timezone: str

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


@dataclass(frozen=True)
class WindowSyncResult:
    """What one workspace's window replace did, and where the time went."""

    workspace_id: int
    stats: EntryLoadStats
    api_requests: int
    seconds_fetching: float
    seconds_staging: float
    seconds_merging: float


def sync_windows(
    client: TogglClient,
    conn: psycopg.Connection,
    workspace_ids: Sequence[int],
    window: Window,
    *,
    schema: str = "raw",
    now: datetime | None = None,
    log: logging.Logger | Any | None = None,
) -> dict[int, WindowSyncResult]:
    """Make each workspace's entries of ``window`` equal Toggl's; returns the result per workspace.

    ``conn`` must be an autocommit connection: the staging COPYs commit into a temporary table as pages
    arrive; the merges of all workspaces share one transaction at the end.
    """
    now = now or datetime.now(UTC)
    log = log or logging.getLogger(__name__)
    stage = EntryStaging(conn, schema=schema)
    try:
        with older_objects_frozen():
            fetched = {wid: _stage_workspace(client, stage, wid, window, log) for wid in workspace_ids}
        _stage_running_entry(client, stage, workspace_ids, window, now)
        merge_started = time.perf_counter()
        merged: dict[int, tuple[EntryLoadStats, float]] = {}
        with conn.transaction():
            for wid in workspace_ids:
                started = time.perf_counter()
                stats = stage.merge_window(wid, window.start, window.end, timezone=window.timezone, synced_at=now)
                merged[wid] = (stats, time.perf_counter() - started)
        log.info(f"merged {len(workspace_ids)} workspace(s) in {time.perf_counter() - merge_started:.2f} s")
    finally:
        stage.close()
    # The stage is shared by all workspaces: each one's "fetched" is its own pages' rows.
    return {
        wid: WindowSyncResult(wid, replace(merged[wid][0], fetched=rows), requests, fetching, staging, merged[wid][1])
        for wid, (requests, rows, fetching, staging) in fetched.items()
    }


def _stage_workspace(
    client: TogglClient, stage: EntryStaging, workspace_id: int, window: Window, log: Any
) -> tuple[int, int, float, float]:
    """Stage one workspace's report pages; returns (requests, rows, seconds fetching, seconds staging)."""
    requests_before = client.stats.requests_by_workspace.get(workspace_id, 0)
    started = time.perf_counter()
    staging = 0.0
    rows = 0
    pages = client.iter_entry_pages(workspace_id, window.first_day - FETCH_MARGIN, window.last_day + FETCH_MARGIN)
    logged = started
    number = 0
    for number, page in enumerate(prefetched(pages), 1):
        page_started = time.perf_counter()
        rows += stage.add(page)
        now = time.perf_counter()
        staging += now - page_started
        # Progress at a bounded rate: every log line is an event Dagster stores, one write each.
        if now - logged >= PROGRESS_SECONDS:
            logged = now
            log.info(f"workspace {workspace_id}: page {number}, {rows} entries fetched so far")
    fetching = time.perf_counter() - started - staging
    log.info(f"workspace {workspace_id}: {rows} entries fetched in {number} page(s), {fetching:.1f} s")
    return client.stats.requests_by_workspace.get(workspace_id, 0) - requests_before, rows, fetching, staging


def _stage_running_entry(
    client: TogglClient, stage: EntryStaging, workspace_ids: Sequence[int], window: Window, now: datetime
) -> None:
    """Whether the report lists running entries is undocumented (toggl-api.md §8.5): when the window reaches
    now, ask for the token user's running entry (one request per run, never on past days)."""
    if window.end <= now:
        return
    running = client.current_entry()
    if running is not None and running.workspace_id in workspace_ids:
        stage.add([running])
