"""Figures read after a run (Dagster metadata and step times, the weekly SQL, a plain COPY), as one JSON line.

``python -m benchmarks.probe --home H --last D [--first D --full]`` with ``DAGSTER_PG_URL`` and
``TOGGL_WAREHOUSE_URL`` set. It runs in its own process so that the benchmark's parent process stays small:
on Linux a child started by exec inherits its parent's peak RSS in ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ENTRIES = "toggl_entries"
HISTORY = "toggl_history"


def _values(materialization: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in materialization.metadata.items():
        if key.startswith(("preview", "newest")):
            continue
        raw = value.value
        # Tables (per-workspace figures, differences) as lists of plain dicts.
        out[key] = [dict(r.data) for r in raw.records] if hasattr(raw, "records") else raw
    return out


def entries_metadata(instance: Any, partition: str) -> dict[str, Any]:
    """The newest materialization of ``toggl_entries`` for ``partition``: a range run records its run-wide
    figures (requests, timings) on its last partition only."""
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(ENTRIES), asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    return _values(records[0].asset_materialization)


def history_metadata(instance: Any) -> dict[str, Any]:
    """The newest materialization of ``toggl_history`` (what the reconciliation compared, found, re-synced)."""
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey(HISTORY))
    if event is None or event.asset_materialization is None:
        return {}
    return _values(event.asset_materialization)


def latest_run_seconds(instance: Any, job_name: str, step_key: str | None = None) -> tuple[float | None, float | None]:
    """(seconds of step ``step_key`` or of all steps, seconds of the run) of the newest run of ``job_name``."""
    import dagster as dg

    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name), limit=1)
    if not runs:
        return None, None
    run_id = runs[0].run_id
    steps = [s for s in instance.get_run_step_stats(run_id) if step_key is None or s.step_key == step_key]
    step = sum(s.end_time - s.start_time for s in steps if s.end_time and s.start_time) if steps else None
    stats = instance.get_run_stats(run_id)
    run = (stats.end_time - stats.start_time) if stats.end_time and stats.start_time else None
    return step, run


def weekly_sql(url: str, start: date, end: date) -> dict[str, Any]:
    """The weekly step's SQL alone, every week of [start, end] (UTC, Monday weeks): bring the summary view's
    calendar up to date, read each week's figures from the view, sum each week's entries for the check. Beside
    it, the floor of a stored summary: the same rows, already computed, inserted into an index-free table."""
    import psycopg

    from toggl_assets.warehouse.overview import week_figures
    from toggl_assets.warehouse.rollup import Calendar
    from toggl_assets.warehouse.weekly import prepare_weekly_summaries

    first = start - timedelta(days=start.weekday())
    weeks = [first + timedelta(weeks=i) for i in range(((end - first).days // 7) + 1)]
    with psycopg.connect(url, autocommit=True) as conn, psycopg.connect(url, autocommit=True) as other:
        row = conn.execute("SELECT array_agg(DISTINCT workspace_id) FROM raw.toggl_entries").fetchone()
        workspace_ids = list(row[0] or []) if row else []
        began = time.perf_counter()
        with conn.transaction():
            prepare_weekly_summaries(conn, Calendar("UTC", 1), workspace_ids=workspace_ids)
        overviews, _ = week_figures(conn, other, weeks, "UTC")
        seconds = time.perf_counter() - began
        with conn.transaction(force_rollback=True):  # a measurement, not a change
            conn.execute("CREATE TABLE public.bench_summary_rows AS SELECT * FROM analytics.toggl_weekly_summary")
            conn.execute("CREATE TABLE public.bench_summary_floor (LIKE public.bench_summary_rows)")
            began = time.perf_counter()
            conn.execute("INSERT INTO public.bench_summary_floor SELECT * FROM public.bench_summary_rows")
            floor = time.perf_counter() - began
    rows = sum(o.rows for o in overviews.values())
    return {"weekly_sql_seconds": seconds, "weekly_rows": rows, "weekly_write_floor_seconds": floor}


def plain_copy(url: str) -> tuple[int, float]:
    """Rows/s of a plain binary COPY of the rows of raw.toggl_entries (read into Python first) into a new table
    of the same server with no index and no constraint: the machine's limit for these rows from Python."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
            " WHERE attrelid = 'raw.toggl_entries'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ).fetchall()
        names = ", ".join(f'"{name}"' for name, _ in columns)
        types = [kind for _, kind in columns]
        rows = conn.execute(f"SELECT {names} FROM raw.toggl_entries").fetchall()
        conn.execute("DROP TABLE IF EXISTS public.bench_plain_copy")
        conn.execute("CREATE TABLE public.bench_plain_copy (LIKE raw.toggl_entries)")
        began = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY public.bench_plain_copy ({names}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE public.bench_plain_copy")
    return len(rows), (len(rows) / seconds if seconds > 0 else 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probe")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--first", type=date.fromisoformat, help="first day (with --full)")
    parser.add_argument("--last", type=date.fromisoformat, required=True, help="last partition of the range")
    parser.add_argument("--full", action="store_true", help="also the weekly SQL and the plain COPY")
    args = parser.parse_args(argv)

    import dagster as dg

    url = os.environ["TOGGL_WAREHOUSE_URL"]
    out: dict[str, Any] = {}
    with dg.DagsterInstance.from_config(str(args.home / "dagster_home")) as instance:
        out["metadata"] = entries_metadata(instance, args.last.isoformat())
        out["history"] = history_metadata(instance)
        out["weekly_step_seconds"], out["weekly_run_seconds"] = latest_run_seconds(instance, "toggl_weekly")
        out["entries_step_seconds"], out["sync_run_seconds"] = latest_run_seconds(instance, "toggl_sync", ENTRIES)
    if args.full:
        out.update(weekly_sql(url, args.first, args.last))
        out["plain_copy_rows"], out["plain_copy_rows_per_second"] = plain_copy(url)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
