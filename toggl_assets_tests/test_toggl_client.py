"""TogglClient over real HTTP against the local Toggl simulator (no mocks)."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from toggl_assets.records import EntryRecord
from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec
from toggl_assets.toggl import (
    TogglAuthError,
    TogglClient,
    TogglConnectionError,
    TogglError,
    TogglQuotaError,
    TogglWorkspaceAccessError,
)

START, END = date(2024, 1, 1), date(2024, 3, 31)
REPORT = "POST /reports/api/v3/workspace/{wid}/search/time_entries"
CLIENTS = "GET /api/v9/workspaces/{wid}/clients"
PROJECTS = "GET /api/v9/workspaces/{wid}/projects"
TAGS = "GET /api/v9/workspaces/{wid}/tags"
USERS = "GET /api/v9/workspaces/{wid}/workspace_users"
TASKS = "GET /api/v9/workspaces/{wid}/tasks"
WORKSPACES = "GET /api/v9/me/workspaces"
FAST = {"requests_per_second": 0, "backoff_base": 0.01, "backoff_cap": 0.05}


def _spec(**over: Any) -> WorkspaceSpec:
    base: dict[str, Any] = {
        "seed": 1, "users": 5, "clients": 4, "projects": 12, "tags": 10, "tasks": 20, "entries": 2000,
        "start": START, "end": END, "plan": "premium", "edge_cases": True,
    }  # fmt: skip
    return WorkspaceSpec(**{**base, **over})


def _config(spec: WorkspaceSpec | None = None, **over: Any) -> SimulatorConfig:
    return SimulatorConfig(spec=spec or _spec(), **{"slow_seconds": 0.2, **over})


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """Fault-free, unlimited premium workspace shared by the read-only tests (they reset stats as needed)."""
    with Simulator(_config()) as s:
        yield s


def _client(sim: Simulator, **over: Any) -> TogglClient:
    return TogglClient(sim.api_token, sim.url, **{**FAST, **over})


def _entries(client: TogglClient, wid: int, start: date = START, end: date = END) -> list[EntryRecord]:
    return [e for page in client.iter_entry_pages(wid, start, end) for e in page]


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _finished_truth(sim: Simulator) -> list[dict[str, Any]]:
    return [e for e in sim.truth.entries if e["stop"] is not None]


def _everything(client: TogglClient, wid: int) -> dict[str, Any]:
    return {
        "clients": sorted(client.clients(wid), key=lambda r: r.id),
        "projects": sorted(client.projects(wid), key=lambda r: r.id),
        "tags": sorted(client.tags(wid), key=lambda r: r.id),
        "users": sorted(client.users(wid), key=lambda r: r.id),
        "tasks": sorted(client.tasks(wid) or [], key=lambda r: r.id),
        "entries": sorted(_entries(client, wid), key=lambda r: r.id),
    }


# -- ground truth --


def test_lists_equal_ground_truth(sim: Simulator) -> None:
    wid = sim.workspace_id
    with _client(sim) as client:
        clients = {c.id: c for c in client.clients(wid)}
        projects = {p.id: p for p in client.projects(wid)}
        tags = {t.id: t for t in client.tags(wid)}
        users = {u.id: u for u in client.users(wid)}
        tasks = {t.id: t for t in client.tasks(wid) or []}

    truth_clients = {c["id"]: c for c in sim.truth.clients}
    assert clients.keys() == truth_clients.keys()
    assert any(c["archived"] for c in truth_clients.values()), "workspace should have an archived client"
    for cid, c in truth_clients.items():
        assert (clients[cid].name, clients[cid].is_archived) == (c["name"], c["archived"])
        assert clients[cid].created_at == _ts(c["at"])

    truth_projects = {p["id"]: p for p in sim.truth.projects}
    assert projects.keys() == truth_projects.keys()
    assert any(not p["active"] for p in truth_projects.values()), "workspace should have an inactive project"
    for pid, p in truth_projects.items():
        got = projects[pid]
        assert (got.name, got.client_id, got.is_active, got.is_billable, got.color, got.is_private) == (
            p["name"], p["client_id"], p["active"], p["billable"], p["color"], p["is_private"]
        )  # fmt: skip
        assert got.created_at == _ts(p["created_at"]) and got.updated_at == _ts(p["at"])
        assert got.archived_at == (None if p["active"] else _ts(p["at"]))
        assert got.rate == (None if p["rate"] is None else Decimal(str(p["rate"])))
        assert (got.currency, got.status, got.workspace_id) == (p["currency"], p["status"], sim.workspace_id)

    assert {t["id"]: t["name"] for t in sim.truth.tags} == {i: t.name for i, t in tags.items()}

    truth_users = {u["uid"]: u for u in sim.truth.users}
    assert users.keys() == truth_users.keys()
    for uid, u in truth_users.items():
        got = users[uid]
        assert (got.name, got.email, got.timezone, got.is_admin) == (
            u["name"],
            u["email"],
            u["timezone"],
            u["admin"],
        )
        assert got.is_active == (u["active"] and not u["inactive"])
        assert got.rate == (None if u["rate"] is None else Decimal(str(u["rate"])))

    truth_tasks = {t["id"]: t for t in sim.truth.tasks}
    assert tasks.keys() == truth_tasks.keys()
    for tid, t in truth_tasks.items():
        got = tasks[tid]
        assert (got.name, got.project_id, got.is_active, got.tracked_ms, got.user_id) == (
            t["name"], t["project_id"], t["active"], t["tracked_seconds"], t["user_id"]
        )  # fmt: skip


def test_entries_equal_ground_truth(sim: Simulator) -> None:
    with _client(sim) as client:
        entries = {e.id: e for e in _entries(client, sim.workspace_id)}
    truth = {e["id"]: e for e in _finished_truth(sim)}
    assert len(entries) == len(truth) > 1000
    assert entries.keys() == truth.keys()
    for eid, t in truth.items():
        e = entries[eid]
        assert (e.start, e.end, e.duration_ms) == (_ts(t["start"]), _ts(t["stop"]), t["duration"] * 1000), eid
        assert (e.user_id, e.project_id, e.task_id, e.description, e.is_billable) == (
            t["user_id"], t["project_id"], t["task_id"], t["description"], t["billable"]
        ), eid  # fmt: skip
        assert e.tag_ids == tuple(t["tag_ids"] or ())
        assert sorted(e.tags) == sorted(t["tags"] or ())  # (an edge case references a deleted tag)
        rate_cents, currency = sim.truth.report_rate(eid)
        assert e.currency == currency
        if t["billable"] and rate_cents is not None:
            assert e.hourly_rate == Decimal(rate_cents) / 100
            cents = (Decimal(t["duration"]) / 3600 * rate_cents).quantize(Decimal(1), ROUND_HALF_UP)
            assert e.billable_amount == cents / 100, eid
        else:  # the simulator, like the EVR fixture, sends null rate and amount on non-billable rows
            assert e.billable_amount is None and e.hourly_rate is None
        assert e.start.tzinfo is not None and e.start.utcoffset().total_seconds() == 0


def test_sub_range_and_empty_range(sim: Simulator) -> None:
    with _client(sim) as client:
        feb = _entries(client, sim.workspace_id, date(2024, 2, 1), date(2024, 2, 29))
        expected = {e["id"] for e in sim.truth.entries_between(date(2024, 2, 1), date(2024, 2, 29)) if e["stop"]}
        assert {e.id for e in feb} == expected
        sim.reset_stats()
        pages = list(client.iter_entry_pages(sim.workspace_id, date(2030, 1, 1), date(2030, 1, 2)))
        assert pages == [[]]
        assert sim.stats()["by_endpoint"] == {REPORT: 1}
        with pytest.raises(ValueError):
            list(client.iter_entry_pages(sim.workspace_id, END, START))


# -- request counts --


def test_exact_request_counts_with_workspace_id(sim: Simulator) -> None:
    """Workspace: 4 clients, 12 projects, 10 tags, 5 users, 20 tasks, 1999 finished entries, max page 1000."""
    sim.reset_stats()
    with _client(sim) as client:
        _everything(client, sim.workspace_id)
        expected = {CLIENTS: 1, PROJECTS: 1, TAGS: 1, USERS: 1, TASKS: 1, REPORT: 2}  # 1999 rows / 1000
        assert sim.stats()["by_endpoint"] == expected
        assert sim.stats()["total"] == 7
        assert client.stats.requests_by_endpoint == expected
        assert client.stats.total == 7 and client.stats.retries == 0
        assert client.stats.requests_by_workspace == {sim.workspace_id: 7}
        # The server clamps 10 000 to 1 000; the client learned it and now asks for what it gets.
        assert client.stats.page_size_used == 1000 == client.page_size


def test_one_connection_serves_every_request_of_a_session(sim: Simulator) -> None:
    """Bodies are read to their end in one call and the connection goes back to the pool: a session's metadata
    lists and report pages (the next one asked from another thread) all travel over one kept-alive connection."""
    with _client(sim, page_size=500) as client:
        sim.reset_stats()
        _everything(client, sim.workspace_id)
        assert sim.stats()["by_endpoint"][REPORT] == 4
        assert sim.stats()["connections"] == 1


def test_a_rate_limited_answer_keeps_the_connection_for_the_retry(sim: Simulator) -> None:
    """A 429's short body is read too, so the connection goes back to the pool: the retry (and every request
    after it) travels over the same kept-alive connection instead of opening a new one per refusal."""
    with _client(sim, page_size=500) as client:
        sim.reset_stats()
        sim.set_faults(rate=0.3, kinds=("429",), seed=5)
        try:
            everything = _everything(client, sim.workspace_id)
        finally:
            sim.set_faults(rate=0.0)
        stats = sim.stats()
        assert stats["faults_injected"] >= 2 and len(everything["entries"]) == len(_finished_truth(sim))
        assert stats["connections"] == 1


def _report_requests_reach(sim: Simulator, count: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while sim.stats()["by_endpoint"].get(REPORT, 0) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return sim.stats()["by_endpoint"].get(REPORT, 0) == count


def test_next_report_page_is_asked_for_while_a_page_is_used(sim: Simulator) -> None:
    """A page's headers name the next page: it is asked for at once, while the reader still holds this page, so
    Toggl prepares it meanwhile; no page is asked for twice. A reader of updated entries, which may stop after
    any page, gets no request ahead of it."""
    with _client(sim, page_size=500) as client:
        sim.reset_stats()
        pages = client.iter_entry_pages(sim.workspace_id, START, END)
        first = next(pages)
        assert len(first) == 500
        assert _report_requests_reach(sim, 2)
        entries = first + [e for page in pages for e in page]
        assert sorted(e.id for e in entries) == sorted(e["id"] for e in _finished_truth(sim))
        assert sim.stats()["by_endpoint"] == {REPORT: 4} == client.stats.requests_by_endpoint

        sim.reset_stats()
        updated = client.iter_updated_entry_pages(sim.workspace_id, START, END, datetime(2000, 1, 1, tzinfo=UTC))
        assert len(next(updated)) == 500
        assert not _report_requests_reach(sim, 2, seconds=0.5)
        assert sim.stats()["by_endpoint"] == {REPORT: 1}


def test_workspaces_is_one_request_and_nothing_else_needs_me(sim: Simulator) -> None:
    sim.reset_stats()
    with _client(sim) as client:
        (workspace,) = client.workspaces()
        client.clients(workspace.id)
        client.tags(workspace.id)
        assert client.stats.requests_by_workspace == {sim.workspace_id: 2}
    assert sim.stats()["by_endpoint"] == {WORKSPACES: 1, CLIENTS: 1, TAGS: 1}
    truth = sim.truth.workspace
    assert (workspace.id, workspace.organization_id, workspace.name) == (
        sim.workspace_id,
        sim.organization_id,
        truth["name"],
    )
    assert workspace.default_currency == truth["default_currency"]
    assert workspace.default_hourly_rate == (
        None if truth["default_hourly_rate"] is None else Decimal(str(truth["default_hourly_rate"]))
    )
    assert (workspace.rounding, workspace.rounding_minutes) == (truth["rounding"], truth["rounding_minutes"])
    assert workspace.updated_at == _ts(truth["at"])


def test_paging_of_projects_and_tasks() -> None:
    """400 projects = 2 full pages + 1 empty terminating page; 450 tasks = 3 pages (the last one short);
    400 tasks = 2 pages because total_count says everything arrived."""
    with Simulator(_config(_spec(projects=400, tasks=450, entries=50))) as s450, _client(s450) as client:
        s450.reset_stats()
        assert {p.id for p in client.projects(s450.workspace_id)} == {p["id"] for p in s450.truth.projects}
        assert {t.id for t in client.tasks(s450.workspace_id) or []} == {t["id"] for t in s450.truth.tasks}
        assert s450.stats()["by_endpoint"] == {PROJECTS: 3, TASKS: 3}
    with Simulator(_config(_spec(projects=401, tasks=400, entries=50))) as s400, _client(s400) as client:
        s400.reset_stats()
        assert len(client.projects(s400.workspace_id)) == len(s400.truth.projects)
        assert len(client.tasks(s400.workspace_id) or []) == 400
        assert s400.stats()["by_endpoint"] == {PROJECTS: 3, TASKS: 2}


def test_page_size_rejection_halves_until_accepted() -> None:
    with Simulator(_config(page_size_overflow="reject")) as s, _client(s) as client:
        entries = _entries(client, s.workspace_id)
        assert {e.id for e in entries} == {e["id"] for e in _finished_truth(s)}
        # 10000 -> 5000 -> 2500 -> 1250 rejected, 625 accepted: 4 rejections + ceil(1999 / 625) pages.
        assert client.stats.page_size_rejections == 4
        assert client.stats.page_size_used == 625
        assert s.stats()["by_endpoint"] == {REPORT: 8} == client.stats.requests_by_endpoint


def test_pacing_spaces_requests(sim: Simulator) -> None:
    with _client(sim, requests_per_second=20) as client:
        began = time.monotonic()
        for _ in range(5):
            client.tags(sim.workspace_id)
        assert time.monotonic() - began >= 4 / 20 * 0.95
        assert client.stats.paced_seconds > 0.1


def test_base_url_variants(sim: Simulator) -> None:
    for base in (sim.url, sim.url + "/", sim.url + "/api/v9", sim.url + "/api/v9/"):
        with TogglClient(sim.api_token, base, requests_per_second=0) as client:
            assert len(client.tags(sim.workspace_id)) == 10
            assert len(next(client.iter_entry_pages(sim.workspace_id, START, START))) > 0
            assert repr(client) == f"TogglClient(base_url={sim.url!r})"


def test_current_entry(sim: Simulator) -> None:
    running = sim.running_entry()
    assert running is not None
    with _client(sim) as client:
        current = client.current_entry()
        assert current is not None
        assert (current.id, current.end, current.duration_ms) == (running["id"], None, None)
        assert current.start == _ts(running["start"])
        sim.update_entry(running["id"], duration=600)
        try:
            assert client.current_entry() is None
        finally:
            sim.update_entry(running["id"], stop=None)
        assert sim.running_entry() is not None


# -- plan, quota --


def test_free_plan_tasks_are_skipped_with_a_warning() -> None:
    with Simulator(_config(_spec(plan="free", entries=100), quota_plan="free")) as s, _client(s) as client:
        assert client.tasks(s.workspace_id) is None
        assert len(client.warnings) == 1 and "tasks" in client.warnings[0]
        assert str(s.workspace_id) in client.warnings[0]
        assert client.stats.quota_waits == 0 and client.stats.retries == 0
        assert s.stats()["by_endpoint"] == {TASKS: 1}
        assert len(client.clients(s.workspace_id)) == len(s.truth.clients)  # the client keeps working


def test_quota_wait_then_complete() -> None:
    """Free plan, 30 requests per 3 s window: a 45-page report must wait for a reset and still be complete."""
    with (
        Simulator(_config(_spec(entries=2000), quota_plan="free", quota_window_seconds=3)) as s,
        _client(s, page_size=45, max_quota_wait_seconds=10) as client,
    ):
        entries = _entries(client, s.workspace_id)
        assert {e.id for e in entries} == {e["id"] for e in _finished_truth(s)}
        assert client.stats.quota_waits >= 1
        assert client.stats.waited_seconds >= 1
        # The client waited before burning a 402: every request it sent was answered.
        assert client.stats.total == s.stats()["total"] == 45
        assert client.stats.quota_remaining is not None


def test_quota_exhausted_raises_with_clear_message() -> None:
    with (
        Simulator(_config(_spec(entries=2000), quota_plan="free", quota_window_seconds=3600)) as s,
        _client(s, page_size=45, max_quota_wait_seconds=0) as client,
    ):
        with pytest.raises(TogglQuotaError) as info:
            _entries(client, s.workspace_id)
        message = str(info.value)
        assert "30 request(s) this run" in message and "retry after" in message and "UTC" in message
        assert "in 60 min" in message
        # It stopped before spending a 402: exactly the 30 requests of the window reached the server.
        assert s.stats()["total"] == 30 == client.stats.total
        assert client.stats.quota_remaining == 0


def test_quota_402_with_headers_is_waited_out() -> None:
    """A second client shares the same user's quota: this one sees a 402 with headers, waits and retries."""
    with (
        Simulator(_config(_spec(entries=100), quota_plan="free", quota_window_seconds=2)) as s,
        _client(s) as hog,
        _client(s, max_quota_wait_seconds=10) as client,
    ):
        for _ in range(30):
            hog.tags(s.workspace_id)
        assert len(client.clients(s.workspace_id)) == len(s.truth.clients)
        assert client.stats.quota_waits == 1
        assert client.stats.requests_by_endpoint == {CLIENTS: 2}
    with (
        Simulator(_config(_spec(entries=100), quota_plan="free", quota_window_seconds=3600)) as s,
        _client(s) as hog,
        _client(s, max_quota_wait_seconds=60) as client,
    ):
        for _ in range(30):
            hog.tags(s.workspace_id)
        with pytest.raises(TogglQuotaError, match=r"retry after \d\d:\d\d UTC \(in 60 min\)"):
            client.clients(s.workspace_id)


# -- faults, auth --


def test_faults_do_not_change_results(sim: Simulator) -> None:
    with _client(sim) as client:
        clean = _everything(client, sim.workspace_id)
    with Simulator(_config(fault_rate=0.3, fault_seed=7)) as faulty:
        assert faulty.workspace_id == sim.workspace_id
        with TogglClient(faulty.api_token, faulty.url, timeout=(2.0, 5.0), max_retries=10, **FAST) as client:
            # Small pages: more requests, so every fault kind is likely to hit at least once.
            client.page_size = 250
            assert _everything(client, faulty.workspace_id) == clean
            # Every fault but "slow" (shorter than the read timeout) costs exactly one retry.
            assert 0 < client.stats.retries <= faulty.stats()["faults_injected"]


def test_slow_answers_beyond_the_read_timeout_are_retried() -> None:
    config = _config(_spec(entries=50), fault_rate=0.5, fault_kinds=("slow",), fault_seed=1, slow_seconds=0.6)
    with Simulator(config) as s, _client(s, timeout=(2.0, 0.3), max_retries=10) as client:
        for _ in range(4):
            assert len(client.tags(s.workspace_id)) == 10
        assert client.stats.retries == s.stats()["faults_injected"] > 0


def test_running_entries_in_reports_have_no_end() -> None:
    with Simulator(_config(_spec(entries=100), reports_include_running=True)) as s, _client(s) as client:
        running = s.running_entry()
        assert running is not None
        entries = {e.id: e for e in _entries(client, s.workspace_id)}
        assert entries.keys() == {e["id"] for e in s.truth.entries}
        assert (entries[running["id"]].end, entries[running["id"]].duration_ms) == (None, None)
        assert entries[running["id"]].start == _ts(running["start"])


def test_wrong_token_raises_auth_error(sim: Simulator) -> None:
    """Structured errors the application turns into its own hint; the client never names its settings."""
    with (
        TogglClient("tok_SECRET_5f3a9c", sim.url, **FAST) as client,
        pytest.raises(TogglWorkspaceAccessError) as info,
    ):
        client.clients(sim.workspace_id)
    assert isinstance(info.value, TogglAuthError)
    assert (info.value.status, info.value.workspace_id, info.value.endpoint) == (403, sim.workspace_id, CLIENTS)
    message = str(info.value)
    assert "403" in message and "token" in message and f"workspace {sim.workspace_id}" in message
    assert "tok_SECRET_5f3a9c" not in message and "TOGGL_" not in message
    with TogglClient("tok_SECRET_5f3a9c", sim.url, **FAST) as client, pytest.raises(TogglAuthError) as me:
        client.workspaces()
    assert not isinstance(me.value, TogglWorkspaceAccessError)
    assert "403" in str(me.value) and "token" in str(me.value) and "TOGGL_" not in str(me.value)


def test_unknown_workspace_is_a_workspace_access_error(sim: Simulator) -> None:
    with _client(sim) as client:
        for call in (client.clients, client.tags, lambda wid: _entries(client, wid)):
            with pytest.raises(TogglWorkspaceAccessError) as info:
                call(1234567)
            assert info.value.workspace_id == 1234567 and info.value.status == 403
            assert "workspace 1234567" in str(info.value) and "TOGGL_" not in str(info.value)
        assert len(client.tags(sim.workspace_id)) == 10  # the client keeps working for the workspaces it can read
        assert client.stats.requests_by_workspace == {1234567: 3, sim.workspace_id: 1}


def test_connection_errors_exhaust_retries() -> None:
    with (
        TogglClient("tok_SECRET_5f3a9c", "http://127.0.0.1:1", max_retries=2, **FAST) as client,
        pytest.raises(TogglConnectionError) as info,
    ):
        client.tags(5)
    assert info.value.attempts == 3 and client.stats.retries == 2
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_token_never_leaks(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 included
    secrets = []
    texts: list[str] = []
    for token in (sim.api_token, "tok_SECRET_5f3a9c"):
        secrets += [token, base64.b64encode(f"{token}:api_token".encode()).decode()]
    with Simulator(_config(_spec(entries=300), fault_rate=0.4, fault_seed=3, quota_plan="free")) as faulty:
        secrets += [faulty.api_token, base64.b64encode(f"{faulty.api_token}:api_token".encode()).decode()]
        attempts = [
            TogglClient(sim.api_token, sim.url, **FAST),  # success path, /me/workspaces included
            TogglClient(faulty.api_token, faulty.url, max_retries=10, **FAST),  # retries
            TogglClient(faulty.api_token, faulty.url, max_retries=0, max_quota_wait_seconds=0, **FAST),
            TogglClient("tok_SECRET_5f3a9c", sim.url, **FAST),  # 403
            TogglClient("tok_SECRET_5f3a9c", "http://127.0.0.1:1", max_retries=1, **FAST),  # no server
        ]
        for client in attempts:
            with client:
                texts.append(repr(client))
                for _ in range(3):
                    try:
                        client.workspaces()
                        _everything(client, sim.workspace_id)
                        client.current_entry()
                    except TogglError as exc:
                        texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
                texts += [repr(client), repr(client.stats), str(vars(client.stats)), str(client.warnings)]
    texts.append(caplog.text)
    assert any("failed" in t or "refused" in t for t in texts)
    blob = "\n".join(texts)
    for secret in secrets:
        assert secret not in blob
