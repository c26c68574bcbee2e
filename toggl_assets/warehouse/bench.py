"""Measure COPY + merge throughput: ``python -m toggl_assets.warehouse.bench [--rows N] [--url URL]``.

Without ``--url`` it uses a throw-away embedded PostgreSQL under a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from toggl_assets.warehouse.db import connect
from toggl_assets.warehouse.load import EntryStaging
from toggl_assets.warehouse.migrations import migrate
from toggl_assets.warehouse.synthetic import EPOCH, synthetic_entries


def run(url: str, rows: int, page: int = 50_000) -> dict[str, float]:
    """Stage ``rows`` entries in pages, merge them as one window; return timings and rows/s."""
    with connect(url) as conn:
        migrate(conn)
        records = list(synthetic_entries(rows))
        began = time.perf_counter()
        stage = EntryStaging(conn)
        for i in range(0, rows, page):
            stage.add(records[i : i + page])
        copied = time.perf_counter()
        stats = stage.merge_window(EPOCH, EPOCH + timedelta(days=366))
        conn.commit()
        merged = time.perf_counter()
        stage.close()
        conn.commit()
        again = EntryStaging(conn)
        again.add(records)
        began_again = time.perf_counter()
        unchanged = again.merge_window(EPOCH, EPOCH + timedelta(days=366))
        conn.commit()
        remerged = time.perf_counter()
        again.close()
        conn.commit()
    assert stats.inserted == rows and unchanged.unchanged == rows, (stats, unchanged)
    return {
        "rows": rows,
        "copy_s": copied - began,
        "merge_s": merged - copied,
        "total_rows_per_s": rows / (merged - began),
        "copy_rows_per_s": rows / (copied - began),
        "remerge_unchanged_s": remerged - began_again,
    }


def describe(result: dict[str, float]) -> str:
    return (
        f"{result['rows']:,} entries: COPY {result['copy_s']:.2f} s "
        f"({result['copy_rows_per_s']:,.0f} rows/s), merge {result['merge_s']:.2f} s, "
        f"COPY+merge {result['total_rows_per_s']:,.0f} rows/s; "
        f"unchanged re-merge {result['remerge_unchanged_s']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--url", help="PostgreSQL URL (default: a temporary embedded server)")
    args = parser.parse_args()
    url = args.url
    if url is None:
        from toggl_assets.local_postgres import start_embedded_server

        socket_dir = start_embedded_server(Path(tempfile.mkdtemp(prefix="toggl_bench_")))
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = f"postgresql://postgres@/postgres?host={socket_dir}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = f"postgresql://postgres@/{name}?host={socket_dir}"
    print(describe(run(url, args.rows)))


if __name__ == "__main__":
    main()
