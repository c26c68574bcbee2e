"""What the Dagster UI shows of the code location, asked the way the UI asks: GraphQL of a running webserver.

One webserver (``toggl-assets dev``: webserver and daemon) over the same storage as the ``toggl-assets sync``
run the module fixture starts with it: the CLI's run is listed under its job and re-executes from the UI,
each entry partition carries its own row count, and the asset definitions carry Dagster's standard keys.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from toggl_assets.local_postgres import resolve_database_urls
from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.test_cli import SCRIPT, run_cli
from toggl_assets_tests.test_ui_backfill import free_port, graphql, stop_process_group, wait_for_assets

LOCATION = "toggl_assets"
SYNC_JOB = "toggl_sync"
DAYS = ("2024-03-04", "2024-03-05", "2024-03-06")
TIMEZONE = "Europe/Berlin"
RAW_SCHEMA = "ui_raw"
ANALYTICS_SCHEMA = "ui_reports"
OWNERS = {"team:data", "ana@example.com"}
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

# One webserver and daemon for the module: about 70 s to start and sync, then about 15 s per re-execution.
pytestmark = pytest.mark.slow

RUNS = """
query($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId status parentRunId rootRunId jobName runConfigYaml mode
        assetSelection { path }
        repositoryOrigin { repositoryLocationName repositoryName }
        tags { key value }
      }
    }
    ... on PythonError { message }
  }
}"""
JOB_RUNS = """
query($selector: PipelineSelector!) {
  pipelineOrError(params: $selector) {
    __typename
    ... on Pipeline { runs(limit: 20) { runId } }
  }
}"""
REEXECUTE = """
mutation($params: ReexecutionParams, $executionParams: ExecutionParams) {
  launchPipelineReexecution(reexecutionParams: $params, executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""
RUN = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      runId status parentRunId runConfigYaml stepKeysToExecute
      repositoryOrigin { repositoryLocationName }
      tags { key value }
    }
  }
}"""
RUN_EVENTS = """
query($runId: ID!) {
  logsForRun(runId: $runId, limit: 5000) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { message level } } }
  }
}"""
MATERIALIZATIONS = """
query($partitions: [String!]) {
  assetNodes(assetKeys: [{path: ["toggl_entries"]}]) {
    assetMaterializations(partitions: $partitions) {
      partition runId timestamp
      metadataEntries { label __typename ... on IntMetadataEntry { intValue } }
    }
  }
}"""
DEFINITIONS = """
{
  assetNodes {
    assetKey { path }
    kinds
    owners { __typename ... on UserAssetOwner { email } ... on TeamAssetOwner { team } }
    metadataEntries {
      label __typename
      ... on TextMetadataEntry { text }
      ... on TableSchemaMetadataEntry { schema { columns { name type description } } }
      ... on CodeReferencesMetadataEntry {
        codeReferences {
          __typename
          ... on LocalFileCodeReference { filePath lineNumber }
          ... on UrlCodeReference { url }
        }
      }
    }
  }
}"""


@dataclass
class UI:
    port: int
    home: Path
    simulator: Simulator
    sync: subprocess.CompletedProcess[str]

    def warehouse(self) -> psycopg.Connection:
        return psycopg.connect(resolve_database_urls(self.home, {}).warehouse_url)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    """``toggl-assets dev`` on a fresh home, and one ``toggl-assets sync`` of ``DAYS`` into the same storage."""
    home = tmp_path_factory.mktemp("ui")
    spec = workspace_spec(23, 240, date(2024, 3, 1), date(2024, 3, 10), projects=4, tags=3, tasks=4)
    with Simulator(SimulatorConfig(spec=spec)) as simulator:
        env = {
            "TOGGL_API_URL": simulator.url,
            "TOGGL_API_TOKEN": simulator.api_token,
            "TOGGL_WORKSPACE_ID": str(simulator.workspace_id),
            "TOGGL_START_DATE": "2024-03-01",
            "TOGGL_REQUESTS_PER_SECOND": "0",
            "TOGGL_TIMEZONE": TIMEZONE,
            "TOGGL_RAW_SCHEMA": RAW_SCHEMA,
            "TOGGL_ANALYTICS_SCHEMA": ANALYTICS_SCHEMA,
            "TOGGL_OWNERS": ",".join(sorted(OWNERS)),
        }
        dev_env = {key: value for key, value in os.environ.items() if not key.startswith(("TOGGL_", "DAGSTER_"))}
        dev_env.update(env, TOGGL_ASSETS_HOME=str(home))
        port = free_port()
        dev = subprocess.Popen(
            [SCRIPT, "dev", "--port", str(port)],
            env=dev_env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_for_assets(port, dev)
            sync = run_cli("sync", "--start", DAYS[0], "--end", DAYS[-1], env=env, home=home)
            yield UI(port, home, simulator, sync)
        finally:
            stop_process_group(dev)


def runs_of(port: int, **filters: object) -> list[dict]:
    answer = graphql(port, RUNS, {"filter": filters})["runsOrError"]
    assert answer["__typename"] == "Runs", answer
    return answer["results"]


def cli_run(ui: UI) -> dict:
    """The run ``toggl-assets sync`` created (the one without a parent)."""
    assert ui.sync.returncode == 0, ui.sync.stdout + ui.sync.stderr
    runs = [run for run in runs_of(ui.port, pipelineName=SYNC_JOB) if run["parentRunId"] is None]
    assert len(runs) == 1, runs
    return runs[0]


def wait_for_run(port: int, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = graphql(port, RUN, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}"
        time.sleep(1)


def tags_of(run: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def assert_no_secret(token: str, *answers: object) -> None:
    text = json.dumps(answers)
    assert token not in text


def test_cli_sync_run_is_listed_under_its_job_with_user_facing_tags_only(ui):
    run = cli_run(ui)
    assert run["status"] == "SUCCESS"
    assert run["jobName"] == SYNC_JOB
    assert run["repositoryOrigin"] == {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
    # The job page of the location (what the UI's Runs tab of toggl_sync shows) lists it.
    selector = {"pipelineName": SYNC_JOB, "repositoryName": "__repository__", "repositoryLocationName": LOCATION}
    job = graphql(ui.port, JOB_RUNS, {"selector": selector})["pipelineOrError"]
    assert job["__typename"] == "Pipeline", job
    assert run["runId"] in {listed["runId"] for listed in job["runs"]}
    tags = tags_of(run)
    assert (tags[RANGE_START], tags[RANGE_END]) == (DAYS[0], DAYS[-1])
    own = {key for key in tags if not key.startswith(("dagster/", ".dagster/"))}
    assert own == {"toggl/source"}, tags  # no host, pid or process start time: those stay in the run registry
    assert tags["toggl/source"] == "cli"
    assert_no_secret(ui.simulator.api_token, run)


def test_cli_sync_run_reexecutes_from_the_ui(ui):
    parent = cli_run(ui)
    launched = graphql(ui.port, REEXECUTE, {"params": {"parentRunId": parent["runId"], "strategy": "ALL_STEPS"}})[
        "launchPipelineReexecution"
    ]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = wait_for_run(ui.port, launched["run"]["runId"])
    assert child["status"] == "SUCCESS", child
    assert child["parentRunId"] == parent["runId"]
    assert child["repositoryOrigin"]["repositoryLocationName"] == LOCATION
    tags = tags_of(child)
    assert (tags[RANGE_START], tags[RANGE_END]) == (DAYS[0], DAYS[-1])  # the same range, re-synced
    materialized = graphql(ui.port, MATERIALIZATIONS, {"partitions": list(DAYS)})["assetNodes"][0]
    by_child = {m["partition"] for m in materialized["assetMaterializations"] if m["runId"] == child["runId"]}
    assert by_child == set(DAYS)
    events = graphql(ui.port, RUN_EVENTS, {"runId": child["runId"]})["logsForRun"]
    assert events["__typename"] == "EventConnection" and events["events"]
    assert_no_secret(ui.simulator.api_token, child, events)


def test_cli_sync_run_reexecutes_a_selected_step_from_the_ui(ui):
    """The run page's "Re-execute selected": executionParams built from the parent run as the UI builds them
    (``getReexecutionParamsForSelection``: the parent's tags, config and asset selection, plus step keys)."""
    parent = cli_run(ui)
    hidden = {"dagster/is_resume_retry", "dagster/step_selection"}
    tags = [tag for tag in parent["tags"] if tag["key"] not in hidden]
    tags += [
        {"key": "dagster/parent_run_id", "value": parent["runId"]},
        {"key": "dagster/root_run_id", "value": parent["rootRunId"] or parent["runId"]},
        {"key": "dagster/step_selection", "value": "toggl_entries"},
    ]
    execution_params = {
        "mode": parent["mode"],
        "runConfigData": parent["runConfigYaml"],
        "executionMetadata": {
            "parentRunId": parent["runId"],
            "rootRunId": parent["rootRunId"] or parent["runId"],
            "tags": tags,
        },
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "pipelineName": SYNC_JOB,
            "assetSelection": parent["assetSelection"] or [],
            "assetCheckSelection": [],
        },
        "stepKeys": ["toggl_entries"],
    }
    launched = graphql(ui.port, REEXECUTE, {"executionParams": execution_params})["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = wait_for_run(ui.port, launched["run"]["runId"])
    assert child["status"] == "SUCCESS", child
    assert child["parentRunId"] == parent["runId"]
    assert child["stepKeysToExecute"] == ["toggl_entries"]
    materialized = graphql(ui.port, MATERIALIZATIONS, {"partitions": list(DAYS)})["assetNodes"][0]
    assert {m["partition"] for m in materialized["assetMaterializations"] if m["runId"] == child["runId"]} == set(DAYS)
    assert_no_secret(ui.simulator.api_token, child)


def test_each_entry_partition_shows_its_own_row_count(ui):
    cli_run(ui)  # the sync succeeded
    answer = graphql(ui.port, MATERIALIZATIONS, {"partitions": list(DAYS)})["assetNodes"][0]
    materializations = answer["assetMaterializations"]
    metadata = [({e["label"]: e.get("intValue") for e in m["metadataEntries"]}, m) for m in materializations]
    latest: dict[str, dict] = {}
    for values, m in sorted(metadata, key=lambda item: float(item[1]["timestamp"])):
        latest[m["partition"]] = values
    assert set(latest) == set(DAYS)
    with ui.warehouse() as conn:
        rows = dict(
            conn.execute(
                sql.SQL(
                    "SELECT to_char(start AT TIME ZONE %s, 'YYYY-MM-DD'), count(*) FROM {}.toggl_entries GROUP BY 1"
                ).format(sql.Identifier(RAW_SCHEMA)),
                (TIMEZONE,),
            ).fetchall()
        )
    assert len({rows.get(day) for day in DAYS}) > 1  # the days differ, so a shared count would show
    assert {day: latest[day]["dagster/row_count"] for day in DAYS} == {day: rows.get(day, 0) for day in DAYS}
    # Run-wide figures are recorded once per run, not on every partition.
    for run_id in {m["runId"] for _, m in metadata}:
        of_run = [values for values, m in metadata if m["runId"] == run_id]
        assert len(of_run) == len(DAYS)
        assert sum("api_requests" in values for values in of_run) == 1, run_id
        assert all("dagster/row_count" in values for values in of_run)
        assert sum(values["api_requests"] or 0 for values in of_run if "api_requests" in values) > 0


def test_asset_definitions_carry_the_standard_metadata(ui):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(ui.port, DEFINITIONS)["assetNodes"]}
    tables = {
        "toggl_workspaces": RAW_SCHEMA,
        "toggl_clients": RAW_SCHEMA,
        "toggl_projects": RAW_SCHEMA,
        "toggl_tags": RAW_SCHEMA,
        "toggl_users": RAW_SCHEMA,
        "toggl_tasks": RAW_SCHEMA,
        "toggl_entries": RAW_SCHEMA,
        "toggl_weekly_summary": ANALYTICS_SCHEMA,
    }
    assert set(tables) <= set(nodes)
    columns: dict[str, set[str]] = {}
    with ui.warehouse() as conn:
        for schema, table, name in conn.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_schema IN (%s, %s)",
            (RAW_SCHEMA, ANALYTICS_SCHEMA),
        ):
            columns.setdefault(f"{schema}.{table}", set()).add(name)
    package = Path(__file__).resolve().parent.parent / "toggl_assets"
    for asset, schema in tables.items():
        node = nodes[asset]
        entries = {e["label"]: e for e in node["metadataEntries"]}
        assert entries["dagster/table_name"]["text"] == f"{schema}.{asset}", asset
        documented = {c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]}
        assert documented == columns[f"{schema}.{asset}"], asset
        assert all(c["description"] for c in entries["dagster/column_schema"]["schema"]["columns"]), asset
        [reference] = entries["dagster/code_references"]["codeReferences"]
        source = Path(reference["filePath"])
        assert source.is_relative_to(package) and source.is_file(), reference
        lines = source.read_text().splitlines()[reference["lineNumber"] - 1 :]
        assert lines[0].lstrip().startswith(("@dg.asset(", "def ")), reference  # where the definition begins
        assert set(node["kinds"]) == {"toggl", "postgres"}, asset
        owners = {o.get("email") or f"team:{o['team']}" for o in node["owners"]}
        assert owners == OWNERS, asset
    [entries_reference] = next(
        e for e in nodes["toggl_entries"]["metadataEntries"] if e["label"] == "dagster/code_references"
    )["codeReferences"]
    assert Path(entries_reference["filePath"]) == package / "orchestration" / "entries.py"
    lines = Path(entries_reference["filePath"]).read_text().splitlines()[entries_reference["lineNumber"] - 1 :]
    assert next(line.strip() for line in lines if line.lstrip().startswith("def ")).startswith("def toggl_entries(")
