"""The client across several workspaces and organizations, and Toggl's daily totals, over real HTTP.

These need the simulator with several workspaces/organizations and the ``…/search/time_entries/totals``
endpoint (``SimulatorConfig.more_workspaces``, ``WorkspaceSpec.organization``): reference §3.4, §3.5, §4.2.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec
from toggl_assets.toggl import TogglClient, TogglQuotaError, TogglWorkspaceAccessError
from toggl_assets.toggl.quota import organization_bucket

START, END = date(2024, 1, 1), date(2024, 3, 31)
TOTALS = "POST /reports/api/v3/workspace/{wid}/search/time_entries/totals"
REPORT = "POST /reports/api/v3/workspace/{wid}/search/time_entries"
TAGS = "GET /api/v9/workspaces/{wid}/tags"
FAST = {"requests_per_second": 0, "backoff_base": 0.01, "backoff_cap": 0.05}

A = WorkspaceSpec(seed=41, users=3, tasks=0, entries=400, start=START, end=END, organization=1)
B = WorkspaceSpec(seed=42, users=3, tasks=0, entries=250, start=START, end=END, organization=2)
C = WorkspaceSpec(seed=43, users=2, tasks=0, entries=150, start=START, end=END, organization=1)


def _client(sim: Simulator, **over: Any) -> TogglClient:
    return TogglClient(sim.api_token, sim.url, **{**FAST, **over})


def _truth_days(sim: Simulator, wid: int) -> dict[date, int]:
    """Seconds of stopped entries per UTC start day (the simulator's default day zone)."""
    out: dict[date, int] = defaultdict(int)
    for e in sim.truth.for_workspace(wid).entries:
        if e["stop"] is not None:
            out[datetime.fromisoformat(e["start"]).astimezone(UTC).date()] += e["duration"]
    return out


@pytest.fixture(scope="module")
def three() -> Iterator[Simulator]:
    """A and C in one organization, B in another; read-only tests."""
    with Simulator(SimulatorConfig(spec=A, more_workspaces=(B, C))) as sim:
        yield sim


def test_workspaces_lists_every_workspace_with_its_organization(three: Simulator) -> None:
    with _client(three) as client:
        listed = client.workspaces()
    assert [w.id for w in listed] == three.workspace_ids
    assert [w.organization_id for w in listed] == [three.organization_of(w) for w in three.workspace_ids]
    assert listed[0].organization_id == listed[2].organization_id != listed[1].organization_id
    assert client.stats.requests_by_endpoint == {"GET /api/v9/me/workspaces": 1}


def test_per_workspace_calls_return_that_workspace_only(three: Simulator) -> None:
    with _client(three) as client:
        client.workspaces()
        for wid in three.workspace_ids:
            truth = three.truth.for_workspace(wid)
            assert {c.id for c in client.clients(wid)} == {c["id"] for c in truth.clients}
            assert {p.id for p in client.projects(wid)} == {p["id"] for p in truth.projects}
            assert {t.id for t in client.tags(wid)} == {t["id"] for t in truth.tags}
            entries = [e for page in client.iter_entry_pages(wid, START, END) for e in page]
            assert {e.id for e in entries} == {e["id"] for e in truth.entries if e["stop"] is not None}
            assert {e.workspace_id for e in entries} == {wid}
        assert client.stats.requests_by_workspace == {wid: 4 for wid in three.workspace_ids}
        assert set(client.stats.quota_by_bucket) <= {"user"} | {
            organization_bucket(three.organization_of(w)) for w in three.workspace_ids
        }


def test_daily_seconds_match_each_days_entries(three: Simulator) -> None:
    with _client(three) as client:
        for wid in three.workspace_ids:
            days = client.daily_seconds(wid, START, END)
            truth = _truth_days(three, wid)
            assert list(days) == [START + timedelta(days=i) for i in range(91)]  # every day, zeros included
            assert days == {day: truth.get(day, 0) for day in days}
            assert sum(days.values()) > 0
        assert client.stats.requests_by_endpoint == {TOTALS: 3}


def test_daily_seconds_of_a_long_range_cost_one_request_per_span(three: Simulator) -> None:
    with _client(three) as client:
        days = client.daily_seconds(three.workspace_id, date(2023, 1, 1), END)
    assert len(days) == (END - date(2023, 1, 1)).days + 1 == 456
    assert client.stats.requests_by_endpoint == {TOTALS: 2}
    assert all(seconds == 0 for day, seconds in days.items() if day < START)
    assert {d: s for d, s in days.items() if d >= START} == {
        START + timedelta(days=i): _truth_days(three, three.workspace_id).get(START + timedelta(days=i), 0)
        for i in range(91)
    }


def test_daily_seconds_see_a_deletion() -> None:
    with Simulator(SimulatorConfig(spec=A)) as sim, _client(sim) as client:
        victim = next(e for e in sim.truth.entries if e["stop"] is not None and e["duration"] > 0)
        day = datetime.fromisoformat(victim["start"]).astimezone(UTC).date()
        before = client.daily_seconds(sim.workspace_id, day, day)
        sim.delete_entry(victim["id"])
        after = client.daily_seconds(sim.workspace_id, day, day)
        assert before[day] - after[day] == victim["duration"]


def test_a_spent_organization_does_not_block_another() -> None:
    """Free plan: 30 requests per hour per user per organization. Alternating A and C spends organization 1;
    B (organization 2) keeps working without waiting, and A fails fast without spending a 402."""
    config = SimulatorConfig(spec=A, more_workspaces=(B, C), quota_plan="free", quota_window_seconds=3600)
    with Simulator(config) as sim, _client(sim, max_quota_wait_seconds=0) as client:
        wa, wb, wc = sim.workspace_ids
        client.workspaces()
        for i in range(30):
            client.tags(wa if i % 2 else wc)
        spent = organization_bucket(sim.organization_of(wa))
        assert client.stats.quota_by_bucket[spent].remaining == 0
        for _ in range(3):
            assert {t.id for t in client.tags(wb)} == {t["id"] for t in sim.truth.for_workspace(wb).tags}
        assert client.stats.quota_by_bucket[organization_bucket(sim.organization_of(wb))].remaining == 27
        assert client.stats.quota_waits == 0 and client.stats.waited_seconds == 0
        for wid in (wa, wc):
            with pytest.raises(TogglQuotaError) as info:
                client.tags(wid)
            assert info.value.bucket == spent
        assert sim.stats()["total"] == 1 + 30 + 3 == client.stats.total  # no 402 was spent


def test_alternating_organizations_waits_only_for_the_spent_one() -> None:
    """Organization 1's window is short (3 s): A waits for its reset once, B's requests never wait."""
    config = SimulatorConfig(spec=A, more_workspaces=(B,), quota_plan="free", quota_window_seconds=3)
    with Simulator(config) as sim, _client(sim, max_quota_wait_seconds=10) as client:
        wa, wb = sim.workspace_ids
        client.workspaces()
        for _ in range(30):
            client.tags(wa)
        waits = client.stats.quota_waits
        client.tags(wb)
        assert client.stats.quota_waits == waits  # B did not wait on A's spent window
        client.tags(wa)
        assert client.stats.quota_waits == waits + 1
        assert sim.stats()["total"] == client.stats.total  # waited before sending, never a 402


def test_removed_membership_is_a_workspace_access_error() -> None:
    with Simulator(SimulatorConfig(spec=A, more_workspaces=(B,))) as sim, _client(sim) as client:
        wa, wb = sim.workspace_ids
        sim.remove_membership(wb)
        for call in (
            lambda: client.clients(wb),
            lambda: list(client.iter_entry_pages(wb, START, END)),
            lambda: client.daily_seconds(wb, START, END),
        ):
            with pytest.raises(TogglWorkspaceAccessError) as info:
                call()
            assert (info.value.workspace_id, info.value.status) == (wb, 403)
            assert f"workspace {wb}" in str(info.value) and "TOGGL_" not in str(info.value)
        assert [w.id for w in client.workspaces()] == [wa]
        assert len(client.tags(wa)) == len(sim.truth.for_workspace(wa).tags)
