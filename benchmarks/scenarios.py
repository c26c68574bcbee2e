"""Scenarios measured beside their references in the same run (issue 15 overhead, 13 budget, 12 workspaces).

- :func:`two_years`: a two-year workspace (761 daily partitions, ~4,000 entries, pages capped at 200): a
  one-day sync, the whole backfill and the one-day sync again (target: backfill <= 1.5x one day); the daily
  run (``toggl-assets sync`` without dates) without and with late edits far back, against issue 13's budget;
  the plain script over the same range; the naive one-run-per-partition baseline.
- :func:`forty_two_days`: a 42-day sync of ~500 entries against a one-day sync of the same workspace (<= 1.2x),
  on the warehouse the scenario before left warm.
- :func:`two_workspaces`: a first sync and a daily run over two workspaces in two organizations, every
  workspace of the token (``TOGGL_WORKSPACE_ID`` unset): their request counts (issue 12).
"""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import Session, SimulatorProcess, Warehouse, report_requests

PROJECTS_PER_PAGE = TASKS_PER_PAGE = 200  # the client's list page sizes
SPAN_DAYS = 366  # issue 13's budget: two requests per span of at most 366 days of synced history
# Late edits of the daily run "with edits" (days before yesterday): issue 13's examples.
LATE_EDITS = (
    {"days_back": 30, "edits": 1},
    {"days_back": 200, "edits": 3},
    {"days_back": 500, "edits": 4, "deletions": 1, "additions": 1},
    {"days_back": 650, "additions": 1},
)


def yesterday() -> date:
    return date.today() - timedelta(days=1)


def metadata_minimum(summary: dict[str, Any], *, with_me: bool = True) -> int:
    """Metadata requests a sync cannot avoid: /me/workspaces once, then per workspace clients, tags,
    workspace_users (one page each), projects and tasks (pages of 200)."""
    total = 1 if with_me else 0
    for ws in summary.get("workspaces") or [summary]:
        total += 3 + max(1, math.ceil(ws["projects"] / PROJECTS_PER_PAGE))
        total += max(1, math.ceil(ws["tasks"] / TASKS_PER_PAGE))
    return total


def day_runs(days: list[date]) -> list[tuple[date, date]]:
    """Adjacent days merged into inclusive ranges."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and day - runs[-1][1] <= timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _entries_in(summary: dict[str, Any], first: date, last: date) -> int:
    return sum(n for d, n in summary["entries_by_day"].items() if first <= date.fromisoformat(d) <= last)


def budget(summary: dict[str, Any], history: dict[str, Any], first: date, last: date, page: int) -> dict[str, Any]:
    """Issue 13's budget of one daily run: metadata + one trailing page + 2 per 366-day span of synced history
    + the pages of the re-synced days (adjacent days merged)."""
    spans = math.ceil(((last - first).days + 1) / SPAN_DAYS)
    resynced = [date.fromisoformat(d) for d in history.get("resynced_days") or []]
    runs = day_runs(resynced)
    pages = sum(max(1, math.ceil(_entries_in(summary, a, b) / page)) for a, b in runs)
    metadata = metadata_minimum(summary, with_me=False)  # TOGGL_WORKSPACE_ID set: no /me/workspaces
    return {
        "metadata": metadata,
        "trailing": 1,
        "history_spans": spans,
        "history": 2 * spans,
        "resynced_days": [d.isoformat() for d in resynced],
        "resynced_ranges": len(runs),
        "resynced_pages": pages,
        "total": metadata + 1 + 2 * spans + pages,
    }


def fastest_ratio(pairs: list[dict[str, Any]]) -> float:
    """The fastest longer sync over the fastest one-day sync of ``pairs``. Noise on a shared machine only ever
    adds time (process start alone moved by a second between identical runs), so each command's fastest run is
    its cost; a median of per-pair ratios flipped between 1.41x and 1.78x on unchanged code."""
    return round(min(p["longer_seconds"] for p in pairs) / min(p["one_day_seconds"] for p in pairs), 2)


def pair_ratios(key: str, pairs: list[dict[str, Any]]) -> dict[str, float]:
    """``key``: the verdict's :func:`fastest_ratio`; ``key_median``: the median per-pair ratio, printed beside it."""
    return {key: fastest_ratio(pairs), f"{key}_median": statistics.median(p["ratio"] for p in pairs)}


def _pair(longer: dict[str, Any], one_day: dict[str, Any]) -> dict[str, Any]:
    """Wall seconds of a longer sync and of the one-day sync right after it, and their ratio."""
    ratio = round(longer["wall_seconds"] / one_day["wall_seconds"], 2)
    return {"longer_seconds": longer["wall_seconds"], "one_day_seconds": one_day["wall_seconds"], "ratio": ratio}


def _daily(session: Session, what: str, first: date, page: int) -> dict[str, Any]:
    measured = session.sync(what)
    probe = session.warehouse.probe("--last", yesterday().isoformat())
    history = probe.get("history") or {}
    summary = session.sim.call("/_simulator/truth/summary")
    expected = budget(summary, history, first, yesterday(), page)
    return {
        **measured.as_dict(),
        "report_requests": report_requests(measured.requests_by_endpoint),
        "metadata_requests": measured.requests - report_requests(measured.requests_by_endpoint),
        "budget": expected,
        "days_compared": history.get("days_compared"),
        "days_different": history.get("days_different"),
        "days_resynced": history.get("days_resynced"),
        "differences": history.get("differences"),
    }


def _late_edits(sim: SimulatorProcess, days: int) -> list[dict[str, Any]]:
    """:data:`LATE_EDITS` through the simulator's control endpoint (kept inside a shorter history)."""
    done = []
    for i, edit in enumerate(LATE_EDITS):
        day = yesterday() - timedelta(days=min(edit["days_back"], days - 1 - i))
        body = {"day": day.isoformat(), "seed": 100 + i, **{k: v for k, v in edit.items() if k != "days_back"}}
        answer = sim.call("/_simulator/daily_edits", body)
        done.append(
            {
                "day": day.isoformat(),
                "edited": len(answer["edited"]),
                "deleted": len(answer["deleted"]),
                "added": len(answer["added"]),
            }
        )
    return done


def two_years(
    work: Path,
    warehouse: Warehouse,
    *,
    days: int,
    entries: int,
    page: int,
    baseline_days: int | None,
    warm_up: bool = True,
    pairs: int = 1,
) -> dict[str, Any]:
    last = yesterday()
    first = last - timedelta(days=days - 1)
    print(f"[2y] {entries:,} entries, {first} .. {last} ({days} partitions), pages of {page} ...", flush=True)
    warehouse.reset()
    users = max(3, min(20, entries // 800))
    with SimulatorProcess(
        entries=entries, users=users, start=first, end=last, max_page_size=page, log=work / "simulator-2y.log"
    ) as sim:
        session = Session(sim, warehouse, work, first)
        out: dict[str, Any] = {"days": days, "range": [first.isoformat(), last.isoformat()], "page_size": page}
        out["entries"] = sim.call("/_simulator/truth/summary")["entries"]
        out["pairs"] = []
        for pair in range(pairs):
            if pair:  # each pair from a fresh install, like the first
                warehouse.reset()
            if warm_up:  # the install's first run (migrations, Dagster storage) is not the backfill's to pay
                out["one_day_cold"] = session.sync("2y one day (cold)", last, last).as_dict()
            backfill = session.sync("2y backfill", first, last)
            out["backfill"] = backfill.as_dict()
            out["one_day"] = session.sync("2y one day", last, last).as_dict()
            out["pairs"].append(_pair(out["backfill"], out["one_day"]))
            print(
                f"[2y] backfill {out['backfill']['wall_seconds']} s ({backfill.requests} requests), one day "
                f"{out['one_day']['wall_seconds']} s: {out['pairs'][-1]['ratio']}x",
                flush=True,
            )
        out.update(pair_ratios("backfill_vs_one_day", out["pairs"]))
        out["daily_quiet"] = _daily(session, "2y daily run", first, page)
        out["late_edits"] = _late_edits(sim, days)
        out["daily_edits"] = _daily(session, "2y daily run after late edits", first, page)
        for key in ("daily_quiet", "daily_edits"):
            d = out[key]
            print(f"[2y] {key}: {d['requests']} requests (budget {d['budget']['total']}), {d['wall_seconds']} s")
        plain, figures = session.plain_script("2y plain script", first, last, page)
        out["plain_script"] = {**plain.as_dict(), **{f"script_{k}": v for k, v in figures.items()}}
        if baseline_days:
            out["baseline"] = naive_baseline(session, first, min(days, baseline_days), days, out["backfill"])
    return out


def naive_baseline(session: Session, first: date, days: int, of_days: int, ours: dict[str, Any]) -> dict[str, Any]:
    """One Dagster run per daily partition (what a plain partitioned asset's backfill launches), from scratch,
    on the first ``days`` days; the whole range is extrapolated when shorter."""
    session.warehouse.reset()
    last = first + timedelta(days=days - 1)
    print(f"[2y] naive baseline: one run per day, {first} .. {last} ({days} runs) ...", flush=True)
    measured, figures = session.naive("naive baseline", first, last)
    factor = of_days / days
    reports = report_requests(measured.requests_by_endpoint)
    return {
        **measured.as_dict(),
        "days": days,
        "of_days": of_days,
        "runs": figures["runs"],
        "runs_seconds": round(figures["seconds"], 2),
        "seconds_per_run": round(figures["seconds"] / max(1, figures["runs"]), 3),
        # Extrapolated: metadata and process start-up once, report requests and runs once per day.
        "requests_full_range": measured.requests + round(reports * (factor - 1)),
        "wall_seconds_full_range": round(measured.wall_seconds + figures["seconds"] * (factor - 1), 1),
        "ours_requests": ours["requests"],
        "ours_wall_seconds": ours["wall_seconds"],
    }


def forty_two_days(
    work: Path, warehouse: Warehouse, *, days: int, entries: int, page: int, pairs: int = 1
) -> dict[str, Any]:
    last = yesterday()
    first = last - timedelta(days=days - 1)
    print(f"[42d] {entries:,} entries, {first} .. {last} ...", flush=True)
    # No reset: the warehouse and Dagster storage are warm from the scenario before; this workspace (another
    # seed, another id) is new to them, like a second workspace added to an install.
    with SimulatorProcess(
        entries=entries, users=5, start=first, end=last, max_page_size=page, seed=2, log=work / "simulator-42d.log"
    ) as sim:
        session = Session(sim, warehouse, work, first)
        out: dict[str, Any] = {"days": days, "range": [first.isoformat(), last.isoformat()], "page_size": page}
        out["entries"] = sim.call("/_simulator/truth/summary")["entries"]
        out["pairs"] = []
        for _ in range(pairs):  # the first range sync loads the workspace, the next ones re-sync it
            out["range_sync"] = session.sync("42d range", first, last).as_dict()
            out["one_day"] = session.sync("42d one day", last, last).as_dict()
            out["pairs"].append(_pair(out["range_sync"], out["one_day"]))
        out.update(pair_ratios("range_vs_one_day", out["pairs"]))
        plain, figures = session.plain_script("42d plain script", first, last, page)
        out["plain_script"] = {**plain.as_dict(), **{f"script_{k}": v for k, v in figures.items()}}
    print(
        f"[42d] {out['range_sync']['wall_seconds']} s vs one day {out['one_day']['wall_seconds']} s: "
        f"{out['range_vs_one_day']}x",
        flush=True,
    )
    return out


def two_workspaces(work: Path, warehouse: Warehouse, *, days: int, entries: int, page: int) -> dict[str, Any]:
    last = yesterday()
    first = last - timedelta(days=days - 1)
    print(f"[2ws] two workspaces in two organizations, {entries:,} entries each, {first} .. {last} ...", flush=True)
    warehouse.reset()
    with SimulatorProcess(
        entries=entries,
        users=5,
        start=first,
        end=last,
        max_page_size=page,
        seed=3,
        workspaces=2,
        organizations=2,
        log=work / "simulator-2ws.log",
    ) as sim:
        session = Session(sim, warehouse, work, first)
        summary = sim.call("/_simulator/truth/summary")
        first_sync = session.sync("2ws first sync", first, last, workspace=False)
        reports_minimum = sum(max(1, math.ceil(ws["entries"] / page)) for ws in summary["workspaces"])
        daily = session.sync("2ws daily run", workspace=False)
        history = session.warehouse.probe("--last", last.isoformat()).get("history") or {}
        spans = math.ceil(days / SPAN_DAYS)
        n = len(summary["workspaces"])
        out = {
            "workspaces": n,
            "organizations": len({ws["organization_id"] for ws in summary["workspaces"]}),
            "entries": summary["entries"],
            "days": days,
            "page_size": page,
            "first_sync": {
                **first_sync.as_dict(),
                "expected": metadata_minimum(summary) + reports_minimum,
                "expected_note": "1 /me/workspaces + per workspace (metadata + report pages)",
            },
            "daily": {
                **daily.as_dict(),
                "expected": metadata_minimum(summary) + n * (1 + 2 * spans),
                "expected_note": "1 /me/workspaces + per workspace (metadata + 1 trailing page + 2 per 366-day span)",
                "days_resynced": history.get("days_resynced"),
            },
        }
    print(
        f"[2ws] first sync {out['first_sync']['requests']} requests (expected {out['first_sync']['expected']}), "
        f"daily run {out['daily']['requests']} (expected {out['daily']['expected']})",
        flush=True,
    )
    return out
