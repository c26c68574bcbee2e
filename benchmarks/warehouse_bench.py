"""Warehouse load and weekly-summary speed, without Toggl or Dagster.

``python -m benchmarks.warehouse_bench [--entries 250000] [--weekly-entries 1000000]`` starts an embedded
PostgreSQL server in a temporary directory and measures, on the same server and the same rows:

* a plain binary ``COPY`` of N synthetic entries into a table with no index and no constraint (the floor);
* the project's load: ``EntryStaging.add`` (binary COPY into the stage) plus ``merge_window`` into
  ``toggl_entries`` in one transaction, with every foreign key enforced (metadata loaded first, as a sync does);
* a re-merge of the same rows (the daily run's common case: nothing changed);
* the weekly summary of every week of a year holding ``--weekly-entries`` entries.

Ratios are speeds: ``load/COPY = COPY seconds / load seconds`` (1.0 = as fast as COPY).
"""

from __future__ import annotations

import argparse
import inspect
import platform
import random
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from toggl_assets.local_postgres import start_embedded_server
from toggl_assets.records import EntryRecord, ProjectRecord, TagRecord, TaskRecord, UserRecord
from toggl_assets.warehouse import migrations

WORKSPACE = 1
YEAR_START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
DAYS = 364
SIZES = {"users": 100, "projects": 40, "tasks": 80, "tags": 20}


def _imports() -> dict[str, Any]:
    """The warehouse API (the split modules, or the single ``load`` module of older versions)."""
    try:
        from toggl_assets.warehouse import entries, metadata

        names = {
            "EntryStaging": entries.EntryStaging,
            "entry_row": entries.entry_row,
            "ENTRY_COLUMNS": entries.ENTRY_COLUMNS,
        }
        names.update({f"upsert_{k}": getattr(metadata, f"upsert_{k}") for k in ("users", "projects", "tags", "tasks")})
        names["upsert_workspaces"] = metadata.upsert_workspaces
    except ImportError:
        from toggl_assets.warehouse import load

        names = {"EntryStaging": load.EntryStaging, "entry_row": load.entry_row, "ENTRY_COLUMNS": load.ENTRY_COLUMNS}
        names.update({f"upsert_{k}": getattr(load, f"upsert_{k}") for k in ("users", "projects", "tags", "tasks")})
    from toggl_assets.warehouse import weekly

    names["refresh_weekly_summaries"] = weekly.refresh_weekly_summaries
    return names


API = _imports()
NEW_API = "workspace_id" in inspect.signature(API["EntryStaging"].merge_window).parameters


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
    options: dict[str, Any] = {"workspace_id": WORKSPACE} if NEW_API else {}
    with conn.transaction():
        if NEW_API:
            from toggl_assets.records import WorkspaceRecord

            API["upsert_workspaces"](conn, [WorkspaceRecord(WORKSPACE, 1, "bench", "EUR")])
        API["upsert_users"](
            conn, [UserRecord(i, WORKSPACE, f"user {i}", None) for i in range(1, SIZES["users"] + 1)], **options
        )
        API["upsert_projects"](
            conn,
            [
                ProjectRecord(i, WORKSPACE, None, f"project {i}", None, False, True, True, epoch, currency="EUR")
                for i in range(1, SIZES["projects"] + 1)
            ],
            **options,
        )
        API["upsert_tags"](
            conn, [TagRecord(i, WORKSPACE, f"tag {i}", epoch) for i in range(1, SIZES["tags"] + 1)], **options
        )
        API["upsert_tasks"](
            conn,
            [TaskRecord(i, WORKSPACE, (i % SIZES["projects"]) + 1, f"task {i}") for i in range(1, SIZES["tasks"] + 1)],
            **options,
        )


def plain_copy_seconds(conn: psycopg.Connection, rows: Iterable[tuple]) -> float:
    """A binary COPY of ``rows`` into a constraint-free, index-free copy of toggl_entries' columns (the time to
    produce ``rows`` counts: pass a generator to include converting records)."""
    columns = API["ENTRY_COLUMNS"]
    types = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = 'raw.toggl_entries'::regclass AND attnum > 0 AND NOT attisdropped"
    ).fetchall()
    kinds = dict(types)
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


def merge_seconds(conn: psycopg.Connection, records: list[EntryRecord]) -> tuple[float, Any]:
    """Stage ``records`` and merge the whole year in one transaction; returns (seconds, stats)."""
    end = YEAR_START + timedelta(days=DAYS)
    began = time.perf_counter()
    stage = API["EntryStaging"](conn)
    stage.add(records)
    with conn.transaction():
        if NEW_API:
            stats = stage.merge_window(WORKSPACE, YEAR_START, end, timezone="UTC")
        else:
            stats = stage.merge_window(YEAR_START, end)
    stage.close()
    conn.commit()
    return time.perf_counter() - began, stats


def weekly_seconds(conn: psycopg.Connection) -> tuple[float, int]:
    weeks = [YEAR_START.date() + timedelta(weeks=i) for i in range(DAYS // 7)]
    began = time.perf_counter()
    with conn.transaction():
        if NEW_API:
            rows = API["refresh_weekly_summaries"](conn, weeks, "UTC", workspace_ids=[WORKSPACE])
        else:
            rows = API["refresh_weekly_summaries"](conn, weeks, "UTC")
    return time.perf_counter() - began, rows


def fresh(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = admin.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(url) as conn:
        migrations.migrate(conn)
        load_metadata(conn)
    return url


def run_load(admin: str, count: int) -> dict[str, float]:
    records = list(synthetic_entries(count))
    rows = [API["entry_row"](r) for r in records]
    url = fresh(admin, "bench_load")
    with psycopg.connect(url) as conn:
        copy_s = plain_copy_seconds(conn, rows)
        convert_copy_s = plain_copy_seconds(conn, (API["entry_row"](r) for r in records))
        load_s, stats = merge_seconds(conn, records)
        again_s, _ = merge_seconds(conn, records)
    print(f"load {count:,} entries: plain COPY {copy_s:.2f} s ({count / copy_s:,.0f} rows/s);"
          f" with converting the records {convert_copy_s:.2f} s")  # fmt: skip
    print(f"  stage + merge {load_s:.2f} s ({count / load_s:,.0f} rows/s), load/COPY = {copy_s / load_s:.2f}")
    print(
        f"  re-merge unchanged {again_s:.2f} s ({count / again_s:,.0f} rows/s), re-merge/COPY = {copy_s / again_s:.2f}"
    )
    print(f"  stats: inserted={stats.inserted} updated={stats.updated} deleted={stats.deleted}")
    return {"copy_s": copy_s, "load_s": load_s, "ratio": copy_s / load_s, "remerge_s": again_s}


def run_weekly(admin: str, count: int) -> dict[str, float]:
    url = fresh(admin, "bench_weekly")
    with psycopg.connect(url) as conn:
        load_s, _ = merge_seconds(conn, list(synthetic_entries(count, seed=11)))
        weekly_s, rows = weekly_seconds(conn)
        again_s, _ = weekly_seconds(conn)
    print(f"weekly summary of a {count:,}-entry year ({DAYS // 7} weeks): {weekly_s:.2f} s, {rows} rows;"
          f" again {again_s:.2f} s (load took {load_s:.1f} s)")  # fmt: skip
    return {"weekly_s": weekly_s, "weekly_again_s": again_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.warehouse_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=250_000, help="entries for the load benchmark")
    parser.add_argument("--weekly-entries", type=int, default=1_000_000, help="entries of the weekly year (0: skip)")
    parser.add_argument("--home", type=Path, help="embedded server directory (default: a temporary one)")
    args = parser.parse_args(argv)
    print(f"{platform.node()}: {platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" {'new' if NEW_API else 'old'} warehouse API, {date.today()}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="warehouse_bench_") as tmp:
        socket_dir = start_embedded_server(args.home or Path(tmp))
        admin = f"postgresql://postgres@/postgres?host={socket_dir}"
        with psycopg.connect(admin) as conn:
            print(f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}")
        if args.entries:
            run_load(admin, args.entries)
        if args.weekly_entries:
            run_weekly(admin, args.weekly_entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
