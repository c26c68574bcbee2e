"""A backfill launched the way the UI's asset page launches it (GraphQL, daemon) is one run, like `sync`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest
import requests

from toggl_assets.local_postgres import resolve_database_urls
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.test_cli import SCRIPT

LAUNCH = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
BACKFILL = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 10) { runId status } }
  }
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    """The ``data`` of a GraphQL answer of the webserver on ``port``; GraphQL errors fail the test."""
    answer = requests.post(
        f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    )
    answer.raise_for_status()
    body = answer.json()
    assert not body.get("errors"), body["errors"]
    return body["data"]


def wait_for_assets(port: int, process: subprocess.Popen | None = None, timeout: float = 180) -> None:
    """Wait until the webserver on ``port`` answers with the code location's assets loaded."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = requests.post(
                f"http://127.0.0.1:{port}/graphql", json={"query": "{ assetNodes { assetKey { path } } }"}, timeout=30
            )
            if answer.ok and (answer.json().get("data") or {}).get("assetNodes"):
                return
        except requests.RequestException:
            pass
        assert process is None or process.poll() is None, f"the Dagster process exited with {process.returncode}"
        assert time.monotonic() < deadline, "the Dagster UI did not come up"
        time.sleep(1)


def wait_for_backfill(port: int, backfill_id: str, timeout: float = 180) -> dict:
    """Poll the backfill until it has ended; return its last ``PartitionBackfill`` answer."""
    deadline = time.monotonic() + timeout
    while True:
        backfill = graphql(port, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "COMPLETED_FAILED", "CANCELED"):
            return backfill
        assert time.monotonic() < deadline, f"backfill still {backfill['status']}"
        time.sleep(2)


def stop_process_group(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGINT the process group started with ``start_new_session=True`` (Dagster's graceful stop), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.slow
def test_ui_backfill_is_one_run_and_loads_the_window(tmp_path: Path):
    spec = workspace_spec(31, 600, date(2024, 3, 1), date(2024, 3, 31), projects=4, tags=3, tasks=4)
    port = free_port()
    with Simulator(SimulatorConfig(spec=spec)) as sim:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
        env.update(
            TOGGL_ASSETS_HOME=str(tmp_path),
            TOGGL_API_URL=sim.url,
            TOGGL_API_TOKEN=sim.api_token,
            TOGGL_WORKSPACE_ID=str(sim.workspace_id),
            TOGGL_START_DATE="2024-03-01",
            TOGGL_REQUESTS_PER_SECOND="0",
        )
        dev = subprocess.Popen(
            [SCRIPT, "dev", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_assets(port, dev)
            params = {
                "partitionsByAssets": [
                    {
                        "assetKey": {"path": ["toggl_entries"]},
                        "partitions": {"range": {"start": "2024-03-04", "end": "2024-03-15"}},
                    }
                ]
            }
            launched = graphql(port, LAUNCH, {"params": params})["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfill = wait_for_backfill(port, launched["backfillId"])
        finally:
            stop_process_group(dev)
        assert [run["status"] for run in backfill["runs"]] == ["SUCCESS"]  # one run for 12 days
        lower = datetime(2024, 3, 4, tzinfo=UTC)
        upper = datetime(2024, 3, 16, tzinfo=UTC)
        expected = {
            e["id"]
            for e in sim.truth.entries
            if lower <= datetime.fromisoformat(e["start"]) < upper and e["stop"] is not None
        }
    # `dev` stopped the embedded server on exit; the next user of the home starts it again, data intact.
    url = resolve_database_urls(tmp_path, {}).warehouse_url
    with psycopg.connect(url) as conn:
        stored = {
            row[0]
            for row in conn.execute("SELECT id FROM raw.toggl_entries WHERE start >= %s AND start < %s", (lower, upper))
        }
    assert stored == expected and stored
