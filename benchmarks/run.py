"""``./run bench``: every target of issue 15 (and the request budgets of issues 13 and 12), each measured in the
same run beside its reference, against the simulator and an embedded PostgreSQL server.

Every figure comes from the real code paths: each sync is ``toggl-assets sync`` run as a child process (wall,
CPU and peak RSS from ``os.wait4``) against ``toggl-assets simulator`` (another child process, quotas off,
127.0.0.1 only, pacing off with ``TOGGL_REQUESTS_PER_SECOND=0``). Requests are counted by the simulator and
its CPU time is read before and after each command, so the test server's share is reported apart from ours.

Sections: ``overhead`` (two-year backfill and a 42-day sync against a one-day sync; the daily run's budget
with and without late edits; the naive one-run-per-partition baseline), ``throughput`` (backfills of a year of
25k, 250k and 1M entries; load against a plain COPY; weekly summary; peak RSS; the plain script beside each),
``workspaces`` (two workspaces in two organizations). ``--quick`` skips 1M and runs the baseline on 5 days.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks import scenarios
from benchmarks.harness import BenchFailure, Session, SimulatorProcess, Warehouse, endpoints_text
from benchmarks.report import render

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "latest.json"
SECTIONS = ("overhead", "throughput", "workspaces")

# name -> (entries, users)
WORKLOADS: dict[str, tuple[int, int]] = {"25k": (25_000, 20), "250k": (250_000, 100), "1m": (1_000_000, 400)}
CLIENT_PAGE_SIZE = 10_000  # TOGGL_PAGE_SIZE default: what the client asks for

TARGETS = {
    "backfill_vs_one_day": 1.5,
    "range_42d_vs_one_day": 1.2,
    "entries_per_second_250k": 20_000,
    "load_vs_copy_min_ratio": 0.5,
    "weekly_1m_max_seconds": 2.0,
    "peak_rss_max_mb": 400,
    "rss_growth_max_mb": 100,
    "requests_within_pct": 2.0,
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


# ---------------------------------------------------------------------------------------------- throughput


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


def _by_workspace_sum(metadata: dict[str, Any], key: str) -> int:
    return sum(int(row.get(key) or 0) for row in metadata.get("by_workspace") or [])


def measure_workload(
    name: str, entries: int, users: int, days: int, args: argparse.Namespace, work: Path, warehouse: Warehouse
) -> dict[str, Any]:
    """A fresh backfill of ``days`` days ending yesterday, its figures, and the plain script over the same range."""
    last = scenarios.yesterday()
    first = last - timedelta(days=days - 1)
    print(f"[{name}] generating {entries:,} entries, {users} users, {first} .. {last} ...", flush=True)
    warehouse.reset()
    page_size = min(args.max_page_size, CLIENT_PAGE_SIZE)
    with SimulatorProcess(
        entries=entries,
        users=users,
        start=first,
        end=last,
        max_page_size=args.max_page_size,
        log=work / f"simulator-{name}.log",
    ) as sim:
        session = Session(sim, warehouse, work, first)
        summary = sim.call("/_simulator/truth/summary")
        print(f"[{name}] toggl-assets sync --start {first} --end {last} ...", flush=True)
        sync = session.sync(f"{name} backfill", first, last)
        probe = warehouse.probe("--first", first.isoformat(), "--last", last.isoformat(), "--full")
        plain, script = session.plain_script(f"{name} plain script", first, last, page_size)
        startup = sim.startup_seconds
    metadata = probe["metadata"]
    fetched = _by_workspace_sum(metadata, "fetched")
    synced = _by_workspace_sum(metadata, "in_window")
    staging = float(metadata.get("seconds_staging") or 0.0)
    merging = float(metadata.get("seconds_merging") or 0.0)
    loading = staging + merging
    copy_rate = probe["plain_copy_rows_per_second"]
    load_rate = synced / loading if loading > 0 else 0.0
    minimum = scenarios.metadata_minimum(summary) + max(1, math.ceil(fetched / page_size))
    ours_only = sync.wall_seconds - sync.simulator_cpu_seconds
    plain_only = plain.wall_seconds - plain.simulator_cpu_seconds
    result: dict[str, Any] = {
        "workload": name,
        "entries": summary["entries"],
        "entries_fetched": fetched,
        "entries_synced": synced,
        "users": summary["users"],
        "days": days,
        "range": [first.isoformat(), last.isoformat()],
        "page_size": page_size,
        "simulator_startup_seconds": round(startup, 2),
        **sync.as_dict(),
        "requests_minimum": minimum,
        "requests_span_aware_minimum": scenarios.metadata_minimum(summary)
        + span_aware_minimum(summary, first, last, page_size),
        "requests_over_minimum_pct": round(100.0 * (sync.requests - minimum) / minimum, 2),
        "entries_per_second": round(synced / sync.wall_seconds, 1),
        "entries_per_second_without_simulator": round(synced / ours_only, 1) if ours_only > 0 else None,
        "sync_run_seconds": _round(probe["sync_run_seconds"]),
        "entries_step_seconds": _round(probe["entries_step_seconds"]),
        "seconds_fetching": metadata.get("seconds_fetching"),
        "seconds_staging": staging,
        "seconds_merging": merging,
        "seconds_loading": round(loading, 3),
        "load_rows_per_second": round(load_rate, 1),
        "plain_copy_rows": probe["plain_copy_rows"],
        "plain_copy_rows_per_second": round(copy_rate, 1),
        "load_vs_copy_ratio": round(load_rate / copy_rate, 3) if copy_rate else None,
        "weekly_step_seconds": _round(probe["weekly_step_seconds"]),
        "weekly_run_seconds": _round(probe["weekly_run_seconds"]),
        "weekly_sql_seconds": round(probe["weekly_sql_seconds"], 3),
        "weekly_rows": probe["weekly_rows"],
        "weekly_write_floor_seconds": round(probe["weekly_write_floor_seconds"], 3),
        "plain_script": {
            **plain.as_dict(),
            "rows": script["rows"],
            "entries_per_second": round(script["rows"] / plain.wall_seconds, 1),
            "entries_per_second_without_simulator": round(script["rows"] / plain_only, 1) if plain_only > 0 else None,
        },
    }
    print(
        f"[{name}] {result['requests']} requests (minimum {minimum}), {result['wall_seconds']} s "
        f"(simulator CPU {result['simulator_cpu_seconds']} s), {result['entries_per_second']:,.0f} entries/s, "
        f"peak RSS {result['peak_rss_mb']} MB; plain script {plain.wall_seconds:.1f} s; "
        f"requests: {endpoints_text(sync.requests_by_endpoint)}",
        flush=True,
    )
    return result


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------------------------- verdicts


class Verdicts:
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, name: str, target: str, value: Any, passed: bool | None, reference: str = "") -> None:
        status = "N/A" if passed is None else ("PASS" if passed else "MISS")
        self.items.append({"name": name, "target": target, "value": value, "status": status, "reference": reference})


def _pairs_text(pairs: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['longer_seconds']}/{p['one_day_seconds']} = {p['ratio']}x" for p in pairs)


def _overhead_verdicts(v: Verdicts, report: dict[str, Any]) -> None:
    t = TARGETS
    two = report.get("two_years")
    if two:
        ratio = two["backfill_vs_one_day"]
        v.add(
            f"two-year backfill vs one-day sync ({two['days']} partitions, {two['entries']:,} entries)",
            f"<= {t['backfill_vs_one_day']}x",
            f"{ratio}x",
            ratio <= t["backfill_vs_one_day"],
            f"fastest of each over {len(two['pairs'])} pairs (backfill s / one day s): {_pairs_text(two['pairs'])},"
            f" median ratio {two['backfill_vs_one_day_median']}x;"
            f" plain script over the same range {two['plain_script']['wall_seconds']} s",
        )
        for key, label in (("daily_quiet", "without late edits"), ("daily_edits", "after late edits")):
            d = two[key]
            b = d["budget"]
            v.add(
                f"daily run {label} (issue 13 budget)",
                f"<= {b['total']} requests",
                d["requests"],
                d["requests"] <= b["total"],
                f"budget = metadata {b['metadata']} + trailing page 1 + 2 x {b['history_spans']} spans"
                f" + {b['resynced_pages']} pages of {b['resynced_ranges']} re-synced ranges;"
                f" measured: {endpoints_text(d['requests_by_endpoint'])}",
            )
    else:
        v.add("two-year backfill vs one-day sync", f"<= {t['backfill_vs_one_day']}x", None, None, "not run")
    forty = report.get("forty_two_days")
    if forty:
        ratio = forty["range_vs_one_day"]
        v.add(
            f"42-day sync vs one-day sync ({forty['entries']:,} entries)",
            f"<= {t['range_42d_vs_one_day']}x",
            f"{ratio}x",
            ratio <= t["range_42d_vs_one_day"],
            f"fastest of each over {len(forty['pairs'])} pairs (42 days s / one day s): {_pairs_text(forty['pairs'])},"
            f" median ratio {forty['range_vs_one_day_median']}x;"
            f" plain script {forty['plain_script']['wall_seconds']} s",
        )
    else:
        v.add("42-day sync vs one-day sync", f"<= {t['range_42d_vs_one_day']}x", None, None, "not run")


def _throughput_verdicts(v: Verdicts, results: dict[str, dict[str, Any]]) -> None:
    t = TARGETS
    if "250k" in results:
        r = results["250k"]
        p = r["plain_script"]
        v.add(
            "end to end on the 250k year, one run",
            f">= {t['entries_per_second_250k']:,} entries/s",
            f"{r['entries_per_second']:,.0f}",
            r["entries_per_second"] >= t["entries_per_second_250k"],
            f"wall {r['wall_seconds']} s of which simulator CPU {r['simulator_cpu_seconds']} s"
            f" ({r['entries_per_second_without_simulator']:,.0f}/s without it); plain script"
            f" {p['wall_seconds']} s = {p['entries_per_second']:,.0f}/s",
        )
    else:
        v.add("end to end on the 250k year", f">= {t['entries_per_second_250k']:,} entries/s", None, None, "not run")
    for name, r in results.items():
        ratio = r["load_vs_copy_ratio"]
        v.add(
            f"load vs plain COPY ({name})",
            f">= {t['load_vs_copy_min_ratio']:g}x",
            ratio,
            ratio is not None and ratio >= t["load_vs_copy_min_ratio"],
            f"{r['load_rows_per_second']:,.0f} rows/s (staging {r['seconds_staging']:.2f} s + merging"
            f" {r['seconds_merging']:.2f} s) vs COPY {r['plain_copy_rows_per_second']:,.0f} rows/s",
        )
    if "1m" in results:
        r = results["1m"]
        v.add(
            "weekly summary of a 1M-entry year",
            f"< {t['weekly_1m_max_seconds']:g} s",
            r["weekly_step_seconds"],
            r["weekly_step_seconds"] is not None and r["weekly_step_seconds"] < t["weekly_1m_max_seconds"],
            f"Dagster step over all weeks; SQL alone {r['weekly_sql_seconds']} s for {r['weekly_rows']:,} summary"
            f" rows; inserting those rows, already computed, into an index-free table"
            f" {r['weekly_write_floor_seconds']} s",
        )
    else:
        shown = ", ".join(f"{n}: step {r['weekly_step_seconds']} s" for n, r in results.items())
        v.add(
            "weekly summary of a 1M-entry year",
            f"< {t['weekly_1m_max_seconds']:g} s",
            None,
            None,
            f"1m not run ({shown})",
        )
    for name, r in results.items():
        v.add(
            f"peak RSS ({name})",
            f"< {t['peak_rss_max_mb']} MB",
            r["peak_rss_mb"],
            r["peak_rss_mb"] < t["peak_rss_max_mb"],
        )
    if len(results) > 1:
        names = sorted(results, key=lambda n: results[n]["entries"])
        growth = round(results[names[-1]]["peak_rss_mb"] - results[names[0]]["peak_rss_mb"], 1)
        v.add(
            f"RSS growth {names[0]} -> {names[-1]}",
            f"< {t['rss_growth_max_mb']} MB",
            growth,
            growth < t["rss_growth_max_mb"],
            "" if names[0] == "25k" and names[-1] == "1m" else "partial: the target is 25k -> 1m",
        )
    for name, r in results.items():
        v.add(
            f"requests ({name})",
            f"within {t['requests_within_pct']:g}% of {r['requests_minimum']}",
            f"{r['requests']} ({r['requests_over_minimum_pct']:+.1f}%)",
            r["requests_over_minimum_pct"] <= t["requests_within_pct"],
            f"the client cannot avoid {r['requests_span_aware_minimum']} (one day of margin on each side,"
            " report spans of <= 365 days)",
        )


def _workspace_verdicts(v: Verdicts, report: dict[str, Any]) -> None:
    ws = report.get("two_workspaces")
    if not ws:
        return
    for key, label in (("first_sync", "first sync"), ("daily", "daily run")):
        r = ws[key]
        v.add(
            f"two workspaces, {label} (issue 12)",
            f"<= {r['expected']} requests",
            r["requests"],
            r["requests"] <= r["expected"],
            f"{r['expected_note']}; measured: {endpoints_text(r['requests_by_endpoint'])}",
        )


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = Verdicts()
    _overhead_verdicts(verdicts, report)
    _throughput_verdicts(verdicts, report.get("workloads") or {})
    _workspace_verdicts(verdicts, report)
    return verdicts.items


# ---------------------------------------------------------------------------------------------- main


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
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    summary = (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB RAM, {platform.system()} {platform.release()},"
        f" Python {platform.python_version()}, load average at start {load}"
    )
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(memory, 1),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": load,
        "summary": summary,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./run bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip 1m, baseline on 5 days (about 4 min on 2 cores)")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {', '.join(SECTIONS)}"
    )
    parser.add_argument("--workloads", default="25k,250k,1m", help="throughput workloads: 25k, 250k, 1m or e.g. 3k")
    parser.add_argument("--days", type=int, default=365, help="days of the throughput workloads, ending yesterday")
    parser.add_argument("--max-page-size", type=int, default=10_000, help="simulator's page cap for throughput")
    parser.add_argument("--overhead-days", type=int, default=761, help="partitions of the two-year backfill")
    parser.add_argument("--overhead-entries", type=int, default=4_000, help="entries of the two-year workspace")
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="skip the first one-day sync of a fresh install (migrations) before the two-year backfill",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="times each (longer sync, one-day sync) pair is measured; the ratio is of each one's fastest run",
    )
    parser.add_argument("--short-days", type=int, default=42, help="days of the short range sync (0 = skip)")
    parser.add_argument("--short-entries", type=int, default=500, help="entries of the short range sync")
    parser.add_argument("--budget-page-size", type=int, default=200, help="page cap of the overhead/budget runs")
    parser.add_argument("--workspace-days", type=int, default=180, help="days of the two-workspace runs")
    parser.add_argument("--workspace-entries", type=int, default=2_000, help="entries of each of the two workspaces")
    parser.add_argument(
        "--baseline-days", type=int, default=None, help="naive baseline on the first N days (0 = skip; default all)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file (default {DEFAULT_OUTPUT})")
    return parser


def _run_sections(args: argparse.Namespace, sections: set[str], work: Path, warehouse: Warehouse) -> dict[str, Any]:
    report: dict[str, Any] = {}
    if "overhead" in sections:
        baseline = args.overhead_days if args.baseline_days is None else args.baseline_days
        report["two_years"] = scenarios.two_years(
            work,
            warehouse,
            days=args.overhead_days,
            entries=args.overhead_entries,
            page=args.budget_page_size,
            baseline_days=baseline,
            warm_up=args.warm_up,
            pairs=args.pairs,
        )
        if args.short_days > 0:
            report["forty_two_days"] = scenarios.forty_two_days(
                work,
                warehouse,
                days=args.short_days,
                entries=args.short_entries,
                page=args.budget_page_size,
                pairs=args.pairs,
            )
    if "throughput" in sections:
        report["workloads"] = {}
        for name, entries, users in (parse_workload(w) for w in args.workloads.split(",") if w.strip()):
            report["workloads"][name] = measure_workload(name, entries, users, args.days, args, work, warehouse)
    if "workspaces" in sections:
        report["two_workspaces"] = scenarios.two_workspaces(
            work, warehouse, days=args.workspace_days, entries=args.workspace_entries, page=args.budget_page_size
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        args.workloads = "25k,250k" if args.workloads == parser.get_default("workloads") else args.workloads
        args.baseline_days = 5 if args.baseline_days is None else args.baseline_days
    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    if not sections <= set(SECTIONS):
        parser.error(f"unknown section(s): {', '.join(sorted(sections - set(SECTIONS)))}")
    try:
        [parse_workload(w) for w in args.workloads.split(",") if w.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))

    work = Path(tempfile.mkdtemp(prefix="toggl_bench_"))
    warehouse = None
    started = time.perf_counter()
    try:
        the_machine = machine()
        warehouse = Warehouse(work / "home")
        report = _run_sections(args, sections, work, warehouse)
        report["machine"] = {**the_machine, "postgres": warehouse.version()}
        report["config"] = {
            "command": "./run bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "throughput_page_size": min(args.max_page_size, CLIENT_PAGE_SIZE),
            "budget_page_size": args.budget_page_size,
            "days": args.days,
            "late_edits": scenarios.LATE_EDITS,
        }
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["targets"] = evaluate(report)
        print("\n" + render(report))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.output}")
        return 0
    except BenchFailure as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 1
    finally:
        if warehouse is not None:
            warehouse.stop()
        shutil.rmtree(work, ignore_errors=True)
