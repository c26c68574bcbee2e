"""Helpers shared by the reliability tests (``test_reliability_*.py``): databases on the session server,
the sync job with real resources, full table snapshots, the asset checks and the CLI as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql

from toggl_assets.definitions import build_definitions
from toggl_assets.orchestration.jobs import RANGE_END, RANGE_START, SYNC_JOB
from toggl_assets.orchestration.resources import TogglResource, WarehouseResource
from toggl_assets.settings import Settings
from toggl_assets.simulator import Simulator
from toggl_assets.warehouse import checks

RAW_TABLES = ("toggl_clients", "toggl_projects", "toggl_tags", "toggl_users", "toggl_tasks", "toggl_entries")
SCRIPT = shutil.which("toggl-assets", path=str(Path(sys.executable).parent)) or "toggl-assets"


def admin_url(socket_dir: str) -> str:
    return f"postgresql://postgres@/postgres?host={socket_dir}"


@contextmanager
def new_database(socket_dir: str) -> Iterator[str]:
    """An empty database on the session server (dropped afterwards); yields its psycopg URL."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(socket_dir), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://postgres@/{name}?host={socket_dir}"
    finally:
        with psycopg.connect(admin_url(socket_dir), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def make_resources(sim: Simulator, warehouse_url: str, token: str | None = None, **toggl: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"requests_per_second": 0, "workspace_ids": str(sim.workspace_id), **toggl}
    return {
        "toggl": TogglResource(api_token=token or sim.api_token, api_url=sim.url, **options),
        "warehouse": WarehouseResource(url=warehouse_url),
    }


def run_sync(
    sim: Simulator,
    warehouse_url: str,
    first: date,
    last: date,
    *,
    start_date: date,
    instance: dg.DagsterInstance | None = None,
    timezone: str = "UTC",
    token: str | None = None,
    **toggl: Any,
) -> dg.ExecuteInProcessResult:
    """The sync job (metadata + entries of [first, last]) as one run, like the schedule and `toggl-assets sync`."""
    settings = Settings(timezone=timezone, start_date=start_date)
    job = build_definitions(settings, make_resources(sim, warehouse_url, token, **toggl)).resolve_job_def(SYNC_JOB)
    return job.execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={RANGE_START: first.isoformat(), RANGE_END: last.isoformat()},
        raise_on_error=False,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            return event.event_specific_data.error.message
    return ""


def table_contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every raw table, ordered by id, without the columns that record *when* a sync ran.

    ``synced_at`` is the time of the sync that last changed a row, and a placeholder row's ``created_at`` is
    the time it was created (Toggl's is unknown): both legitimately differ between two syncs of the same data.
    """
    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(url) as conn:
        for table in RAW_TABLES:
            columns = [
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = 'raw' AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
                if row[0] != "synced_at"
            ]
            selected = [
                sql.SQL("CASE WHEN is_placeholder THEN NULL ELSE created_at END")
                if name == "created_at" and "is_placeholder" in columns
                else sql.Identifier(name)
                for name in columns
            ]
            query = sql.SQL("SELECT {} FROM raw.{} ORDER BY id").format(
                sql.SQL(", ").join(selected), sql.Identifier(table)
            )
            out[table] = conn.execute(query).fetchall()
    return out


def assert_checks_pass(url: str) -> None:
    """The window-independent asset checks (foreign keys, duplicate ids, durations) all pass."""
    with psycopg.connect(url) as conn:
        results = checks.run_all(conn, "raw")
    failed = {name: result for name, result in results.items() if not result.passed}
    assert not failed, failed


def cli_env(home: Path, warehouse_url: str, dagster_url: str, sim: Simulator, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_", "CI"))}
    env.update(
        TOGGL_ASSETS_HOME=str(home),
        TOGGL_WAREHOUSE_URL=warehouse_url,
        DAGSTER_PG_URL=dagster_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        TOGGL_API_URL=sim.url,
        TOGGL_API_TOKEN=sim.api_token,
        TOGGL_WORKSPACE_ID=str(sim.workspace_id),
        TOGGL_REQUESTS_PER_SECOND="0",
    )
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def start_cli(*args: str, env: dict[str, str], cwd: Path, stdout: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """The CLI in its own process group (so a test can SIGKILL it and anything it started)."""
    return subprocess.Popen(
        [SCRIPT, *args], stdout=stdout, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd, start_new_session=True
    )
