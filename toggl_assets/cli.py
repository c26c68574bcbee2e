"""The ``toggl-assets`` command: dev, sync, demo, simulator and weekly-report.

Expected failures (missing token, bad dates, unreachable database, refused token) print one line starting
with ``error:`` and exit with status 2 (bad input) or 1 (a run that failed); no traceback.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from toggl_assets.run_recovery import RunRegistry
from toggl_assets.settings import ConfigError, Settings, load_dotenv_file, parse_date

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class CliError(Exception):
    """An expected failure: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------- environment


def prepare_instance(settings: Settings) -> None:
    """Point Dagster and the warehouse at their databases (starting the embedded server if needed)."""
    from toggl_assets.local_postgres import export_database_urls
    from toggl_assets.warehouse.db import WarehouseError, connect

    try:
        urls = export_database_urls(settings.home)
    except Exception as error:  # the embedded server could not start: say where its log is
        raise CliError(
            f"could not start the embedded PostgreSQL server under {settings.home}: {type(error).__name__} "
            f"(see {settings.home / 'pgdata' / 'log'})"
        ) from None
    for name, url in (("TOGGL_WAREHOUSE_URL", urls.warehouse_url), ("DAGSTER_PG_URL", urls.dagster_url)):
        try:
            connect(url).close()
        except WarehouseError as error:
            raise CliError(f"{name}: {error}") from None
    if not os.environ.get("DAGSTER_HOME"):
        dagster_home = settings.home / "dagster_home"
        dagster_home.mkdir(parents=True, exist_ok=True)
        source = PROJECT_ROOT / "dagster.yaml"
        if not source.exists():
            raise CliError(f"dagster.yaml not found at {source}; set DAGSTER_HOME to a folder that has one")
        shutil.copyfile(source, dagster_home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(dagster_home)


def run_registry(settings: Settings) -> RunRegistry:
    """Where this host's toggl-assets processes record the runs they execute (see run_recovery)."""
    return RunRegistry(settings.home / "cli_runs")


def release_runs_of_dead_processes(settings: Settings, instance: Any = None) -> None:
    """Mark failed the runs of toggl-assets processes that died mid-run (see run_recovery), through ``instance``
    or, without one, an instance of its own. Housekeeping: a failure is a warning, never the command's."""
    import dagster as dg

    from toggl_assets.run_recovery import release_dead_runs

    try:
        with nullcontext(instance) if instance is not None else dg.DagsterInstance.get() as current:
            released = release_dead_runs(current, run_registry(settings))
    except Exception as error:  # never block a command on this housekeeping; the run will say what is wrong
        print(
            f"warning: could not check for runs of dead toggl-assets processes: {type(error).__name__}",
            file=sys.stderr,
            flush=True,
        )
        return
    for run_id in released:
        print(
            f"note: run {run_id} of a toggl-assets process that died was marked failed and its "
            "toggl_api pool slot released",
            flush=True,
        )


def require_token() -> None:
    if not os.environ.get("TOGGL_API_TOKEN", "").strip():
        raise CliError(
            "TOGGL_API_TOKEN is not set: copy your API token from https://track.toggl.com/profile "
            "into .env or the environment (see .env.example)"
        )


# ---------------------------------------------------------------------------------------------- sync


@dataclass
class SyncSummary:
    runs: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    api_requests: int = 0
    quota_remaining: int | None = None
    history: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, result: Any) -> None:
        from toggl_assets.orchestration.metadata import run_summary

        self.runs.append(result.run_id)
        rows, requests, quota = run_summary(result)
        self.rows.update(rows)
        self.api_requests += requests
        self.quota_remaining = quota if quota is not None else self.quota_remaining

    def lines(self) -> list[str]:
        out = [
            f"Synced in {self.seconds:.1f} s with {self.api_requests} Toggl API requests"
            + (f" ({self.quota_remaining} left this hour)" if self.quota_remaining is not None else "")
        ]
        for asset, counts in self.rows.items():
            if counts:  # the history step has no row counts: its findings follow as their own lines
                out.append(f"  {asset:<22} " + ", ".join(f"{key} {value}" for key, value in counts.items()))
        out.extend(self.history)
        return out


def _failure_message(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            # An exception raised by the asset (e.g. WarehouseError) arrives wrapped in Dagster's
            # "Error occurred while executing op ...:"; the user needs the wrapped exception's message.
            while error.cause is not None and error.cls_name.startswith("Dagster"):
                error = error.cause
            message = (error.message or "").strip().splitlines()
            return message[-1] if message else "step failed"
    return "the run failed"


def _history_lines(result: Any) -> list[str]:
    """What the reconciliation found and fixed, from its materialization."""
    from toggl_assets.orchestration.history import HISTORY

    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() != HISTORY:
            continue
        values = {key: value.value for key, value in materialization.metadata.items()}
        line = (
            f"  history: {values.get('days_compared', 0)} synced days compared with Toggl, "
            f"{values.get('days_different', 0)} different, {values.get('days_resynced', 0)} re-synced"
        )
        found = values.get("differences")
        details = (
            [f"    {r.data['day']} (workspace {r.data['workspace_id']}): {r.data['reasons']}" for r in found.records]
            if found
            else []
        )
        return [line, *details[:20]]
    return []


def _execute(instance: Any, settings: Settings, job: str, tags: dict[str, str], log_level: str) -> Any:
    from toggl_assets.cli_runs import execute_job

    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    result = execute_job(
        instance, job, run_config=run_config, tags={**tags, "toggl/source": "cli"}, registry=run_registry(settings)
    )
    if not result.success:
        raise CliError(f"{job} failed (run {result.run_id}): {_failure_message(result)}", code=1)
    return result


def _synced_days(result: Any) -> list[date]:
    """The entry partitions a run materialized (its range and any day the reconciliation re-synced)."""
    days = []
    for event in result.get_asset_materialization_events():
        if event.partition and event.asset_key.to_user_string() == "toggl_entries":
            days.append(date.fromisoformat(event.partition))
    return days


def run_sync(settings: Settings, start: date | None, end: date | None, *, log_level: str = "INFO") -> SyncSummary:
    """One range [start, end] (the sync job), or without dates exactly one tick of the daily schedule (the
    daily job: metadata, trailing days, history reconciliation); then the weekly summaries of the weeks touched."""
    import dagster as dg

    from toggl_assets.orchestration.jobs import DAILY_JOB, RANGE_END, RANGE_START, SYNC_JOB, WEEKLY_JOB
    from toggl_assets.orchestration.partitions import build_partitions
    from toggl_assets.orchestration.schedules import daily_run_request
    from toggl_assets.orchestration.weekly_summary import weekly_keys_covering

    summary = SyncSummary()
    started = time.monotonic()
    with dg.DagsterInstance.get() as instance:
        release_runs_of_dead_processes(settings, instance)  # one instance per command: each costs 0.5 s and more
        if start is not None and end is not None:
            job, tags = SYNC_JOB, {RANGE_START: start.isoformat(), RANGE_END: end.isoformat()}
        else:
            request = daily_run_request(settings, datetime.now(ZoneInfo(settings.timezone)))
            if isinstance(request, dg.SkipReason):
                raise CliError(request.skip_message or "nothing to sync")
            job, tags = DAILY_JOB, dict(request.tags)
        result = _execute(instance, settings, job, tags, log_level)
        summary.add(result)
        summary.history = _history_lines(result)
        weeks = weekly_keys_covering(build_partitions(settings), _synced_days(result))
        if weeks:
            summary.add(
                _execute(instance, settings, WEEKLY_JOB, {RANGE_START: weeks[0], RANGE_END: weeks[1]}, log_level)
            )
    summary.seconds = time.monotonic() - started
    return summary


def validate_range(settings: Settings, start: date, end: date) -> None:
    today = date.today()
    if start > end:
        raise CliError(f"--start {start} is after --end {end}")
    if start < settings.start_date:
        raise CliError(f"--start {start} is before TOGGL_START_DATE ({settings.start_date}), the first partition")
    if end > today + timedelta(days=1):
        raise CliError(f"--end {end} is in the future (today is {today})")


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    if (args.start is None) != (args.end is None):
        raise CliError("give both --start and --end, or neither (one tick of the daily schedule)")
    start = parse_date(args.start, "--start") if args.start else None
    end = parse_date(args.end, "--end") if args.end else None
    if start is not None and end is not None:
        validate_range(settings, start, end)
    require_token()
    prepare_instance(settings)
    if start is None:
        print(f"Syncing Toggl as the daily schedule does ({settings.timezone}) ...", flush=True)
    else:
        print(f"Syncing Toggl {start} .. {end} ({settings.timezone}) ...", flush=True)
    summary = run_sync(settings, start, end, log_level="INFO" if not args.quiet else "WARNING")
    print("\n".join(summary.lines()))
    return 0


# ---------------------------------------------------------------------------------------------- weekly report


def _report_workspace(requested: str | None, present: list[int]) -> int:
    """``--workspace``, or the warehouse's only workspace; several need choosing."""
    if requested:
        if not requested.isdigit():
            raise CliError(f"--workspace must be a workspace id, got {requested!r}")
        return int(requested)
    if len(present) == 1:
        return present[0]
    if not present:
        raise CliError("the warehouse has no synced workspace yet: run toggl-assets sync first")
    raise CliError(
        f"the warehouse holds several workspaces ({', '.join(map(str, present))}): choose one with --workspace"
    )


def cmd_weekly_report(args: argparse.Namespace, settings: Settings) -> int:
    from toggl_assets.local_postgres import resolve_database_urls
    from toggl_assets.report_format import format_weekly_report_table
    from toggl_assets.warehouse.db import WarehouseError, connect
    from toggl_assets.warehouse.history import warehouse_workspace_ids
    from toggl_assets.warehouse.weekly import weekly_report

    since = parse_date(args.since, "--since")
    url = resolve_database_urls(settings.home).warehouse_url
    try:
        with connect(url) as conn:
            workspace = _report_workspace(args.workspace, warehouse_workspace_ids(conn, settings.raw_schema))
            report = weekly_report(
                conn,
                workspace,
                since,
                settings.timezone,
                grouping=args.grouping,
                calculate=args.calculate,
                raw_schema=settings.raw_schema,
            )
    except WarehouseError as error:
        raise CliError(f"TOGGL_WAREHOUSE_URL: {error}") from None
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(format_weekly_report_table(report, since, args.calculate))
    return 0


# ---------------------------------------------------------------------------------------------- dev


def _dagster_dev(host: str, port: int) -> int:
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-h",
        host,
        "-p",
        str(port),
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
    ]
    if not (PROJECT_ROOT / "workspace.yaml").exists():
        command[-2:] = ["-m", "toggl_assets.definitions"]
    print(f"Dagster UI: http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    process = subprocess.Popen(command, env=os.environ.copy())
    # A service manager stops us with SIGTERM: pass it on, or `dagster dev` and its servers outlive us.
    signal.signal(signal.SIGTERM, lambda *_: process.send_signal(signal.SIGTERM))
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return 130


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    prepare_instance(settings)
    release_runs_of_dead_processes(settings)
    if not os.environ.get("TOGGL_API_TOKEN", "").strip():
        print("note: TOGGL_API_TOKEN is not set; the UI works, but runs that call Toggl will fail", flush=True)
    return _dagster_dev(args.host, args.port)


# ---------------------------------------------------------------------------------------------- demo


DEMO_WEEKS = 12


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from toggl_assets.simulator import Simulator, SimulatorConfig, WorkspaceSpec

    end = date.today() - timedelta(days=1)
    start = end - timedelta(weeks=DEMO_WEEKS) + timedelta(days=1)
    spec = WorkspaceSpec(
        seed=args.seed,
        users=args.users,
        clients=4,
        projects=10,
        tags=8,
        tasks=20,
        entries=args.entries,
        start=start,
        end=end,
        plan="premium",
        edge_cases=True,
    )
    # The demo keeps its own warehouse and Dagster storage, apart from your real data.
    home = settings.home / "demo"
    for name in ("TOGGL_WAREHOUSE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME"):
        os.environ.pop(name, None)
    print(
        f"Generating two demo workspaces: {args.users} users, {args.entries} entries, {start} .. {end}",
        flush=True,
    )
    # A second workspace, in another organization: the demo syncs every workspace of the token, as real use does.
    second = replace(spec, seed=args.seed + 1, users=max(2, args.users // 2), entries=max(100, args.entries // 3),
                     organization=2, name="Side projects")  # fmt: skip
    with Simulator(SimulatorConfig(spec=spec, more_workspaces=(second,))) as simulator:
        os.environ.pop("TOGGL_WORKSPACE_ID", None)
        os.environ.update(
            TOGGL_API_URL=simulator.url,
            TOGGL_API_TOKEN=simulator.api_token,
            TOGGL_START_DATE=start.isoformat(),
            TOGGL_ASSETS_HOME=str(home),
            TOGGL_REQUESTS_PER_SECOND="0",  # the local simulator has no rate limit
        )
        demo_settings = Settings.from_env()
        prepare_instance(demo_settings)
        summary = run_sync(demo_settings, start, end, log_level="WARNING" if args.quiet else "INFO")
        print("\n".join(summary.lines()))
        newest_week = end - timedelta(days=(end.weekday() - (demo_settings.week_start - 1)) % 7)
        print(f"\nWeekly report for the week of {newest_week}:\n")
        args_report = argparse.Namespace(
            since=newest_week.isoformat(),
            grouping="projects",
            calculate="time",
            json=False,
            workspace=str(simulator.workspace_id),
        )
        cmd_weekly_report(args_report, demo_settings)
        if args.ui:
            return _dagster_dev(args.host, args.port)
    print("\nOpen the Dagster UI on the same data (with the simulator kept running):  ./run demo --ui")
    return 0


# ---------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toggl-assets",
        description="Keep a PostgreSQL copy of a Toggl Track workspace with Dagster, and report from it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="Dagster UI and daemon on the embedded or configured PostgreSQL")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.set_defaults(handler=cmd_dev)

    sync = commands.add_parser(
        "sync",
        help="sync headless: a date range, or without dates what one tick of the daily schedule runs",
    )
    sync.add_argument("--start", help="first day, YYYY-MM-DD (in TOGGL_TIMEZONE); with --end: re-sync that range")
    sync.add_argument("--end", help="last day, YYYY-MM-DD, inclusive")
    sync.add_argument("--quiet", action="store_true", help="print only warnings and the summary")
    sync.set_defaults(handler=cmd_sync)

    demo = commands.add_parser("demo", help="the whole pipeline on the bundled Toggl simulator")
    demo.add_argument("--users", type=int, default=5)
    demo.add_argument("--entries", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--quiet", action="store_true")
    demo.add_argument("--ui", action="store_true", help="then serve the Dagster UI on the demo data")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=3000)
    demo.set_defaults(handler=cmd_demo)

    commands.add_parser(
        "simulator", help="serve the Toggl simulator (see: toggl-assets simulator --help)", add_help=False
    )

    report = commands.add_parser(
        "weekly-report", help="Toggl's weekly report (Reports API v2 format) from the warehouse"
    )
    report.add_argument("--since", required=True, help="first of the 7 days, YYYY-MM-DD")
    report.add_argument("--workspace", help="workspace id (default: the warehouse's only workspace)")
    report.add_argument("--grouping", choices=("projects", "users"), default="projects")
    report.add_argument("--calculate", choices=("time", "earnings"), default="time")
    report.add_argument("--json", action="store_true", help="print the JSON of Toggl's weekly report")
    report.set_defaults(handler=cmd_weekly_report)
    return parser


def _fail(error: Exception, code: int) -> int:
    # One line, even when libpq or Toggl answered with several.
    print("error: " + " ".join(str(error).split()), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "simulator":
        from toggl_assets.simulator.cli import main as simulator_main

        return simulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    from toggl_assets.toggl import TogglError
    from toggl_assets.warehouse.db import WarehouseError

    try:
        load_dotenv_file()
        settings = Settings.from_env()
        return args.handler(args, settings)
    except CliError as error:
        return _fail(error, error.code)
    except (ConfigError, WarehouseError) as error:
        return _fail(error, 2)
    except TogglError as error:
        return _fail(error, 1)
    except KeyboardInterrupt:
        return 130


def console_main() -> NoReturn:
    """The ``toggl-assets`` program: :func:`main`, then exit without a last full garbage collection.

    At exit CPython collects every object (Dagster's, pandas') before the process ends and the system frees
    them anyway: 0.5-1 s of every command, measured. Frozen objects are skipped by it (files and connections
    are closed by then: each command closes what it opens).
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console_main()
