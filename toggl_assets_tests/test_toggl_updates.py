"""Late edits first (detailed search by last update), quota buckets, and the client's pure helpers.

HTTP tests run against today's simulator (one workspace, one organization). Tests that need several
organizations or the totals endpoint are in ``test_toggl_client_history.py``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from toggl_assets.records import EntryRecord
from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec
from toggl_assets.toggl import QuotaSeen, TogglClient, TogglQuotaError
from toggl_assets.toggl.quota import QuotaBook, organization_bucket, workspace_bucket
from toggl_assets.toggl.transport import Request, RequestStats

START, END = date(2024, 1, 1), date(2024, 3, 31)
REPORT = "POST /reports/api/v3/workspace/{wid}/search/time_entries"
TAGS = "GET /api/v9/workspaces/{wid}/tags"
WORKSPACES = "GET /api/v9/me/workspaces"
FAST = {"requests_per_second": 0, "backoff_base": 0.01, "backoff_cap": 0.05}


def _sim(entries: int = 300, **config: Any) -> Simulator:
    spec = WorkspaceSpec(
        seed=3, users=4, clients=2, projects=5, tags=4, tasks=0, entries=entries, start=START, end=END,
        plan="premium", edge_cases=False,
    )  # fmt: skip
    return Simulator(SimulatorConfig(spec=spec, **config))


def _flat(pages: list[list[EntryRecord]]) -> list[EntryRecord]:
    return [e for page in pages for e in page]


def _finished(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sim.truth.entries if e["stop"] is not None]


# -- iter_updated_entry_pages over HTTP --


def test_an_edit_is_seen_first_and_reading_stops_at_since() -> None:
    with _sim() as sim, TogglClient(sim.api_token, sim.url, **FAST) as client:
        wid = sim.workspace_id
        since = datetime.now(UTC) - timedelta(seconds=1)
        older, newer = _finished(sim)[10], _finished(sim)[200]
        sim.update_entry(older["id"], description="fixed before invoicing")
        sim.update_entry(newer["id"], project_id=None, tags=[])
        sim.reset_stats()
        pages = list(client.iter_updated_entry_pages(wid, START, END, since))
        updated = _flat(pages)
        assert [e.id for e in updated] == [newer["id"], older["id"]]  # most recent edit first
        assert updated[1].description == "fixed before invoicing"
        assert updated[0].project_id is None and updated[0].tags == ()
        assert all(e.updated_at is not None and e.updated_at >= since for e in updated)
        # The first page already held older entries: one request, whatever the range holds.
        assert sim.stats()["by_endpoint"] == {REPORT: 1} == client.stats.requests_by_endpoint

        # Nothing edited since now: one request, one empty page.
        sim.reset_stats()
        assert list(client.iter_updated_entry_pages(wid, START, END, datetime.now(UTC))) == [[]]
        assert sim.stats()["total"] == 1


def test_updated_pages_continue_while_every_entry_is_new() -> None:
    """120 edits, pages of 50: two full pages of edits, a third cut at ``since``, then no more requests."""
    with _sim(entries=400) as sim, TogglClient(sim.api_token, sim.url, page_size=50, **FAST) as client:
        since = datetime.now(UTC) - timedelta(seconds=1)
        edited = [e["id"] for e in _finished(sim)[:120]]
        for number, entry_id in enumerate(edited):
            sim.update_entry(entry_id, description=f"edit {number}")
        sim.reset_stats()
        pages = list(client.iter_updated_entry_pages(sim.workspace_id, START, END, since))
        assert [len(p) for p in pages] == [50, 50, 20]
        assert [e.id for e in _flat(pages)] == edited[::-1]
        assert sim.stats()["by_endpoint"] == {REPORT: 3}


def test_updated_pages_of_a_long_range_read_every_span() -> None:
    with _sim() as sim, TogglClient(sim.api_token, sim.url, **FAST) as client:
        since = datetime.now(UTC) - timedelta(seconds=1)
        entry = _finished(sim)[5]
        sim.update_entry(entry["id"], description="late")
        sim.reset_stats()
        # 2023-01-01 .. 2024-03-31 is two report spans; the edit lives in the second one.
        pages = list(client.iter_updated_entry_pages(sim.workspace_id, date(2023, 1, 1), END, since))
        assert [e.id for e in _flat(pages)] == [entry["id"]]
        assert sim.stats()["by_endpoint"] == {REPORT: 2}
        with pytest.raises(ValueError, match="timezone-aware"):
            next(client.iter_updated_entry_pages(sim.workspace_id, START, END, datetime(2024, 1, 1)))


def test_plain_pages_ignore_the_update_order() -> None:
    """iter_entry_pages still returns every entry of the range after edits (no last_update ordering leaks)."""
    with _sim() as sim, TogglClient(sim.api_token, sim.url, **FAST) as client:
        sim.update_entry(_finished(sim)[0]["id"], description="x")
        entries = _flat(list(client.iter_entry_pages(sim.workspace_id, START, END)))
        assert {e.id for e in entries} == {e["id"] for e in _finished(sim)}


# -- quota buckets over HTTP --


def test_a_spent_organization_bucket_does_not_block_user_calls() -> None:
    """Free plan: 30 requests per hour per organization, 30 more on the user bucket (reference §4.2)."""
    with (
        _sim(entries=50, quota_plan="free", quota_window_seconds=3600) as sim,
        TogglClient(sim.api_token, sim.url, max_quota_wait_seconds=0, **FAST) as client,
    ):
        wid = sim.workspace_id
        for _ in range(30):
            client.tags(wid)
        assert client.stats.quota_by_bucket[workspace_bucket(wid)].remaining == 0
        (workspace,) = client.workspaces()  # user bucket: not blocked by the spent organization
        assert client.stats.quota_by_bucket["user"].remaining == 29
        assert client.stats.quota_remaining == 29  # last value seen overall, for compatibility
        with pytest.raises(TogglQuotaError) as info:
            client.tags(wid)
        # The block moved to the organization's bucket once workspaces() told the organization; no 402 spent.
        assert info.value.bucket == organization_bucket(workspace.organization_id)
        assert sim.stats()["total"] == 31 == client.stats.total
        assert client.stats.quota_waits == 0


# -- pure parts --


def test_quota_book_keeps_buckets_apart() -> None:
    now = [100.0]
    book = QuotaBook(clock=lambda: now[0])
    book.note_success("organization:1", QuotaSeen(remaining=0, resets_in=10))
    book.note_success("organization:2", QuotaSeen(remaining=5, resets_in=10))
    book.note_success("user", QuotaSeen(remaining=None, resets_in=None))
    assert book.blocked_for("organization:1") == 11.0  # the countdown plus a second of slack
    assert book.blocked_for("organization:2") == 0.0 and book.blocked_for("user") == 0.0
    now[0] = 105.0
    assert book.blocked_for("organization:1") == 6.0
    book.note_success("workspace:7", QuotaSeen(remaining=0, resets_in=None))  # default reset: 60 s
    book.move("workspace:7", "organization:1")
    assert book.blocked_for("workspace:7") == 0.0 and book.blocked_for("organization:1") == 61.0
    book.release("organization:1")
    assert book.blocked_for("organization:1") == 0.0


def test_request_stats_count_per_workspace_and_bucket() -> None:
    stats = RequestStats()
    stats.count("GET /api/v9/me/workspaces", None)
    stats.count("GET /api/v9/workspaces/{wid}/tags", 5)
    stats.count("GET /api/v9/workspaces/{wid}/tags", 5)
    stats.count("GET /api/v9/workspaces/{wid}/tags", 6)
    stats.note_quota("organization:1", QuotaSeen(3, 100.0))
    stats.note_quota("user", QuotaSeen(None, None))  # no headers: nothing recorded
    stats.note_quota("user", QuotaSeen(29, 3000.0))
    assert stats.total == 4 and stats.requests_by_workspace == {5: 2, 6: 1}
    assert stats.requests_by_endpoint == {"GET /api/v9/me/workspaces": 1, "GET /api/v9/workspaces/{wid}/tags": 3}
    assert stats.quota_by_bucket == {"organization:1": QuotaSeen(3, 100.0), "user": QuotaSeen(29, 3000.0)}
    assert (stats.quota_remaining, stats.quota_resets_in) == (29, 3000.0)


def test_requests_keep_the_workspace_out_of_the_endpoint_name() -> None:
    request = Request("GET", "/api/v9", "/workspaces/{wid}/tags", 42, organization_bucket(9))
    assert (request.endpoint, request.path, request.bucket) == (TAGS, "/workspaces/42/tags", "organization:9")
    assert Request("GET", "/api/v9", "/me/workspaces").bucket == "user"
    assert Request("GET", "/api/v9", "/me/workspaces").endpoint == WORKSPACES


def test_client_buckets_follow_the_organizations_it_learned() -> None:
    with TogglClient("tok", "http://127.0.0.1:1", **FAST) as client:
        assert client._bucket(5) == "workspace:5"
        client._organizations.update({5: 77, 6: None})
        assert client._bucket(5) == "organization:77" and client._bucket(6) == "workspace:6"
