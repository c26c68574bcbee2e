"""The Toggl simulator's API behaviour, asserted over real HTTP (toggl-api.md is the reference)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec

TODAY = datetime.now(UTC).date()
PLUS00 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
ZULU = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MICRO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def session(sim: Simulator, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = (token or sim.api_token, "api_token")
    return s


def report(s: requests.Session, sim: Simulator, **body: object) -> requests.Response:
    return s.post(f"{sim.url}/reports/api/v3/workspace/{sim.workspace_id}/search/time_entries", json=body)


def ws(sim: Simulator, tail: str) -> str:
    return f"{sim.url}/api/v9/workspaces/{sim.workspace_id}{tail}"


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """The default historical workspace (2024-01-01..2024-03-31, 2000 entries). Read-only tests only."""
    with Simulator(SimulatorConfig()) as s:
        yield s


@pytest.fixture(scope="module")
def recent() -> Iterator[Simulator]:
    """A workspace whose entries end today, so /me/time_entries (90-day window) can see them. Read-only."""
    spec = WorkspaceSpec(seed=7, users=2, entries=4000, start=TODAY - timedelta(days=40), end=TODAY)
    with Simulator(SimulatorConfig(spec=spec)) as s:
        yield s


@pytest.fixture
def fresh() -> Iterator[Simulator]:
    """A small recent workspace for tests that write."""
    spec = WorkspaceSpec(seed=3, users=4, entries=300, start=TODAY - timedelta(days=20), end=TODAY)
    with Simulator(SimulatorConfig(spec=spec)) as s:
        yield s


# ------------------------------------------------------------------------------ auth
def test_auth_missing_wrong_and_both_schemes(sim: Simulator) -> None:
    r = requests.get(f"{sim.url}/api/v9/me")
    assert r.status_code == 401 and r.content == b"" and r.headers["X-Authorization-Missing"] == "true"
    r = requests.get(f"{sim.url}/api/v9/me", auth=("0" * 32, "api_token"))
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/json; charset=utf-8" and isinstance(r.json(), str)
    r = requests.get(f"{sim.url}/api/v9/me", headers={"Authorization": "Basic !!!notbase64"})
    assert r.status_code == 403
    r = requests.get(f"{sim.url}/api/v9/me", auth=(sim.email, "wrong password"))
    assert r.status_code == 403
    me = requests.get(f"{sim.url}/api/v9/me", auth=(sim.email, sim.password)).json()
    assert me["email"] == sim.email and me["default_workspace_id"] == sim.workspace_id
    assert session(sim).get(f"{sim.url}/api/v9/me").json()["id"] == me["id"]
    assert requests.post(report(session(sim), sim).url, json={"start_date": "2024-01-01"}).status_code == 401
    r = session(sim).get(f"{sim.url}/api/v9/workspaces/{sim.workspace_id + 1}/clients")
    assert r.status_code == 403 and isinstance(r.json(), str)
    assert sim.url.startswith("http://127.0.0.1:")


# ------------------------------------------------------------------------------ v9 reads
def test_me_workspace_and_time_formats(sim: Simulator) -> None:
    s = session(sim)
    me = s.get(f"{sim.url}/api/v9/me").json()
    assert MICRO_Z.match(me["at"]) and me["timezone"] == "Europe/Berlin" and me["beginning_of_week"] == 1
    assert me["clients"] is None
    related = s.get(f"{sim.url}/api/v9/me", params={"with_related_data": "true"}).json()
    assert len(related["projects"]) == len(sim.truth.projects) and related["workspaces"][0]["id"] == sim.workspace_id
    w = s.get(ws(sim, "")).json()
    assert w["default_currency"] == "USD" and w["default_hourly_rate"] == 85.0 and w["business_ws"] is True
    assert [x["id"] for x in s.get(f"{sim.url}/api/v9/me/workspaces").json()] == [sim.workspace_id]
    org = s.get(f"{sim.url}/api/v9/me/organizations").json()[0]
    assert org["pricing_plan_name"] == "Premium"
    clients = s.get(ws(sim, "/clients"), params={"status": "both"}).json()
    assert all(PLUS00.match(c["at"]) and c["wid"] == sim.workspace_id for c in clients)
    projects = s.get(ws(sim, "/projects"), params={"active": "both"}).json()
    assert all(PLUS00.match(p["at"]) and p["wid"] == p["workspace_id"] and p["cid"] == p["client_id"] for p in projects)
    tags = s.get(ws(sim, "/tags")).json()
    assert all(MICRO_Z.match(t["at"]) for t in tags)
    assert sorted(t["id"] for t in tags) == sorted(t["id"] for t in sim.truth.tags)


def test_clients_status_filter(sim: Simulator) -> None:
    s = session(sim)
    truth = sim.truth.clients
    default = s.get(ws(sim, "/clients")).json()
    assert {c["id"] for c in default} == {c["id"] for c in truth if not c["archived"]}
    archived = s.get(ws(sim, "/clients"), params={"status": "archived"}).json()
    assert archived and all(c["archived"] for c in archived)
    assert len(s.get(ws(sim, "/clients"), params={"status": "both"}).json()) == len(truth)
    r = s.get(ws(sim, "/clients"), params={"status": "bogus"})
    assert r.status_code == 400 and r.json() == "Client status is invalid"


def test_projects_paging_and_active_filter(sim: Simulator) -> None:
    s = session(sim)
    seen: list[int] = []
    page = 1
    while True:
        chunk = s.get(ws(sim, "/projects"), params={"active": "both", "per_page": 5, "page": page}).json()
        assert isinstance(chunk, list) and len(chunk) <= 5
        if not chunk:
            break
        seen += [p["id"] for p in chunk]
        page += 1
    assert page == 4 and sorted(seen) == sorted(p["id"] for p in sim.truth.projects)
    default = s.get(ws(sim, "/projects")).json()  # omitted `active` = active only
    assert {p["id"] for p in default} == {p["id"] for p in sim.truth.projects if p["active"]}
    inactive = s.get(ws(sim, "/projects"), params={"active": "false"}).json()
    assert inactive and not any(p["active"] for p in inactive)
    assert any(p["is_private"] for p in seen_projects(s, sim)) and any(p["rate"] for p in seen_projects(s, sim))
    deleted = {p["id"] for p in sim.truth.deleted_projects}
    assert deleted and not deleted & set(seen)


def seen_projects(s: requests.Session, sim: Simulator) -> list[dict]:
    return s.get(ws(sim, "/projects"), params={"active": "both"}).json()


def test_projects_per_page_is_capped_at_200() -> None:
    spec = WorkspaceSpec(seed=2, projects=230, entries=40, edge_cases=False)
    with Simulator(SimulatorConfig(spec=spec)) as big:
        s = session(big)
        first = s.get(ws(big, "/projects"), params={"active": "both", "per_page": 500}).json()
        assert len(first) == 200
        assert len(s.get(ws(big, "/projects"), params={"active": "both"}).json()) == 151  # default per_page
        second = s.get(ws(big, "/projects"), params={"active": "both", "per_page": 200, "page": 2}).json()
        assert len(second) == 30


def test_tasks_envelope_and_free_plan_402() -> None:
    spec = WorkspaceSpec(seed=4, tasks=45, entries=50)
    with Simulator(SimulatorConfig(spec=spec, quota_plan="premium")) as paid:
        s = session(paid)
        body = s.get(ws(paid, "/tasks"), params={"active": "both", "per_page": 20, "page": 3}).json()
        assert set(body) == {"data", "page", "per_page", "sort_field", "sort_order", "total_count"}
        assert body["total_count"] == 45 and body["page"] == 3 and len(body["data"]) == 5
        default = s.get(ws(paid, "/tasks")).json()
        assert default["per_page"] == 50 and default["total_count"] == sum(t["active"] for t in paid.truth.tasks)
        ids = []
        for page in (1, 2, 3):
            ids += [
                t["id"]
                for t in s.get(ws(paid, "/tasks"), params={"active": "both", "per_page": 20, "page": page}).json()[
                    "data"
                ]
            ]
        assert sorted(ids) == sorted(t["id"] for t in paid.truth.tasks)
    spec = WorkspaceSpec(seed=4, tasks=10, entries=50, plan="free")
    with Simulator(SimulatorConfig(spec=spec, quota_plan="free")) as free:
        s = session(free)
        r = s.get(ws(free, "/tasks"))
        assert r.status_code == 402 and isinstance(r.json(), str)
        assert "X-Toggl-Quota-Remaining" not in r.headers and "X-Toggl-Quota-Resets-In" not in r.headers
        ok = s.get(ws(free, "/clients"))
        assert ok.status_code == 200 and ok.headers["X-Toggl-Quota-Remaining"] == "29"  # 402 was not counted
        assert s.get(ws(free, "")).json()["premium"] is False


def test_users_and_workspace_users(sim: Simulator) -> None:
    s = session(sim)
    users = s.get(ws(sim, "/users")).json()
    assert {u["id"] for u in users} == {u["uid"] for u in sim.truth.users}
    assert {"id", "email", "fullname", "inactive", "is_active", "is_admin", "role"} <= set(users[0])
    wus = s.get(ws(sim, "/workspace_users")).json()
    assert all(w["uid"] == w["user_id"] and w["id"] != w["uid"] for w in wus)
    assert {w["timezone"] for w in wus} >= {"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"}
    assert any(w["rate"] for w in wus) and any(not w["active"] for w in wus)


# ------------------------------------------------------------------------------ /me/time_entries
def test_me_time_entries_limits_and_errors(recent: Simulator) -> None:
    s = session(recent)
    url = f"{recent.url}/api/v9/me/time_entries"
    r = s.get(url, params={"since": 1, "before": "2024-01-01"})
    assert r.status_code == 400 and r.content == b"\"'since' and 'before' can not be present simultaneously\""
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    old = int((datetime.now(UTC) - timedelta(days=100)).timestamp())
    r = s.get(url, params={"since": old})
    assert r.status_code == 400 and r.json() == "Since cannot be older than 3 months"
    r = s.get(url, params={"start_date": (TODAY - timedelta(days=120)).isoformat(), "end_date": TODAY.isoformat()})
    assert r.status_code == 400 and isinstance(r.json(), str)
    rows = s.get(
        url,
        params={
            "start_date": (TODAY - timedelta(days=40)).isoformat(),
            "end_date": (TODAY + timedelta(days=1)).isoformat(),
        },
    ).json()
    owner = s.get(f"{recent.url}/api/v9/me").json()["id"]
    mine = [e for e in recent.truth.entries if e["user_id"] == owner]
    assert len(mine) > 1000 and len(rows) == 1000  # capped
    assert all(e["user_id"] == owner for e in rows)  # only the caller's own entries
    starts = [ts(e["start"]) for e in rows]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert rows[0]["id"] == max(mine, key=lambda e: (e["start"], e["id"]))["id"]
    assert all(PLUS00.match(e["start"]) and MICRO_Z.match(e["at"]) for e in rows)
    assert all(e["wid"] == recent.workspace_id and e["uid"] == owner for e in rows)


def test_me_time_entries_date_only_end_is_exclusive(recent: Simulator) -> None:
    s = session(recent)
    d = TODAY - timedelta(days=10)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    owner = s.get(f"{recent.url}/api/v9/me").json()["id"]
    expected = {e["id"] for e in recent.truth.entries_between(d, d) if e["user_id"] == owner}
    assert expected
    same_day = s.get(
        f"{recent.url}/api/v9/me/time_entries",
        params={"start_date": d.isoformat(), "end_date": d.isoformat()},
    ).json()
    assert same_day == []
    whole_day = s.get(
        f"{recent.url}/api/v9/me/time_entries",
        params={"start_date": d.isoformat(), "end_date": (d + timedelta(days=1)).isoformat()},
    ).json()
    assert {e["id"] for e in whole_day} == expected
    with_meta = s.get(
        f"{recent.url}/api/v9/me/time_entries",
        params={"start_date": d.isoformat(), "end_date": (d + timedelta(days=1)).isoformat(), "meta": "true"},
    ).json()
    named = [e for e in with_meta if e["project_id"] is not None]
    assert named and all(e["project_name"] and "client_name" in e and e["user_name"] for e in named)


def test_current_entry(recent: Simulator) -> None:
    s = session(recent)
    cur = s.get(f"{recent.url}/api/v9/me/time_entries/current").json()
    assert cur["stop"] is None and cur["duration"] == -int(ts(cur["start"]).timestamp())
    assert recent.running_entry()["id"] == cur["id"]
    other = next(t for uid, t in recent.user_tokens.items() if t != recent.api_token)
    r = session(recent, other).get(f"{recent.url}/api/v9/me/time_entries/current")
    assert r.status_code == 200 and r.content == b"null"


# ------------------------------------------------------------------------------ writes
def test_create_stop_update_delete(fresh: Simulator) -> None:
    s = session(fresh)
    url = ws(fresh, "/time_entries")
    start = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    r = s.post(url, json={"start": start.isoformat(), "duration": -1, "workspace_id": fresh.workspace_id})
    assert r.status_code == 400 and "created_with" in r.json()
    before = fresh.truth.entry_count
    old_running = fresh.running_entry()
    created = s.post(
        url,
        json={
            "created_with": "tests",
            "start": start.isoformat(),
            "duration": -1,
            "description": "new",
            "tags": ["fresh tag", "billed"],
            "workspace_id": fresh.workspace_id,
        },
    ).json()
    assert created["duration"] == -1 and created["stop"] is None and ZULU.match(created["start"])
    assert fresh.truth.entry_count == before + 1
    # Starting a new running entry stopped the previous one (documented choice).
    assert fresh.truth.entry(old_running["id"])["stop"] is not None
    assert "fresh tag" in {t["name"] for t in fresh.truth.tags}
    cur = s.get(f"{fresh.url}/api/v9/me/time_entries/current").json()
    assert cur["id"] == created["id"] and cur["duration"] == -int(start.timestamp())
    stopped = s.patch(ws(fresh, f"/time_entries/{created['id']}/stop"))
    assert stopped.status_code == 200 and stopped.json()["duration"] >= 0 and ZULU.match(stopped.json()["stop"])
    again = s.patch(ws(fresh, f"/time_entries/{created['id']}/stop"))
    assert again.status_code == 409 and again.json() == "Time entry already stopped"
    assert s.get(f"{fresh.url}/api/v9/me/time_entries/current").json() is None
    at_before = fresh.truth.entry(created["id"])["at"]
    upd = s.put(ws(fresh, f"/time_entries/{created['id']}"), json={"description": "renamed", "tag_ids": []})
    assert upd.status_code == 200 and upd.json()["description"] == "renamed" and upd.json()["tags"] == []
    assert fresh.truth.entry(created["id"])["at"] > at_before
    gone = s.delete(ws(fresh, f"/time_entries/{created['id']}"))
    assert gone.status_code == 200 and gone.content == b""
    assert created["id"] in fresh.truth.deleted_entry_ids and fresh.truth.entry(created["id"]) is None
    since = int((datetime.now(UTC) - timedelta(hours=1)).timestamp())
    changed = s.get(f"{fresh.url}/api/v9/me/time_entries", params={"since": since}).json()
    deleted = [e for e in changed if e["id"] == created["id"]]
    assert deleted and PLUS00.match(deleted[0]["server_deleted_at"])
    assert any(e["id"] == old_running["id"] and e["server_deleted_at"] is None for e in changed)
    assert s.delete(ws(fresh, f"/time_entries/{created['id']}")).status_code == 404
    stopped_only = s.post(
        url,
        json={
            "created_with": "tests",
            "start": start.isoformat(),
            "duration": 600,
            "workspace_id": fresh.workspace_id,
        },
    ).json()
    assert stopped_only["duration"] == 600 and ZULU.match(stopped_only["stop"])


def test_direct_manipulation_helpers(fresh: Simulator) -> None:
    start = datetime(TODAY.year, TODAY.month, TODAY.day, 3, tzinfo=UTC) - timedelta(days=2)
    e = fresh.create_entry(start=start, duration_seconds=1800, description="helper", tags=["x"], billable=True)
    assert e["duration"] == 1800 and e["tags"] == ["x"]
    e2 = fresh.update_entry(e["id"], description="helper 2", start=start + timedelta(hours=1))
    assert e2["description"] == "helper 2" and e2["duration"] == 1800
    fresh.delete_entry(e["id"])
    assert e["id"] in fresh.truth.deleted_entry_ids
    result = fresh.apply_daily_edits(TODAY - timedelta(days=3), edits=3, deletions=2, additions=4, seed=1)
    assert len(result["added"]) == 4 and len(result["deleted"]) <= 2 and len(result["edited"]) <= 3
    assert not set(result["deleted"]) & {x["id"] for x in fresh.truth.entries}


# ------------------------------------------------------------------------------ reports v3
def page_through(s: requests.Session, sim: Simulator, **body: object) -> tuple[list[dict], int]:
    rows: list[dict] = []
    requests_made = 0
    cursor: dict[str, object] = {}
    while True:
        r = report(s, sim, **body, **cursor)
        requests_made += 1
        assert r.status_code == 200, r.text
        rows += r.json()
        if "X-Next-Row-Number" not in r.headers:
            assert "X-Next-ID" not in r.headers
            return rows, requests_made
        cursor = {
            "first_row_number": int(r.headers["X-Next-Row-Number"]),
            "first_id": int(r.headers["X-Next-ID"]),
        }
        assert r.json()[-1]["row_number"] + 1 == cursor["first_row_number"]


def test_reports_paging_covers_every_entry_once(sim: Simulator) -> None:
    s = session(sim)
    rows, n = page_through(s, sim, start_date="2024-01-01", end_date="2024-03-31", page_size=250)
    truth = {e["id"]: e for e in sim.truth.entries if e["stop"] is not None}  # running omitted by default
    ids = [r["time_entries"][0]["id"] for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) == set(truth)
    assert n == -(-len(truth) // 250) and [r["row_number"] for r in rows] == list(range(1, len(rows) + 1))
    keys = [(ts(r["time_entries"][0]["start"]), r["time_entries"][0]["id"]) for r in rows]
    assert keys == sorted(keys)  # stable (start, id) order
    for r in rows:
        te = r["time_entries"][0]
        e = truth[te["id"]]
        assert ts(te["start"]) == ts(e["start"]) and ts(te["stop"]) == ts(e["stop"])
        assert te["seconds"] == e["duration"] and r["user_id"] == e["user_id"]
        assert r["description"] == e["description"] and r["project_id"] == e["project_id"]
        assert r["tag_ids"] == e["tag_ids"] and r["billable"] == e["billable"]
        assert OFFSET.match(te["start"]) and PLUS00.match(te["at"]) and OFFSET.match(te["at_tz"])
    # The first_id cursor alone resumes at the same place.
    page2 = report(s, sim, start_date="2024-01-01", end_date="2024-03-31", page_size=250, first_id=ids[250]).json()
    assert page2[0]["time_entries"][0]["id"] == ids[250] and page2[0]["row_number"] == 251


def test_reports_dates_inclusive_filters_and_errors(sim: Simulator) -> None:
    s = session(sim)
    one_day = report(s, sim, start_date="2024-02-14", end_date="2024-02-14", page_size=1000).json()
    expected = {e["id"] for e in sim.truth.entries_between(date(2024, 2, 14), date(2024, 2, 14))}
    assert {r["time_entries"][0]["id"] for r in one_day} == expected
    assert report(s, sim, start_date="2024-02-15", end_date="2024-02-14").status_code == 400
    assert report(s, sim).status_code == 400
    assert isinstance(report(s, sim, start_date="2024-01-01", end_date="2024-03-01", order_by="x").json(), str)
    user = sim.truth.users[1]["uid"]
    rows, _ = page_through(s, sim, start_date="2024-01-01", end_date="2024-03-31", page_size=1000, user_ids=[user])
    assert rows and {r["user_id"] for r in rows} == {user}
    no_project, _ = page_through(
        s, sim, start_date="2024-01-01", end_date="2024-03-31", page_size=1000, project_ids=[None]
    )
    assert no_project and all(r["project_id"] is None for r in no_project)
    last = report(s, sim, start_date="2024-03-31", end_date="2024-03-31", page_size=1000)
    assert "X-Next-ID" not in last.headers
    clamped = report(s, sim, start_date="2024-01-01", end_date="2024-03-31", page_size=5000)
    assert clamped.status_code == 200 and len(clamped.json()) == 1000
    desc = report(s, sim, start_date="2024-01-01", end_date="2024-03-31", order_dir="DESC").json()
    assert ts(desc[0]["time_entries"][0]["start"]) >= ts(desc[-1]["time_entries"][0]["start"])


def test_reports_page_size_reject_and_running_and_user_tz() -> None:
    spec = WorkspaceSpec(seed=5, entries=300, start=date(2024, 5, 1), end=date(2024, 5, 31))
    config = SimulatorConfig(
        spec=spec,
        page_size_overflow="reject",
        max_page_size=100,
        reports_include_running=True,
        bare_date_tz="user",
    )
    with Simulator(config) as sim:
        s = session(sim)
        r = report(s, sim, start_date="2024-05-01", end_date="2024-05-31", page_size=101)
        assert r.status_code == 400 and isinstance(r.json(), str)
        rows, _ = page_through(s, sim, start_date="2024-05-01", end_date="2024-05-31", page_size=100)
        running = sim.running_entry()
        assert any(x["time_entries"][0]["id"] == running["id"] and x["time_entries"][0]["stop"] is None for x in rows)
        # Dates are read in each entry's user zone: every row's local start day is inside the range.
        assert all("2024-05-01" <= x["time_entries"][0]["start"][:10] <= "2024-05-31" for x in rows)


def test_reports_money_in_cents_rate_resolution(fresh: Simulator) -> None:
    s = session(fresh)
    projects = fresh.truth.projects
    rated = next(p for p in projects if p["rate"] is not None)
    plain = next(p for p in projects if p["rate"] is None and p["active"])
    users = fresh.truth.users
    with_rate = next(u for u in users if u["rate"] is not None and u["active"])
    owner = next(u for u in users if u["uid"] == s.get(f"{fresh.url}/api/v9/me").json()["id"])
    assert owner["rate"] is None
    day = datetime(TODAY.year, TODAY.month, TODAY.day, tzinfo=UTC) - timedelta(days=5)
    cases = [  # (user, project, seconds, billable, expected rate cents, currency)
        (owner["uid"], rated["id"], 5400, True, round(rated["rate"] * 100), rated["currency"]),
        (with_rate["uid"], plain["id"], 1001, True, round(with_rate["rate"] * 100), "USD"),
        (owner["uid"], plain["id"], 3599, True, 8500, "USD"),
        (owner["uid"], None, 3600, False, None, "USD"),
    ]
    for i, (uid, pid, secs, billable, _rate, _cur) in enumerate(cases):
        fresh.create_entry(
            user_id=uid,
            start=day + timedelta(hours=i),
            duration_seconds=secs,
            description=f"money case {i}",
            project_id=pid,
            billable=billable,
        )
    rows = report(
        s,
        fresh,
        start_date=day.date().isoformat(),
        end_date=day.date().isoformat(),
        description="money case",
        page_size=50,
    ).json()
    assert len(rows) == 4
    by_desc = {r["description"]: r for r in rows}
    for i, (_uid, _pid, secs, billable, rate, cur) in enumerate(cases):
        row = by_desc[f"money case {i}"]
        assert row["currency"] == cur and row["hourly_rate_in_cents"] == rate
        if billable:
            exact = secs * rate / 3600
            assert row["billable_amount_in_cents"] == int(exact + 0.5)
            assert isinstance(row["billable_amount_in_cents"], int)
        else:
            assert row["billable_amount_in_cents"] is None


# ------------------------------------------------------------------------------ generated data
def test_edge_cases_present(sim: Simulator) -> None:
    entries = sim.truth.entries
    descs = [e["description"] for e in entries]
    assert None in descs and "" in descs and any(d and len(d) == 10_000 for d in descs)
    assert any(d and "🚀" in d for d in descs)
    assert any(e["project_id"] is None for e in entries)
    assert any(ts(e["start"]).time().isoformat() == "00:00:00" for e in entries)
    assert any(e["stop"] and ts(e["start"]).date() != ts(e["stop"]).date() for e in entries)
    assert sum(e["stop"] is None for e in entries) == 1
    tag_names = {t["name"] for t in sim.truth.tags}
    assert any("," in n for n in tag_names) and any('"' in n for n in tag_names)
    listed_projects = {p["id"] for p in session(sim).get(ws(sim, "/projects"), params={"active": "both"}).json()}
    listed_tags = {t["id"] for t in sim.truth.tags}
    assert any(e["project_id"] and e["project_id"] not in listed_projects for e in entries)
    assert any(set(e["tag_ids"]) - listed_tags for e in entries)
    assert sim.truth.entry_count == 2000
    assert all(date(2024, 1, 1) <= ts(e["start"]).astimezone(UTC).date() <= date(2024, 3, 31) for e in entries)
    weekdays = sum(ts(e["start"]).weekday() < 5 for e in entries)
    assert weekdays > 0.85 * len(entries)


def test_determinism_from_seed() -> None:
    spec = WorkspaceSpec(seed=11, entries=500)
    a, b = Simulator(SimulatorConfig(spec=spec)), Simulator(SimulatorConfig(spec=spec))
    assert a.truth.entries == b.truth.entries and a.api_token == b.api_token
    assert a.truth.projects == b.truth.projects and a.workspace_id == b.workspace_id
    c = Simulator(SimulatorConfig(spec=WorkspaceSpec(seed=12, entries=500)))
    assert c.truth.entries != a.truth.entries


# ------------------------------------------------------------------------------ control endpoints
def test_control_endpoints(fresh: Simulator) -> None:
    s = session(fresh)
    requests.post(f"{fresh.url}/_simulator/reset_stats")
    s.get(ws(fresh, "/clients"))
    s.get(ws(fresh, "/clients"))
    stats = requests.get(f"{fresh.url}/_simulator/stats").json()
    assert stats["total"] == 2 and stats["by_endpoint"] == {"GET /api/v9/workspaces/{wid}/clients": 2}
    assert fresh.stats()["total"] == 2
    summary = requests.get(f"{fresh.url}/_simulator/truth/summary").json()
    assert summary["entries"] == fresh.truth.entry_count and sum(summary["entries_by_day"].values()) == 300
    d = TODAY - timedelta(days=2)
    got = requests.get(
        f"{fresh.url}/_simulator/truth/entries", params={"start": d.isoformat(), "end": d.isoformat()}
    ).json()
    assert [e["id"] for e in got] == [e["id"] for e in fresh.truth.entries_between(d, d)]
    edits = requests.post(
        f"{fresh.url}/_simulator/daily_edits",
        json={"day": d.isoformat(), "edits": 2, "deletions": 1, "additions": 1, "seed": 3},
    ).json()
    assert len(edits["added"]) == 1
    assert requests.post(f"{fresh.url}/_simulator/quota", json={"plan": "starter", "window_seconds": 60}).ok
    assert s.get(ws(fresh, "/tags")).headers["X-Toggl-Quota-Remaining"] == "239"
    assert requests.post(f"{fresh.url}/_simulator/faults", json={"rate": 1.0, "kinds": ["500"], "seed": 1}).ok
    assert s.get(ws(fresh, "/tags")).status_code == 500
    assert requests.get(f"{fresh.url}/_simulator/stats").status_code == 200  # never faulted
    assert requests.post(f"{fresh.url}/_simulator/faults", json={"rate": 0}).ok
    assert json.loads(requests.get(f"{fresh.url}/_simulator/stats").text)["total"] == 4


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
)
def test_report_times_per_hour_offset_match_the_zones_own_formatting(zone: str) -> None:
    """The report page's fast times equal ``datetime.fromtimestamp(ts, zone).isoformat()`` every 7 min 13 s over
    two years (DST changes of an hour and of 30 minutes, a +05:45 zone, a zone that skipped a day) and at every
    second around each of the zone's transitions."""
    from zoneinfo import ZoneInfo

    from toggl_assets.simulator.timefmt import ZoneTimes, in_zone

    tz = ZoneInfo(zone)
    fast = ZoneTimes()
    first = int(datetime(2011, 1, 1, tzinfo=UTC).timestamp())
    stamps = list(range(first, first + 2 * 366 * 86_400, 433))
    offsets = [tz.utcoffset(datetime.fromtimestamp(ts, UTC)) for ts in stamps]
    transitions = [stamps[i] for i in range(1, len(stamps)) if offsets[i] != offsets[i - 1]]
    assert bool(transitions) == (zone not in ("UTC", "Asia/Kathmandu"))  # fixed offsets there
    for near in transitions:
        stamps.extend(range(near - 3_600, near + 4_000))
    assert [fast(ts, tz) for ts in stamps] == [in_zone(ts, tz) for ts in stamps]


def test_utc_times_match_the_standard_formatting() -> None:
    """``plus00`` (strftime once per hour) writes what datetime writes, every 7 min 13 s over two years, every
    second of an hour, before 1970 and beyond year 9999."""
    from toggl_assets.simulator.timefmt import plus00

    first = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    stamps = [*range(first, first + 2 * 366 * 86_400, 433), *range(first, first + 3_601), -1, -86_399, 0]
    expected = [datetime.fromtimestamp(ts, UTC).isoformat() for ts in stamps]
    assert [plus00(ts) for ts in stamps] == expected
    assert plus00(253_402_300_800) == "10000-01-01T00:00:00+00:00"
