"""The floor: the same backfill done by a minimal plain script, ``requests`` + psycopg ``COPY``, no Dagster.

    python -m benchmarks.plain_script --url URL --token T --workspace W --start D --end D \
        --warehouse-url postgresql://... [--page-size 10000]

It reads the detailed report (``POST /reports/api/v3/workspace/{W}/search/time_entries``) in spans of at
most 365 days and pages of ``--page-size`` rows, following ``X-Next-ID``/``X-Next-Row-Number`` like the
client, parses each page with ``response.json()`` and streams its entries into one table
(``public.plain_toggl_entries``, created fresh, no index, no constraint) with one binary ``COPY`` in one
transaction. No metadata, no validation, no merge, no retries: what any pipeline for this data must at least do
on this machine. Prints one JSON line: rows, requests, seconds (fetch+parse and COPY share one loop).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

SPAN_DAYS = 365
COLUMNS = (
    ("id", "bigint"),
    ("workspace_id", "bigint"),
    ("user_id", "bigint"),
    ("project_id", "bigint"),
    ("task_id", "bigint"),
    ("description", "text"),
    ("billable", "boolean"),
    ("tag_ids", "bigint[]"),
    ("start", "timestamptz"),
    ("stop", "timestamptz"),
    ("duration_seconds", "bigint"),
    ("at", "timestamptz"),
)


def spans(start: date, end: date) -> Iterator[tuple[date, date]]:
    while start <= end:
        last = min(end, start + timedelta(days=SPAN_DAYS - 1))
        yield start, last
        start = last + timedelta(days=1)


def pages(session: Any, url: str, workspace: int, start: date, end: date, size: int) -> Iterator[list[dict]]:
    """Every detailed-report page of [start, end], span by span."""
    endpoint = f"{url.rstrip('/')}/reports/api/v3/workspace/{workspace}/search/time_entries"
    for first, last in spans(start, end):
        body: dict[str, Any] = {"start_date": first.isoformat(), "end_date": last.isoformat(), "page_size": size}
        while True:
            response = session.post(endpoint, json=body, timeout=300)
            response.raise_for_status()
            yield response.json()
            next_id, next_row = response.headers.get("X-Next-ID"), response.headers.get("X-Next-Row-Number")
            if not next_id and not next_row:
                break
            body = {**body, "first_id": int(next_id or 0), "first_row_number": int(next_row or 0)}


def rows_of(page: list[dict], workspace: int) -> Iterator[tuple]:
    for row in page:
        for te in row["time_entries"]:
            stop = te.get("stop")
            yield (
                te["id"],
                workspace,
                row["user_id"],
                row.get("project_id"),
                row.get("task_id"),
                row.get("description"),
                row.get("billable"),
                row.get("tag_ids") or [],
                datetime.fromisoformat(te["start"]),
                datetime.fromisoformat(stop) if stop else None,
                te.get("seconds"),
                datetime.fromisoformat(te["at"]),
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plain_script")
    parser.add_argument("--url", required=True, help="API root (the simulator's TOGGL_API_URL)")
    parser.add_argument("--token", required=True)
    parser.add_argument("--workspace", type=int, required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--warehouse-url", required=True)
    parser.add_argument("--page-size", type=int, default=10_000)
    args = parser.parse_args(argv)

    import psycopg
    import requests

    started = time.perf_counter()
    names = ", ".join(f'"{name}"' for name, _ in COLUMNS)
    rows = requests_made = 0
    with requests.Session() as session, psycopg.connect(args.warehouse_url) as conn:
        session.auth = (args.token, "api_token")
        conn.execute("DROP TABLE IF EXISTS public.plain_toggl_entries")
        conn.execute(
            "CREATE TABLE public.plain_toggl_entries (" + ", ".join(f'"{name}" {kind}' for name, kind in COLUMNS) + ")"
        )
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY public.plain_toggl_entries ({names}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types([kind for _, kind in COLUMNS])
            for page in pages(session, args.url, args.workspace, args.start, args.end, args.page_size):
                requests_made += 1
                for row in rows_of(page, args.workspace):
                    copy.write_row(row)
                    rows += 1
        conn.commit()
    print(json.dumps({"rows": rows, "requests": requests_made, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
