"""The Toggl simulator's quotas, rate limiting, fault injection, CLI and scale, asserted over real HTTP."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date

import pytest
import requests

from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec

SMALL = WorkspaceSpec(seed=9, entries=200, start=date(2024, 1, 1), end=date(2024, 1, 31))


def session(sim: Simulator) -> requests.Session:
    s = requests.Session()
    s.auth = (sim.api_token, "api_token")
    return s


def ws(sim: Simulator, tail: str) -> str:
    return f"{sim.url}/api/v9/workspaces/{sim.workspace_id}{tail}"


@pytest.fixture
def small() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(spec=SMALL, slow_seconds=0.3)) as s:
        yield s


def test_quota_402_with_headers_and_reset_after_window() -> None:
    config = SimulatorConfig(spec=SMALL, quota_plan="free", quota_window_seconds=2, user_quota=3)
    with Simulator(config) as sim:
        s = session(sim)
        remaining = []
        for _ in range(30):
            r = s.get(ws(sim, "/clients"))
            assert r.status_code == 200
            remaining.append(int(r.headers["X-Toggl-Quota-Remaining"]))
            assert 0 <= int(r.headers["X-Toggl-Quota-Resets-In"]) <= 2
        assert remaining == list(range(29, -1, -1))
        r = s.post(
            f"{sim.url}/reports/api/v3/workspace/{sim.workspace_id}/search/time_entries",
            json={"start_date": "2024-01-01", "end_date": "2024-01-31"},
        )
        assert r.status_code == 402 and isinstance(r.json(), str)
        assert r.headers["X-Toggl-Quota-Remaining"] == "0" and "X-Toggl-Quota-Resets-In" in r.headers
        assert sim.stats()["quota"]["remaining"] == 0
        # /me has its own (user) bucket.
        for expected in ("2", "1", "0"):
            me = s.get(f"{sim.url}/api/v9/me")
            assert me.status_code == 200 and me.headers["X-Toggl-Quota-Remaining"] == expected
        assert s.get(f"{sim.url}/api/v9/me").status_code == 402
        # Other users have their own buckets.
        other = next(t for t in sim.user_tokens.values() if t != sim.api_token)
        assert requests.get(ws(sim, "/tags"), auth=(other, "api_token")).status_code == 200
        time.sleep(2.1)
        r = s.get(ws(sim, "/clients"))
        assert r.status_code == 200 and r.headers["X-Toggl-Quota-Remaining"] == "29"
        quota = s.get(f"{sim.url}/api/v9/me/quota").json()
        assert {q["organization_id"] for q in quota} == {sim.organization_id, None}
        sim.set_quota(None)
        r = s.get(ws(sim, "/clients"))
        assert "X-Toggl-Quota-Remaining" not in r.headers and sim.stats()["quota"]["remaining"] is None


def test_leaky_bucket_429_html() -> None:
    with Simulator(SimulatorConfig(spec=SMALL, rate_limit_per_second=1)) as sim:
        s = session(sim)
        assert s.get(ws(sim, "/tags")).status_code == 200
        r = s.get(ws(sim, "/tags"))
        assert r.status_code == 429 and "<title>429 Too Many Requests</title>" in r.text
        assert r.headers["Content-Type"].startswith("text/html")
        time.sleep(1.05)
        assert s.get(ws(sim, "/tags")).status_code == 200


# Explicit ids: a bare "slow" id would match conftest's `"slow" in item.keywords` and be skipped.
@pytest.mark.parametrize(
    "kind",
    [pytest.param(k, id=f"fault-{k}") for k in ("500", "502", "503", "429", "drop", "slow", "truncate", "malformed")],
)
def test_each_fault_kind(small: Simulator, kind: str) -> None:
    s = session(small)
    small.set_faults(rate=1.0, kinds=(kind,), seed=1)
    url = ws(small, "/clients")
    t0 = time.monotonic()
    if kind in ("drop", "truncate"):
        with pytest.raises(requests.exceptions.RequestException):
            s.get(url, timeout=5)
    else:
        r = s.get(url, timeout=5)
        if kind == "slow":
            assert r.status_code == 200 and r.json() and time.monotonic() - t0 >= 0.3
        elif kind == "malformed":
            assert r.status_code == 200
            with pytest.raises(ValueError):
                r.json()
        else:
            assert r.status_code == int(kind)
            if kind == "500":
                assert isinstance(r.json(), str)
            else:
                assert r.text.lstrip().startswith("<html")
    assert small.stats()["faults_injected"] == 1
    small.set_faults(rate=0.0)
    assert requests.get(url, auth=(small.api_token, "api_token")).status_code == 200


def test_faulted_writes_change_nothing_and_rate_is_seeded(small: Simulator) -> None:
    s = session(small)
    before = small.truth.entry_count
    body = {"created_with": "tests", "start": "2024-01-10T10:00:00Z", "duration": 60}
    for kind in ("500", "truncate", "malformed", "drop", "429"):
        small.set_faults(rate=1.0, kinds=(kind,))
        with contextlib.suppress(requests.exceptions.RequestException):
            s.post(ws(small, "/time_entries"), json={**body, "workspace_id": small.workspace_id}, timeout=5)
    assert small.truth.entry_count == before
    outcomes = []
    for _ in range(2):
        small.set_faults(rate=0.3, kinds=("500", "503"), seed=42)
        outcomes.append(
            [requests.get(ws(small, "/tags"), auth=(small.api_token, "api_token")).status_code for _ in range(40)]
        )
    assert outcomes[0] == outcomes[1] and {200, 500, 503} <= set(outcomes[0])
    assert 5 <= sum(code != 200 for code in outcomes[0]) <= 25


def test_cli_prints_url_token_and_workspace() -> None:
    code = "from toggl_assets.simulator.cli import main; raise SystemExit(main())"
    args = [
        sys.executable,
        "-c",
        code,
        "--entries",
        "100",
        "--seed",
        "2",
        "--plan",
        "starter",
        "--quota-plan",
        "starter",
        "--start",
        "2024-02-01",
        "--end",
        "2024-02-10",
    ]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    try:
        values = {}
        while len(values) < 3:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            key, _, value = line.strip().partition("=")
            if key in ("TOGGL_API_URL", "TOGGL_API_TOKEN", "TOGGL_WORKSPACE_ID"):
                values[key] = value
        assert values["TOGGL_API_URL"].startswith("http://127.0.0.1:") and len(values["TOGGL_API_TOKEN"]) == 32
        r = requests.get(
            f"{values['TOGGL_API_URL']}/api/v9/workspaces/{values['TOGGL_WORKSPACE_ID']}/tags",
            auth=(values["TOGGL_API_TOKEN"], "api_token"),
            timeout=5,
        )
        assert r.status_code == 200 and r.headers["X-Toggl-Quota-Remaining"] == "239"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


@pytest.mark.slow
def test_one_million_entries_generation_and_report_paging() -> None:
    spec = WorkspaceSpec(
        seed=1,
        users=20,
        projects=60,
        tags=40,
        tasks=150,
        entries=1_000_000,
        start=date(2023, 1, 1),
        end=date(2023, 12, 31),
    )
    t0 = time.perf_counter()
    sim = Simulator(SimulatorConfig(spec=spec))
    gen = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\ngenerated {sim.truth.entry_count} entries in {gen:.1f}s, peak RSS {rss_mb:.0f} MB")
    assert sim.truth.entry_count == 1_000_000
    with sim:
        s = session(sim)
        url = f"{sim.url}/reports/api/v3/workspace/{sim.workspace_id}/search/time_entries"
        t0 = time.perf_counter()
        body: dict[str, object] = {"start_date": "2023-01-01", "end_date": "2023-12-31", "page_size": 1000}
        seen = 0
        pages = 0
        while True:
            r = s.post(url, json=body)
            assert r.status_code == 200
            seen += len(r.json())
            pages += 1
            if "X-Next-Row-Number" not in r.headers or pages >= 50:
                break
            body["first_row_number"] = int(r.headers["X-Next-Row-Number"])
        elapsed = time.perf_counter() - t0
        print(f"{pages} report pages ({seen} rows) in {elapsed:.1f}s")
        assert seen == pages * 1000
