"""Runs of `toggl-assets` processes that died: mark them failed and free their ``toggl_api`` pool slots.

``toggl-assets sync`` executes its runs in process. While a run executes, :class:`RunRegistry` keeps a small
file naming the run, the host, the pid and the process start time (runs carry no such internal tags). If the
process is killed (SIGKILL, OOM, reboot), its run stays STARTED in Dagster's storage with its pool slot
claimed, and the next run's Toggl steps would wait for the slot forever. The next ``toggl-assets`` command
calls :func:`release_dead_runs` before it starts anything.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _process_started(pid: int) -> float | None:
    """Start time of process ``pid`` (epoch seconds), or None if there is no such process."""
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:  # no such process, no permission
        return None


def _process_is_dead(record: dict[str, Any]) -> bool:
    """True when the recorded process ran on this host and no longer exists (pid reuse aware)."""
    if record.get("host") != socket.gethostname() or not isinstance(record.get("pid"), int):
        return False
    started = _process_started(record["pid"])
    if started is None:
        return True
    recorded = record.get("started")
    return isinstance(recorded, int | float) and abs(float(recorded) - started) > 1.0  # the pid was reused


class RunRegistry:
    """Files ``<directory>/<run id>.json`` for the runs this host's ``toggl-assets`` processes execute."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, run_id: str) -> Path:
        return self.directory / f"{run_id}.json"

    @contextmanager
    def executing(self, run_id: str, pid: int | None = None) -> Iterator[None]:
        """Record ``pid`` (this process by default) as executing ``run_id`` until the block ends."""
        pid = os.getpid() if pid is None else pid
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {"host": socket.gethostname(), "pid": pid, "started": _process_started(pid)}
        self._path(run_id).write_text(json.dumps(record))
        try:
            yield
        finally:
            self._path(run_id).unlink(missing_ok=True)

    def dead_runs(self) -> dict[str, int]:
        """Run id -> pid of the recorded runs whose process is gone."""
        dead: dict[str, int] = {}
        for path in sorted(self.directory.glob("*.json")) if self.directory.is_dir() else []:
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                record = {}
            if isinstance(record, dict) and _process_is_dead(record):
                dead[path.stem] = record["pid"]
        return dead

    def forget(self, run_id: str) -> None:
        self._path(run_id).unlink(missing_ok=True)


def release_dead_runs(instance: Any, registry: RunRegistry) -> list[str]:
    """Fail the runs whose `toggl-assets` process died (SIGKILL, OOM, reboot) and free their pool slots.

    Dagster's run monitoring cannot see in-process runs, and frees the slots of ended runs only when the
    daemon runs with ``free_slots_after_run_end_seconds``. Runs of live processes (another sync in
    progress) are left alone. Returns the runs marked failed.
    """
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    failed: list[str] = []
    dead = registry.dead_runs()
    if dead:
        for record in instance.get_run_records(filters=RunsFilter(run_ids=list(dead), statuses=unfinished)):
            run = record.dagster_run
            instance.report_run_failed(
                run,
                f"The toggl-assets process that executed this run (pid {dead[run.run_id]}) is gone (killed or "
                "crashed); marked failed by a later toggl-assets command so the toggl_api pool slot is released.",
            )
            failed.append(run.run_id)
        for run_id in dead:
            registry.forget(run_id)
    _free_slots_of_ended_runs(instance, unfinished)
    return failed


def _free_slots_of_ended_runs(instance: Any, unfinished: list[Any]) -> None:
    from dagster import RunsFilter

    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    holders = set(storage.get_concurrency_run_ids())
    if holders:
        alive = {
            r.dagster_run.run_id
            for r in instance.get_run_records(filters=RunsFilter(run_ids=list(holders), statuses=unfinished))
        }
        for run_id in holders - alive:  # ended (or deleted) runs never need their slots back
            storage.free_concurrency_slots_for_run(run_id)
