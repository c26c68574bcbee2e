"""The simulator's several workspaces and organizations, asserted over real HTTP (toggl-api.md §2.3, §3.5, §4.2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import requests

from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec
from toggl_assets.simulator.cli import build_parser, workspace_specs

RANGE = {"start_date": "2024-01-01", "end_date": "2024-01-31"}
A = WorkspaceSpec(seed=21, users=4, entries=300, start=date(2024, 1, 1), end=date(2024, 1, 31))
B = WorkspaceSpec(seed=22, users=4, entries=200, start=date(2024, 1, 1), end=date(2024, 1, 31), organization=2)
C = WorkspaceSpec(seed=23, users=3, entries=100, start=date(2024, 1, 1), end=date(2024, 1, 31), name="Third")
WORKSPACE_FIELDS = {"id", "organization_id", "name", "default_currency", "default_hourly_rate", "rounding"}
WORKSPACE_FIELDS |= {"rounding_minutes", "at", "premium", "role", "active_project_count"}


def session(sim: Simulator, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.auth = (token or sim.api_token, "api_token")
    return s


def v9(sim: Simulator, wid: int, tail: str = "") -> str:
    return f"{sim.url}/api/v9/workspaces/{wid}{tail}"


def search(sim: Simulator, wid: int, tail: str = "") -> str:
    return f"{sim.url}/reports/api/v3/workspace/{wid}/search/time_entries{tail}"


def report_ids(s: requests.Session, sim: Simulator, wid: int) -> set[int]:
    r = s.post(search(sim, wid), json={**RANGE, "page_size": 1000})
    assert r.status_code == 200 and "X-Next-ID" not in r.headers
    return {row["time_entries"][0]["id"] for row in r.json()}


@pytest.fixture(scope="module")
def three() -> Iterator[Simulator]:
    """A and C in one organization, B in another. Read-only tests only."""
    with Simulator(SimulatorConfig(spec=A, more_workspaces=(B, C))) as sim:
        yield sim


@pytest.fixture
def fresh() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(spec=A, more_workspaces=(B, C))) as sim:
        yield sim


def test_me_workspaces_and_organizations_list_every_workspace(three: Simulator) -> None:
    s = session(three)
    wids = three.workspace_ids
    assert len(wids) == 3 and len(set(wids)) == 3 and wids[0] == three.workspace_id
    listed = s.get(f"{three.url}/api/v9/me/workspaces").json()
    assert [w["id"] for w in listed] == wids
    assert all(set(w) >= WORKSPACE_FIELDS for w in listed)
    assert [w["name"] for w in listed] == ["Simulated Workspace 21", "Simulated Workspace 22", "Third"]
    org_a, org_b, org_c = (w["organization_id"] for w in listed)
    assert org_a == org_c == three.organization_id and org_b != org_a
    orgs = s.get(f"{three.url}/api/v9/me/organizations").json()
    assert [o["id"] for o in orgs] == [org_a, org_b] and all(o["pricing_plan_name"] == "Premium" for o in orgs)
    assert s.get(f"{three.url}/api/v9/me").json()["default_workspace_id"] == wids[0]
    related = s.get(f"{three.url}/api/v9/me", params={"with_related_data": "true"}).json()
    assert [w["id"] for w in related["workspaces"]] == wids
    assert len(related["projects"]) == len(three.truth.projects)
    assert [o["id"] for o in three.truth.organizations] == [org_a, org_b]


def test_every_id_is_global(three: Simulator) -> None:
    s = session(three)
    seen: dict[str, list[int]] = {"clients": [], "projects": [], "tags": [], "tasks": [], "entries": []}
    for wid in three.workspace_ids:
        seen["clients"] += [c["id"] for c in s.get(v9(three, wid, "/clients"), params={"status": "both"}).json()]
        seen["projects"] += [p["id"] for p in s.get(v9(three, wid, "/projects"), params={"active": "both"}).json()]
        seen["tags"] += [t["id"] for t in s.get(v9(three, wid, "/tags")).json()]
        tasks = s.get(v9(three, wid, "/tasks"), params={"active": "both", "per_page": 200}).json()["data"]
        seen["tasks"] += [t["id"] for t in tasks]
        seen["entries"] += sorted(report_ids(s, three, wid))
    for kind, ids in seen.items():
        assert ids and len(ids) == len(set(ids)), kind
    assert len(seen["clients"]) == 3 * 4 and len(seen["projects"]) == 3 * 12
    assert set(three.organization_ids) == {three.organization_of(w) for w in three.workspace_ids}


def test_users_per_workspace_with_one_shared_member(three: Simulator) -> None:
    s = session(three)
    a, b, c = ({u["id"]: u for u in s.get(v9(three, wid, "/users")).json()} for wid in three.workspace_ids)
    owner = s.get(f"{three.url}/api/v9/me").json()["id"]
    shared = set(a) & set(b)
    assert owner in shared and len(shared) == 2 and set(a) & set(c) == shared and len(b) == 4 and len(c) == 3
    assert set(b) & set(c) == shared
    other = (shared - {owner}).pop()
    assert a[other]["email"] == b[other]["email"]
    # That member's token sees both workspaces and gets 403 on none of them.
    token = three.user_tokens[other]
    assert [
        w["id"] for w in session(three, token).get(f"{three.url}/api/v9/me/workspaces").json()
    ] == three.workspace_ids
    # A user of B only cannot read A.
    b_only = next(uid for uid in b if uid not in a)
    r = session(three, three.user_tokens[b_only]).get(v9(three, three.workspace_id, "/clients"))
    assert r.status_code == 403 and isinstance(r.json(), str)
    assert len(three.truth.for_workspace(three.workspace_ids[1]).users) == 4


def test_entries_of_b_never_in_reports_of_a(fresh: Simulator) -> None:
    s = session(fresh)
    wa, wb, _ = fresh.workspace_ids
    project_b = fresh.truth.for_workspace(wb).projects[0]["id"]
    created = s.post(
        v9(fresh, wb, "/time_entries"),
        json={
            "created_with": "tests",
            "workspace_id": wb,
            "start": "2024-01-10T09:00:00Z",
            "duration": 1800,
            "project_id": project_b,
            "description": "only in B",
        },
    )
    assert created.status_code == 200 and created.json()["workspace_id"] == wb
    helper = fresh.create_entry(
        start=datetime(2024, 1, 11, 9, tzinfo=UTC), duration_seconds=600, description="helper B", workspace_id=wb
    )
    in_a, in_b = report_ids(s, fresh, wa), report_ids(s, fresh, wb)
    assert not in_a & in_b
    assert {created.json()["id"], helper["id"]} <= in_b and not {created.json()["id"], helper["id"]} & in_a
    truth_a = {e["id"] for e in fresh.truth.entries_between(date(2024, 1, 1), date(2024, 1, 31), workspace_id=wa)}
    assert in_a == truth_a - {fresh.running_entry()["id"]}
    # A project of B is not usable in A.
    r = s.post(
        v9(fresh, wa, "/time_entries"),
        json={"created_with": "tests", "start": "2024-01-10T09:00:00Z", "duration": 60, "project_id": project_b},
    )
    assert r.status_code == 400
    moved = fresh.update_entry(helper["id"], description="still B")
    assert moved["workspace_id"] == wb and fresh.truth.entry(helper["id"])["description"] == "still B"


def test_membership_removal_answers_403_everywhere(fresh: Simulator) -> None:
    s = session(fresh)
    wb = fresh.workspace_ids[1]
    assert s.get(v9(fresh, wb, "/clients")).status_code == 200
    r = requests.post(f"{fresh.url}/_simulator/membership", json={"workspace_id": wb, "member": False})
    assert r.status_code == 200
    for url in (v9(fresh, wb), v9(fresh, wb, "/clients"), v9(fresh, wb, "/projects"), v9(fresh, wb, "/tags")):
        r = s.get(url)
        assert r.status_code == 403 and r.json() == "Incorrect workspace ID or you are not a member of it"
    for tail in ("", "/totals"):
        r = s.post(search(fresh, wb, tail), json=RANGE)
        assert r.status_code == 403 and r.json() == "Workspace not found/accessible"
    r = s.post(v9(fresh, wb, "/time_entries"), json={"created_with": "t", "start": "2024-01-10T09:00:00Z"})
    assert r.status_code == 403
    assert wb not in [w["id"] for w in s.get(f"{fresh.url}/api/v9/me/workspaces").json()]
    assert s.get(v9(fresh, fresh.workspace_id, "/clients")).status_code == 200  # the others still answer
    assert fresh.truth.for_workspace(wb).entry_count == 200  # entries stay in the workspace
    fresh.restore_membership(wb)
    assert s.get(v9(fresh, wb, "/clients")).status_code == 200
    fresh.remove_membership(fresh.workspace_ids[2])
    assert s.post(search(fresh, fresh.workspace_ids[2]), json=RANGE).status_code == 403


def test_quota_buckets_are_per_organization() -> None:
    config = SimulatorConfig(spec=A, more_workspaces=(B, C), quota_plan="free")
    with Simulator(config) as sim:
        s = session(sim)
        wa, wb, wc = sim.workspace_ids
        for i in range(30):  # A and C share organization 1's bucket
            r = s.get(v9(sim, wa if i % 2 else wc, "/tags"))
            assert r.status_code == 200 and r.headers["X-Toggl-Quota-Remaining"] == str(29 - i)
        for wid in (wa, wc):
            r = s.post(search(sim, wid), json=RANGE)
            assert r.status_code == 402 and r.headers["X-Toggl-Quota-Remaining"] == "0"
        r = s.post(search(sim, wb), json=RANGE)
        assert r.status_code == 200 and r.headers["X-Toggl-Quota-Remaining"] == "29"
        r = s.post(search(sim, wb, "/totals"), json=RANGE)
        assert r.status_code == 200 and r.headers["X-Toggl-Quota-Remaining"] == "28"  # totals count too
        quota = sim.stats()["quota"]
        assert quota["remaining"] == 0 and quota["organizations"][str(sim.organization_of(wb))]["remaining"] == 28
        by_org = {q["organization_id"]: q["remaining"] for q in s.get(f"{sim.url}/api/v9/me/quota").json()}
        assert by_org == {sim.organization_id: 0, sim.organization_of(wb): 28, None: 29}


def test_single_workspace_stays_as_before() -> None:
    with Simulator(SimulatorConfig(spec=A)) as sim:
        assert sim.workspace_ids == [sim.workspace_id] and sim.organization_ids == [sim.organization_id]
        assert [w["id"] for w in session(sim).get(f"{sim.url}/api/v9/me/workspaces").json()] == [sim.workspace_id]
        summary = requests.get(f"{sim.url}/_simulator/truth/summary").json()
        assert summary["workspace_id"] == sim.workspace_id and summary["entries"] == 300
    # A's data does not depend on the workspaces served next to it.
    alone, together = Simulator(SimulatorConfig(spec=A)), Simulator(SimulatorConfig(spec=A, more_workspaces=(B,)))
    assert alone.truth.entries == together.truth.for_workspace(together.workspace_id).entries
    assert alone.api_token == together.api_token and alone.workspace_id == together.workspace_id


def test_cli_spreads_workspaces_over_organizations() -> None:
    specs = workspace_specs(build_parser().parse_args(["--workspaces", "3", "--organizations", "2", "--seed", "5"]))
    assert [(s.seed, s.organization) for s in specs] == [(5, 1), (6, 2), (7, 1)]
    with pytest.raises(ValueError):
        workspace_specs(build_parser().parse_args(["--workspaces", "1", "--organizations", "2"]))
