"""Warehouse load, weekly summary and memory against the issue-15 targets, without Toggl or Dagster.

``python -m benchmarks.warehouse_bench [--sizes 25000,250000] [--weekly-entries 1000000]`` starts an embedded
PostgreSQL server in a temporary directory and measures, per size, on the same server in the same run:

* the reference: a plain binary ``COPY`` (psycopg's own dumpers) of the N staged rows, prebuilt in memory, into
  a table with no index and no constraint, timed just before and just after our load (their mean is the
  reference, so that a change of the machine's load during the run weighs on both sides alike);
* our load on a fresh warehouse: ``EntryStaging.add`` in pages of 10,000 (binary COPY into the stage) plus
  ``merge_window`` of the whole year in one transaction, foreign keys enforced (metadata loaded first, as a sync
  does); then a re-merge of the same rows (the daily run's case: nothing changed); then the same first load with
  the per-row foreign-key triggers (what a role that is not superuser gets, e.g. on Supabase or RDS);
* in a child process (so that its peak RSS is its own): the load streamed page by page as a sync does, and the
  weekly step's SQL over every week of that year (the summary view's figures and the entries' totals), twice;
  ``--weekly-entries`` adds a size for this part only (1M by default).

Ratios are speeds: ``load/COPY = COPY seconds / load seconds`` (1.0 = as fast as COPY). The verdicts at the end
compare each figure with its target: load/COPY >= 0.5, weekly < 2 s, peak RSS < 400 MB.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from toggl_assets.local_postgres import start_embedded_server
from toggl_assets.records import EntryRecord, ProjectRecord, TagRecord, TaskRecord, UserRecord, WorkspaceRecord
from toggl_assets.warehouse import migrations, overview
from toggl_assets.warehouse.entries import ENTRY_COLUMNS, EntryStaging, entry_row
from toggl_assets.warehouse.metadata import upsert_projects, upsert_tags, upsert_tasks, upsert_users, upsert_workspaces
from toggl_assets.warehouse.rollup import Calendar
from toggl_assets.warehouse.weekly import prepare_weekly_summaries

WORKSPACE = 1
YEAR_START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 364
SIZES = {"users": 100, "projects": 40, "tasks": 80, "tags": 20}
PAGE = 10_000  # the client's page size: what a sync stages at once
ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"load_vs_copy": 0.5, "weekly_seconds": 2.0, "peak_rss_mb": 400.0}


def synthetic_entries(count: int, seed: int = 7) -> Iterator[EntryRecord]:
    """``count`` stopped entries spread over a year, referencing the metadata of :func:`load_metadata`."""
    rng = random.Random(seed)
    span = DAYS * 86_400
    for i in range(count):
        start = YEAR_START + timedelta(seconds=rng.randrange(span))
        seconds = rng.randrange(60, 4 * 3600)
        project = rng.randrange(SIZES["projects"]) + 1 if rng.random() < 0.9 else None
        billable = project is not None and rng.random() < 0.6
        tags = rng.sample(range(1, SIZES["tags"] + 1), rng.randrange(3))
        yield EntryRecord(
            id=10_000_000 + i,
            workspace_id=WORKSPACE,
            project_id=project,
            task_id=(rng.randrange(SIZES["tasks"]) + 1) if project and rng.random() < 0.3 else None,
            user_id=rng.randrange(SIZES["users"]) + 1,
            description=f"work item {i % 5000}",
            start=start,
            end=start + timedelta(seconds=seconds),
            duration_ms=seconds * 1000,
            is_billable=billable,
            billable_amount=None,
            currency="EUR" if billable else None,
            tags=tuple(f"tag {t}" for t in tags),
            tag_ids=tuple(tags),
            updated_at=start,
            hourly_rate=Decimal("42.50") if billable else None,
        )


def load_metadata(conn: psycopg.Connection) -> None:
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    ws = {"workspace_id": WORKSPACE}
    with conn.transaction():
        upsert_workspaces(conn, [WorkspaceRecord(WORKSPACE, 1, "bench", "EUR")])
        upsert_users(conn, [UserRecord(i, WORKSPACE, f"user {i}", None) for i in range(1, SIZES["users"] + 1)], **ws)
        upsert_projects(
            conn,
            [
                ProjectRecord(i, WORKSPACE, None, f"project {i}", None, False, True, True, epoch, currency="EUR")
                for i in range(1, SIZES["projects"] + 1)
            ],
            **ws,
        )
        upsert_tags(conn, [TagRecord(i, WORKSPACE, f"tag {i}", epoch) for i in range(1, SIZES["tags"] + 1)], **ws)
        upsert_tasks(
            conn,
            [TaskRecord(i, WORKSPACE, (i % SIZES["projects"]) + 1, f"task {i}") for i in range(1, SIZES["tasks"] + 1)],
            **ws,
        )


def plain_copy_seconds(conn: psycopg.Connection, rows: Iterable[tuple]) -> float:
    """A binary COPY of ``rows`` (psycopg's own dumpers) into a constraint-free, index-free copy of
    toggl_entries' columns; the table is created before the clock starts and dropped after it stops."""
    columns = ENTRY_COLUMNS
    kinds = dict(
        conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = 'raw.toggl_entries'::regclass AND attnum > 0 AND NOT attisdropped"
        ).fetchall()
    )
    conn.execute("DROP TABLE IF EXISTS public.bench_plain_copy")
    conn.execute("CREATE TABLE public.bench_plain_copy (LIKE raw.toggl_entries)")
    conn.commit()
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    began = time.perf_counter()
    with (
        conn.cursor() as cur,
        cur.copy(sql.SQL("COPY public.bench_plain_copy ({}) FROM STDIN (FORMAT BINARY)").format(names)) as copy,
    ):
        copy.set_types([kinds[c].split("(")[0] for c in columns])
        for row in rows:
            copy.write_row(row[: len(columns)])
    conn.commit()
    seconds = time.perf_counter() - began
    conn.execute("DROP TABLE public.bench_plain_copy")
    conn.commit()
    return seconds


def pages(records: Iterable[EntryRecord], size: int = PAGE) -> Iterator[list[EntryRecord]]:
    it = iter(records)
    while page := list(islice(it, size)):
        yield page


def load(conn: psycopg.Connection, records: Iterable[EntryRecord], *, set_based: bool = True) -> dict[str, Any]:
    """Stage ``records`` page by page (autocommit per page, as a sync does), then merge the whole year in one
    transaction; returns seconds (staging, merging, total) and the merge's stats."""
    end = YEAR_START + timedelta(days=DAYS)
    began = time.perf_counter()
    stage = EntryStaging(conn, set_based_references=set_based)
    conn.commit()
    for page in pages(records):
        stage.add(page)
        conn.commit()
    staged = time.perf_counter()
    with conn.transaction():
        stats = stage.merge_window(WORKSPACE, YEAR_START, end, timezone="UTC")
    stage.close()
    conn.commit()
    done = time.perf_counter()
    return {"staging_s": staged - began, "merging_s": done - staged, "load_s": done - began, "stats": stats}


def weekly_seconds(conn: psycopg.Connection, url: str) -> tuple[float, int]:
    """The weekly step's SQL over the year, as the step runs it (a second connection reads the entries' totals
    beside the figures, see ``week_figures``; trees older than it read both on ``conn``, one after the other)."""
    weeks = [YEAR_START.date() + timedelta(weeks=i) for i in range(DAYS // 7)]
    with psycopg.connect(url, autocommit=True) as other:
        began = time.perf_counter()
        with conn.transaction():
            prepare_weekly_summaries(conn, Calendar("UTC", 1), workspace_ids=[WORKSPACE])
        if hasattr(overview, "week_figures"):
            overviews, _ = overview.week_figures(conn, other, weeks, "UTC")
        else:
            overviews = overview.week_overviews(conn, weeks)
            overview.entry_week_totals(conn, weeks, "UTC")
        return time.perf_counter() - began, sum(o.rows for o in overviews.values())


def fresh(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
        load_metadata(conn)
    return url


def run_load(url: str, count: int) -> dict[str, float]:
    """Our first load beside the plain COPY of the same rows on the fresh warehouse at ``url``, then a re-merge,
    then the first load again with the per-row triggers on a second fresh warehouse of the same server."""
    records = list(synthetic_entries(count))
    rows = [entry_row(r) for r in records]
    with psycopg.connect(url) as conn:
        copy_before = plain_copy_seconds(conn, rows)
        first = load(conn, records)
        copy_after = plain_copy_seconds(conn, rows)
        again = load(conn, records)
    admin = url.replace(f"/{psycopg.conninfo.conninfo_to_dict(url)['dbname']}?", "/postgres?", 1)
    with psycopg.connect(fresh(admin, "bench_load_rows")) as conn:
        copy_rows_before = plain_copy_seconds(conn, rows)
        per_row = load(conn, records, set_based=False)
        copy_rows_after = plain_copy_seconds(conn, rows)
    copy_s = (copy_before + copy_after) / 2
    copy_rows_s = (copy_rows_before + copy_rows_after) / 2
    stats = first["stats"]
    print(f"load {count:,} entries (inserted {stats.inserted:,}, updated {stats.updated}, deleted {stats.deleted}):")
    print(f"  plain COPY {copy_before:.2f} s before, {copy_after:.2f} s after: {count / copy_s:,.0f} rows/s")
    print(f"  stage + merge {first['load_s']:.2f} s (staging {first['staging_s']:.2f} + merging"
          f" {first['merging_s']:.2f}) = {count / first['load_s']:,.0f} rows/s;"
          f" load/COPY = {copy_s / first['load_s']:.2f}")  # fmt: skip
    print(f"  re-merge unchanged {again['load_s']:.2f} s (staging {again['staging_s']:.2f} + merging"
          f" {again['merging_s']:.2f}); re-merge/COPY = {copy_s / again['load_s']:.2f}")  # fmt: skip
    print(f"  per-row foreign-key triggers (a role that is not superuser): {per_row['load_s']:.2f} s"
          f" (merging {per_row['merging_s']:.2f}); load/COPY = {copy_rows_s / per_row['load_s']:.2f}"
          f" (COPY {copy_rows_before:.2f} / {copy_rows_after:.2f} s)")  # fmt: skip
    return {
        "copy_s": copy_s,
        "load_s": first["load_s"],
        "staging_s": first["staging_s"],
        "merging_s": first["merging_s"],
        "ratio": copy_s / first["load_s"],
        "remerge_ratio": copy_s / again["load_s"],
        "per_row_ratio": copy_rows_s / per_row["load_s"],
    }


def child_main(mode: str, count: int, url: str) -> int:
    """Child process: ``load`` (:func:`run_load` on a fresh warehouse at ``url``), ``stream`` (load ``count``
    entries streamed page by page, as a sync does, then the year's weekly summary twice) or ``weekly`` (the weekly
    summary twice on the warehouse already loaded at ``url``). Prints its figures, then one JSON line with them and
    this process's peak RSS."""
    out: dict[str, Any] = {"entries": count}
    if mode == "load":
        out.update(run_load(url, count))
    else:
        with psycopg.connect(url) as conn:
            if mode == "stream":
                loaded = load(conn, synthetic_entries(count, seed=11))
                out["load_s"] = round(loaded["load_s"], 3)
                out["peak_rss_mb_load"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            out["weekly_s"], out["weekly_rows"] = weekly_seconds(conn, url)
            out["weekly_again_s"], _ = weekly_seconds(conn, url)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))
    return 0


def run_child(mode: str, count: int, url: str, tree: Path, timeout: float | None = None) -> dict[str, Any] | None:
    """Run :func:`child_main` in a new process importing ``toggl_assets`` from ``tree``; None if it timed out."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(count), url]
    try:
        proc = subprocess.run(command, check=True, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    lines = proc.stdout.strip().splitlines()
    if lines[:-1]:
        print("\n".join(lines[:-1]), flush=True)
    return json.loads(lines[-1])


def _stream_text(count: int, c: dict[str, Any]) -> str:
    return (
        f"streamed load of {count:,} entries {c['load_s']:.1f} s, peak RSS {c['peak_rss_mb_load']:.0f} MB;"
        f" weekly summary of the year ({DAYS // 7} weeks, {c['weekly_rows']:,} rows) {c['weekly_s']:.2f} s,"
        f" again {c['weekly_again_s']:.2f} s; peak RSS {c['peak_rss_mb']:.0f} MB"
    )


def _label(count: int) -> str:
    return f"{count // 1_000_000}M" if count >= 1_000_000 and count % 1_000_000 == 0 else f"{count // 1000}k"


def verdicts(loads: dict[int, dict], children: dict[int, dict]) -> list[str]:
    lines = ["Targets:"]

    def line(ok: bool, what: str, value: str, target: str, reference: str) -> None:
        lines.append(f"  {'PASS' if ok else 'MISS'} {what}: {value} (target {target}); {reference}")

    for count, r in loads.items():
        line(
            r["ratio"] >= TARGETS["load_vs_copy"],
            f"load vs plain COPY ({_label(count)})",
            f"{r['ratio']:.2f}",
            f">= {TARGETS['load_vs_copy']}",
            f"load {r['load_s']:.2f} s (staging {r['staging_s']:.2f} + merging {r['merging_s']:.2f}) vs COPY"
            f" {r['copy_s']:.2f} s; re-merge unchanged {r['remerge_ratio']:.2f}, per-row triggers"
            f" {r['per_row_ratio']:.2f}",
        )
    for count, c in children.items():
        line(
            c["weekly_s"] < TARGETS["weekly_seconds"],
            f"weekly summary of a {_label(count)}-entry year",
            f"{c['weekly_s']:.2f} s",
            f"< {TARGETS['weekly_seconds']:g} s",
            f"{c['weekly_rows']:,} summary rows; refreshed again {c['weekly_again_s']:.2f} s",
        )
    for count, c in children.items():
        line(
            c["peak_rss_mb"] < TARGETS["peak_rss_mb"],
            f"peak RSS ({_label(count)}, streamed load + weekly)",
            f"{c['peak_rss_mb']:.0f} MB",
            f"< {TARGETS['peak_rss_mb']:g} MB",
            f"after the load {c['peak_rss_mb_load']:.0f} MB",
        )
    if len(children) > 1:
        counts = sorted(children)
        growth = children[counts[-1]]["peak_rss_mb"] - children[counts[0]]["peak_rss_mb"]
        lines.append(f"  RSS growth {_label(counts[0])} -> {_label(counts[-1])}: {growth:+.0f} MB")
    return lines


def before_after(admin: str, before: Path, sizes: list[int], weekly_count: int, timeout: float) -> list[str]:
    """The same measurements with the ``toggl_assets`` of ``before`` (another checkout) and of this tree, one
    after the other on the same server: loads on fresh warehouses, weekly on one warehouse loaded by this tree."""
    lines = [f"Before ({before}) and after ({ROOT}), same server, same run:"]
    for count in sizes:
        figures = {}
        for name, tree in (("before", before), ("after", ROOT)):
            print(f"-- {name}: load {count:,}")
            figures[name] = run_child("load", count, fresh(admin, "bench_load"), tree, timeout)
        b, a = figures["before"], figures["after"]
        lines.append(
            f"  load {_label(count)}: before "
            + (f"{b['load_s']:.2f} s (load/COPY {b['ratio']:.3f})" if b else f"did not finish in {timeout:.0f} s")
            + (f", after {a['load_s']:.2f} s (load/COPY {a['ratio']:.3f})" if a else ", after did not finish")
        )
    if weekly_count:
        url = fresh(admin, "bench_weekly")
        print(f"-- after: streamed load of {weekly_count:,} + weekly")
        loaded = run_child("stream", weekly_count, url, ROOT)
        # Each version runs the weekly step twice in turn; a summary stored as a table (before migration 8) is
        # emptied first, so each refresh is the first of the year; a view has nothing to empty.
        runs: dict[str, list[dict | None]] = {"before": [], "after": []}
        for _ in range(2):
            for name, tree in (("before", before), ("after", ROOT)):
                with psycopg.connect(url) as conn:
                    kind = conn.execute(
                        "SELECT relkind FROM pg_class WHERE oid = 'analytics.toggl_weekly_summary'::regclass"
                    ).fetchone()
                    if kind and kind[0] == "r":
                        conn.execute("TRUNCATE analytics.toggl_weekly_summary")
                print(f"-- {name}: weekly on the same warehouse")
                runs[name].append(run_child("weekly", weekly_count, url, tree, timeout))

        def text(results: list[dict | None]) -> str:
            return ", ".join(
                f"{r['weekly_s']:.2f} s (again {r['weekly_again_s']:.2f} s)" if r else "did not finish" for r in results
            )

        lines.append(f"  weekly {_label(weekly_count)}: before {text(runs['before'])}; after {text(runs['after'])}")
        if loaded:
            lines.append(
                f"  (after, right after its load: {loaded['weekly_s']:.2f} s, again {loaded['weekly_again_s']:.2f} s)"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warehouse_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="25000,250000", help="entries of each load benchmark (comma-separated)")
    parser.add_argument("--weekly-entries", type=int, default=1_000_000, help="extra size for weekly + RSS (0: none)")
    parser.add_argument("--no-weekly", action="store_true", help="skip the streamed load, weekly summary and RSS")
    parser.add_argument("--home", type=Path, help="embedded server directory (default: a temporary one)")
    parser.add_argument("--before", type=Path, help="another checkout: measure its toggl_assets too, same server")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed to each --before measurement")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ENTRIES", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child[0], int(args.child[1]), args.child[2])
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" {date.today()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    home = args.home
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="warehouse_bench_"))
        # Registered before the server starts, so it runs after the server's own exit handler has stopped it.
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    socket_dir = start_embedded_server(home)
    admin = f"postgresql://postgres@/postgres?host={socket_dir}"
    with psycopg.connect(admin) as conn:
        print(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}", flush=True)
    if args.before:
        weekly = 0 if args.no_weekly else args.weekly_entries
        print("\n".join(before_after(admin, args.before, sizes, weekly, args.timeout)))
        return 0
    loads = {count: run_child("load", count, fresh(admin, "bench_load"), ROOT) for count in sizes}
    children: dict[int, dict] = {}
    if not args.no_weekly:
        for count in sorted({*sizes, *([args.weekly_entries] if args.weekly_entries else [])}):
            children[count] = run_child("stream", count, fresh(admin, "bench_weekly"), ROOT)
            print(_stream_text(count, children[count]), flush=True)
    print("\n".join(verdicts(loads, children)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
