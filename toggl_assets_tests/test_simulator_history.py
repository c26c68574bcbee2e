"""The simulator's signals for late edits (toggl-api.md §3.1, §3.4): the detailed search ordered by last
update, the totals endpoint, and back-dated or moved entries, asserted over real HTTP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec

START, END = date(2024, 1, 1), date(2024, 3, 31)
SPEC = WorkspaceSpec(seed=31, users=4, entries=900, start=START, end=END)


def session(sim: Simulator) -> requests.Session:
    s = requests.Session()
    s.auth = (sim.api_token, "api_token")
    return s


def post(s: requests.Session, sim: Simulator, tail: str, **body: object) -> requests.Response:
    return s.post(f"{sim.url}/reports/api/v3/workspace/{sim.workspace_id}/search/time_entries{tail}", json=body)


def day_seconds(sim: Simulator, zone_of: dict[int, ZoneInfo] | None = None) -> dict[date, int]:
    """Truth: seconds of stopped entries per start day (UTC, or each user's zone)."""
    out: dict[date, int] = defaultdict(int)
    for e in sim.truth.entries:
        if e["stop"] is None:
            continue
        start = datetime.fromisoformat(e["start"])
        tz = zone_of[e["user_id"]] if zone_of else UTC
        out[start.astimezone(tz).date()] += e["duration"]
    return out


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(spec=SPEC)) as s:
        yield s


# ------------------------------------------------------------------------------ totals
def test_totals_day_graph_matches_each_days_seconds(sim: Simulator) -> None:
    s = session(sim)
    r = post(s, sim, "/totals", start_date="2024-01-01", end_date="2024-03-31", granularity="day", with_graph=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"seconds", "billable_amount_in_cents", "labour_cost_in_cents", "tracked_days"}
    assert body["resolution"] == "day" and isinstance(body["rates"], list)
    graph = body["graph"]
    assert len(graph) == (END - START).days + 1 == 91
    truth = day_seconds(sim)
    assert [b["seconds"] for b in graph] == [truth.get(START + timedelta(days=k), 0) for k in range(91)]
    assert all(set(b) == {"seconds", "billable_amount_in_cents", "labour_cost_in_cents", "by_rate"} for b in graph)
    assert body["seconds"] == sum(truth.values()) and body["tracked_days"] == len(truth)
    assert body["billable_amount_in_cents"] == sum(b["billable_amount_in_cents"] for b in graph) > 0
    # The detailed search and the totals select the same entries.
    rows = post(s, sim, "", start_date="2024-02-01", end_date="2024-02-29", page_size=1000).json()
    feb = post(s, sim, "/totals", start_date="2024-02-01", end_date="2024-02-29", with_graph=True).json()
    assert feb["seconds"] == sum(r["time_entries"][0]["seconds"] for r in rows)
    assert feb["billable_amount_in_cents"] == sum(r["billable_amount_in_cents"] or 0 for r in rows)


def test_totals_follow_deletions_filters_and_resolution(sim: Simulator) -> None:
    s = session(sim)
    day = date(2024, 2, 14)
    body = {"start_date": "2024-02-01", "end_date": "2024-02-29", "granularity": "day", "with_graph": True}
    before = post(s, sim, "/totals", **body).json()["graph"][13]["seconds"]
    victim = next(e for e in sim.truth.entries_between(day, day) if e["duration"] > 0)
    assert s.delete(f"{sim.url}/api/v9/workspaces/{sim.workspace_id}/time_entries/{victim['id']}").status_code == 200
    after = post(s, sim, "/totals", **body).json()["graph"][13]["seconds"]
    assert after == before - victim["duration"]
    user = sim.truth.users[1]["uid"]
    mine = post(s, sim, "/totals", **body, user_ids=[user]).json()
    truth = sum(e["duration"] for e in sim.truth.entries if e["user_id"] == user and "2024-02" in e["start"][:7])
    assert mine["seconds"] == truth
    # Resolution: granularity wins over resolution; without either the span picks.
    weeks = post(s, sim, "/totals", start_date="2024-01-01", end_date="2024-03-31", resolution="week", with_graph=True)
    assert weeks.json()["resolution"] == "week" and len(weeks.json()["graph"]) == 13
    g = post(s, sim, "/totals", start_date="2024-01-01", end_date="2024-03-31", resolution="week", granularity="month")
    assert g.json()["resolution"] == "month" and g.json()["graph"] is None  # no with_graph, no graph
    auto = {
        span: post(
            s, sim, "/totals", start_date="2024-01-01", end_date=str(date(2024, 1, 1) + timedelta(days=span - 1))
        )
        for span in (31, 32, 184)
    }
    assert [auto[k].json()["resolution"] for k in (31, 32, 184)] == ["day", "week", "month"]
    months = post(
        s, sim, "/totals", start_date="2024-01-15", end_date="2024-03-31", granularity="month", with_graph=True
    ).json()
    truth_days = day_seconds(sim)
    jan = sum(v for d, v in truth_days.items() if date(2024, 1, 15) <= d <= date(2024, 1, 31))
    assert months["graph"][0]["seconds"] == jan and len(months["graph"]) == 3


def test_totals_span_limit_and_errors(sim: Simulator) -> None:
    s = session(sim)
    ok = post(s, sim, "/totals", start_date="2023-04-01", end_date="2024-03-31", granularity="day", with_graph=True)
    assert ok.status_code == 200 and len(ok.json()["graph"]) == 366
    too_long = post(s, sim, "/totals", start_date="2023-03-31", end_date="2024-03-31", granularity="day")
    assert too_long.status_code == 400 and isinstance(too_long.json(), str)
    assert post(s, sim, "/totals", start_date="2024-01-01", granularity="hour").status_code == 400
    assert post(s, sim, "/totals").status_code == 400


def test_totals_days_in_each_users_zone() -> None:
    config = SimulatorConfig(spec=SPEC, bare_date_tz="user")
    with Simulator(config) as sim:
        zones = {u["uid"]: ZoneInfo(u["timezone"]) for u in sim.truth.users}
        r = post(
            session(sim),
            sim,
            "/totals",
            start_date="2024-02-01",
            end_date="2024-02-29",
            granularity="day",
            with_graph=True,
        )
        truth = day_seconds(sim, zones)
        assert [b["seconds"] for b in r.json()["graph"]] == [
            truth.get(date(2024, 2, 1) + timedelta(days=k), 0) for k in range(29)
        ]


# ------------------------------------------------------------------------------ last update order
def last_updated(s: requests.Session, sim: Simulator, **extra: object) -> list[dict]:
    r = post(
        s, sim, "", start_date="2024-01-01", end_date="2024-03-31", order_by="last_update", order_dir="DESC", **extra
    )
    assert r.status_code == 200, r.text
    return [row["time_entries"][0] for row in r.json()]


def test_last_update_desc_puts_each_edit_first_and_moves_at(sim: Simulator) -> None:
    s = session(sim)
    ats = [datetime.fromisoformat(te["at"]) for te in last_updated(s, sim, page_size=1000)]
    assert ats == sorted(ats, reverse=True)
    old = next(e for e in sim.truth.entries if e["start"].startswith("2024-01-09") and e["stop"])
    tag = sim.truth.tags[0]["id"]
    project = next(p["id"] for p in sim.truth.projects if p["active"] and p["id"] != old["project_id"])
    url = f"{sim.url}/api/v9/workspaces/{sim.workspace_id}/time_entries/{old['id']}"
    edits = [
        {"description": "late fix"},
        {"start": "2024-03-02T10:00:00Z"},  # moved to another day
        {"tag_ids": [tag]},
        {"project_id": project},
    ]
    previous_at = datetime.fromisoformat(old["at"])  # microseconds (v9); reports carry whole seconds
    for body in edits:
        r = s.put(url, json=body)
        assert r.status_code == 200, r.text
        first = last_updated(s, sim, page_size=1)[0]
        assert first["id"] == old["id"] and first["at_tz"]
        at = datetime.fromisoformat(sim.truth.entry(old["id"])["at"])
        assert at > previous_at and datetime.fromisoformat(first["at"]) == at.replace(microsecond=0)
        previous_at = at
    moved = sim.truth.entry(old["id"])
    assert moved["start"].startswith("2024-03-02T10:00:00") and moved["duration"] == old["duration"]
    assert moved["tag_ids"] == [tag] and moved["project_id"] == project
    # The Python helpers move `at` too.
    other = next(e for e in sim.truth.entries if e["start"].startswith("2024-01-10") and e["stop"])
    sim.update_entry(other["id"], start=datetime(2024, 2, 20, 8, tzinfo=UTC))
    first = last_updated(s, sim, page_size=1)[0]
    assert first["id"] == other["id"] and datetime.fromisoformat(sim.truth.entry(other["id"])["at"]) > previous_at
    assert other["id"] in {e["id"] for e in sim.truth.entries_between(date(2024, 2, 20), date(2024, 2, 20))}
    ascending = post(s, sim, "", start_date="2024-01-01", end_date="2024-03-31", order_by="last_update", page_size=1000)
    assert ascending.json()[-1]["time_entries"][0]["id"] == other["id"]


def test_back_dated_entries_through_http_and_helpers(sim: Simulator) -> None:
    s = session(sim)
    r = s.post(
        f"{sim.url}/api/v9/workspaces/{sim.workspace_id}/time_entries",
        json={"created_with": "tests", "start": "2024-01-05T13:00:00Z", "duration": 2700, "description": "forgot"},
    )
    assert r.status_code == 200 and r.json()["start"] == "2024-01-05T13:00:00Z"
    helper = sim.create_entry(start="2024-01-06T13:00:00Z", duration_seconds=900, description="forgot too")
    newest = last_updated(s, sim, page_size=2)
    assert [te["id"] for te in newest] == [helper["id"], r.json()["id"]]
    totals = post(s, sim, "/totals", start_date="2024-01-05", end_date="2024-01-06", granularity="day", with_graph=True)
    truth = day_seconds(sim)
    assert [b["seconds"] for b in totals.json()["graph"]] == [truth[date(2024, 1, 5)], truth[date(2024, 1, 6)]]
    assert truth[date(2024, 1, 5)] >= 2700
