"""Guarantee 3: SIGKILL at any moment loses nothing that was committed and leaves no half-written window.

* `toggl-assets sync` killed while it fetches pages, and while its merge holds uncommitted writes: every
  window keeps its old state; the next `toggl-assets sync` runs (the dead run's `toggl_api` pool slot does
  not block it) and heals.
* The embedded PostgreSQL server killed with SIGKILL restarts with crash recovery; a stale
  ``postmaster.pid`` (dead or reused pid) and a ``.handle_pids.json`` naming dead processes (or garbled)
  do not block the next start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import psycopg
import pytest

from toggl_assets.simulator import Simulator, SimulatorConfig
from toggl_assets_tests.factories import workspace_spec
from toggl_assets_tests.reliability_support import (
    assert_checks_pass,
    cli_env,
    new_database,
    run_cli,
    run_sync,
    start_cli,
    table_contents,
)

START, END = date(2024, 1, 1), date(2024, 3, 31)
REPORT = "POST /reports/api/v3/workspace/{wid}/search/time_entries"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    spec = workspace_spec(31, 1500, START, END, users=4, clients=3, projects=8, tags=6, tasks=10)
    with Simulator(SimulatorConfig(spec=spec)) as simulator:
        yield simulator


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _kill(process: subprocess.Popen[str]) -> str:
    os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=30)  # reaps it: a dead pid, not a zombie
    assert process.returncode == -signal.SIGKILL
    return output or ""


def _run_statuses(dagster_url: str) -> dict[str, str]:
    with psycopg.connect(dagster_url) as conn:
        return dict(conn.execute("SELECT run_id, status FROM runs").fetchall())


def _held_slots(dagster_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(dagster_url) as conn:
        return conn.execute("SELECT run_id, step_key FROM concurrency_slots WHERE run_id IS NOT NULL").fetchall()


def _edit_toggl(sim: Simulator, tag: str) -> list[int]:
    """Edits, a deletion and an addition in Toggl, so the next sync has real work in every kind."""
    ids = sorted(e["id"] for e in sim.truth.entries_between(START, END) if e["stop"] is not None)
    changed = ids[:5] + ids[-5:]
    for entry_id in changed:
        sim.update_entry(entry_id, description=f"{tag} {entry_id}")
    sim.delete_entry(ids[len(ids) // 2])
    sim.create_entry(
        user_id=sim.truth.users[0]["uid"],
        start="2024-02-10T09:00:00Z",
        duration_seconds=900,
        description=f"{tag} added",
    )
    return changed


@pytest.fixture
def databases(pg_socket_dir: str) -> Iterator[tuple[str, str, str]]:
    """(warehouse, dagster storage, reference warehouse) on the session server."""
    with (
        new_database(pg_socket_dir) as warehouse,
        new_database(pg_socket_dir) as dagster,
        new_database(pg_socket_dir) as reference,
    ):
        yield warehouse, dagster, reference


def _sync_args() -> list[str]:
    return ["sync", "--start", START.isoformat(), "--end", END.isoformat()]


def _assert_heals(
    sim: Simulator, env: dict[str, str], tmp_path: Path, warehouse: str, dagster: str, reference: str, killed_run: str
) -> None:
    result = run_cli(*_sync_args(), "--quiet", env=env, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert run_sync(sim, reference, START, END, start_date=START).success
    assert table_contents(warehouse) == table_contents(reference)
    assert_checks_pass(warehouse)
    statuses = _run_statuses(dagster)
    assert statuses[killed_run] == "FAILURE"  # no longer pretends to be running
    assert _held_slots(dagster) == []


@pytest.mark.slow
def test_sigkill_while_fetching_keeps_old_state_and_next_sync_heals(sim, databases, tmp_path):
    warehouse, dagster, reference = databases
    env = cli_env(tmp_path, warehouse, dagster, sim, TOGGL_PAGE_SIZE="50", TOGGL_START_DATE=START.isoformat())
    first = run_cli(*_sync_args(), "--quiet", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = table_contents(warehouse)
    _edit_toggl(sim, "edited before the crash")

    sim.reset_stats()
    sim.set_faults(rate=1.0, kinds=("slow",))  # every answer takes 2 s: plenty of time to kill it mid-fetch
    try:
        process = start_cli(*_sync_args(), env=env, cwd=tmp_path)
        _wait_for(lambda: sim.stats()["by_endpoint"].get(REPORT, 0) >= 2, 120, "report pages being fetched")
        _kill(process)
    finally:
        sim.set_faults(rate=0.0)
    assert table_contents(warehouse) == before
    assert_checks_pass(warehouse)
    [killed_run] = [run for run, status in _run_statuses(dagster).items() if status == "STARTED"]
    assert any(run == killed_run for run, _ in _held_slots(dagster))  # the dead run holds the toggl_api slot
    _assert_heals(sim, env, tmp_path, warehouse, dagster, reference, killed_run)


@pytest.mark.slow
def test_sigkill_during_the_merge_rolls_back_the_whole_window(sim, databases, tmp_path):
    warehouse, dagster, reference = databases
    env = cli_env(tmp_path, warehouse, dagster, sim, TOGGL_START_DATE=START.isoformat())
    first = run_cli(*_sync_args(), "--quiet", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = table_contents(warehouse)
    changed = _edit_toggl(sim, "edited before the merge crash")
    blocker_id = max(changed)  # the merge writes in id order: every other change is written before this one

    with psycopg.connect(warehouse) as blocker, psycopg.connect(warehouse, autocommit=True) as observer:
        blocker.execute("SELECT 1 FROM raw.toggl_entries WHERE id = %s FOR UPDATE", (blocker_id,))
        process = start_cli(*_sync_args(), env=env, cwd=tmp_path)

        def backends(waiting: bool) -> int:
            row = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND query ~ %s" + (" AND wait_event_type = 'Lock'" if waiting else ""),
                (r'(INSERT INTO|UPDATE) "raw"\.toggl_entries',),  # the merge writes changed rows with an UPDATE
            ).fetchone()
            return int(row[0]) if row else 0

        def merge_waits_on_the_row() -> bool:
            if process.poll() is not None:
                raise AssertionError("the sync ended before its merge blocked: " + process.communicate()[0][-1500:])
            return backends(waiting=True) > 0

        try:
            _wait_for(merge_waits_on_the_row, 120, "the merge to block on the locked row")
            # The merge has written the earlier changes (uncommitted) and waits for the last one: kill it now.
            _kill(process)
        finally:
            if process.poll() is None:
                _kill(process)
            blocker.rollback()
        # The orphaned backend gets the row, finishes its statement, finds its client gone and rolls back.
        _wait_for(lambda: backends(waiting=False) == 0, 30, "the killed run's backend to go away")
    assert table_contents(warehouse) == before
    assert_checks_pass(warehouse)
    [killed_run] = [run for run, status in _run_statuses(dagster).items() if status == "STARTED"]
    _assert_heals(sim, env, tmp_path, warehouse, dagster, reference, killed_run)


# ------------------------------------------------------------------------------------------ embedded server

HOLDER = """
import sys
from pathlib import Path
from toggl_assets.local_postgres import start_embedded_server
print(start_embedded_server(Path(sys.argv[1])), flush=True)
sys.stdin.read()  # hold the server until the test closes stdin (or kills this process)
"""


def _hold_server(home: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline().strip()
    if not line:
        process.kill()
        raise AssertionError("embedded server did not start: " + process.communicate()[1][-3000:])
    return process, line


def _release(process: subprocess.Popen[str]) -> None:
    process.stdin.close()
    process.wait(timeout=60)


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _url(socket_dir: str) -> str:
    return f"postgresql://postgres@/toggl?host={socket_dir}"


def test_embedded_server_survives_sigkill_and_stale_pid_files(tmp_path):
    home = tmp_path / "home"
    pgdata = home / "pgdata"
    holder, socket_dir = _hold_server(home)
    try:
        with psycopg.connect(_url(socket_dir), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
            conn.execute("INSERT INTO kept VALUES (1), (2)")
        uncommitted = psycopg.connect(_url(socket_dir))
        uncommitted.execute("INSERT INTO kept VALUES (3)")
        postmaster = _postmaster_pid(pgdata)
        os.kill(postmaster, signal.SIGKILL)  # the server dies mid-transaction ...
        holder.kill()  # ... and so does the process that held it (its handle stays in .handle_pids.json)
        holder.wait(timeout=30)
        _wait_for(lambda: not _alive(postmaster), 30, "the postmaster to die")
        uncommitted.close()
        assert (pgdata / "postmaster.pid").exists()  # stale: names a dead server
        handles = json.loads((pgdata / ".handle_pids.json").read_text())
        assert holder.pid in handles

        # Restart: crash recovery keeps committed rows only; the dead handle is forgotten.
        holder, socket_dir = _hold_server(home)
        with psycopg.connect(_url(socket_dir)) as conn:
            assert conn.execute("SELECT id FROM kept ORDER BY id").fetchall() == [(1,), (2,)]
        _release(holder)  # the last live handle leaves: the server stops
        _wait_for(lambda: not (pgdata / "postmaster.pid").exists(), 30, "the server to stop")

        # A garbled handle list (a process killed while writing it) does not block the start either.
        (pgdata / ".handle_pids.json").write_text("[12")
        holder, socket_dir = _hold_server(home)
        stale = (pgdata / "postmaster.pid").read_text()
        postmaster = _postmaster_pid(pgdata)
        os.kill(postmaster, signal.SIGKILL)
        holder.kill()
        holder.wait(timeout=30)
        _wait_for(lambda: not _alive(postmaster), 30, "the postmaster to die")

        # The dead server's pid now belongs to an unrelated live process (pid reuse after a reboot).
        unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:
            lines = stale.splitlines()
            (pgdata / "postmaster.pid").write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")
            holder, socket_dir = _hold_server(home)
            with psycopg.connect(_url(socket_dir)) as conn:
                assert conn.execute("SELECT count(*) FROM kept").fetchone() == (2,)
            _release(holder)
            assert unrelated.poll() is None  # the unrelated process was left alone
        finally:
            unrelated.kill()
            unrelated.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        _stop_leftover_server(pgdata)


def _stop_leftover_server(pgdata: Path) -> None:
    """After a failure: stop the server of ``pgdata`` if it still runs (never any other process)."""
    import psutil

    try:
        process = psutil.Process(_postmaster_pid(pgdata))
        if str(pgdata) in " ".join(process.cmdline()):
            process.terminate()
    except (OSError, ValueError, IndexError, psutil.Error):
        pass


# ------------------------------------------------------------------------------------------ dead runs' slots


def test_release_dead_runs_frees_the_pool_slot_of_a_dead_process_only(pg_socket_dir, tmp_path):
    """The housekeeping `toggl-assets sync|dev|demo` do first (the slow tests above prove it end to end)."""
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
    from dagster._core.test_utils import instance_for_test
    from dagster._core.utils import make_new_run_id

    from toggl_assets.run_recovery import RunRegistry, release_dead_runs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is dead (and reaped)
    registry = RunRegistry(tmp_path / "cli_runs")
    with (
        new_database(pg_socket_dir) as url,
        instance_for_test(
            overrides={
                "storage": {"postgres": {"postgres_url": url.replace("postgresql://", "postgresql+psycopg2://", 1)}},
                "concurrency": {"pools": {"default_limit": 1}},
            }
        ) as instance,
        ExitStack() as executing,
    ):
        storage = instance.event_log_storage
        storage.set_concurrency_slots("toggl_api", 1)
        runs = {}
        for name in ("live", "dead", "reused"):
            run = instance.add_run(
                DagsterRun(job_name="toggl_sync", run_id=make_new_run_id(), status=DagsterRunStatus.STARTED)
            )
            runs[name] = run.run_id
        executing.enter_context(registry.executing(runs["live"]))
        executing.enter_context(registry.executing(runs["dead"], pid=dead.pid))
        # Our pid, but recorded with another process's start time: the pid was reused.
        record = {"host": socket.gethostname(), "pid": os.getpid(), "started": 12345.0}
        (registry.directory / f"{runs['reused']}.json").write_text(json.dumps(record))
        assert storage.claim_concurrency_slot("toggl_api", runs["dead"], "toggl_entries").is_claimed
        assert set(release_dead_runs(instance, registry)) == {runs["dead"], runs["reused"]}
        for name in ("dead", "reused"):
            assert instance.get_run_by_id(runs[name]).status == DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(runs["live"]).status == DagsterRunStatus.STARTED  # a live sync is left alone
        assert storage.get_concurrency_run_ids() == set()
        # The slot is free again: the next run's step gets it at once.
        assert storage.claim_concurrency_slot("toggl_api", make_new_run_id(), "toggl_entries").is_claimed
