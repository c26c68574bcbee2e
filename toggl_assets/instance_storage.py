"""Dagster instance storage that needs no configuration: ``DAGSTER_PG_URL`` if set, else the embedded server.

``dagster.yaml`` names :class:`TogglAssetsStorage`, so plain ``dagster dev``, ``dagster definitions validate``,
``dg dev`` and ``dg launch`` in the project root use the same PostgreSQL database as ``toggl-assets``: runs
started either way appear in both. Dagster builds the storage in every process that loads the instance
(webserver, daemon, code servers, run workers), so this is idempotent and cheap: the embedded server is
started once and reused by every later process (see :mod:`toggl_assets.local_postgres`).

The URL is read from the environment when the storage is built, never written into the instance config:
child processes receive the config (``--instance-ref``), so a password in ``DAGSTER_PG_URL`` stays out of
their command lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

DEFAULT_HOME = ".toggl_assets"
# Pooled connections are replaced after an hour; threads (daemon, webserver) may open a few more than the one kept.
POOL_RECYCLE_SECONDS = 3600
POOL_MAX_OVERFLOW = 10


def dagster_storage_url() -> str:
    """``DAGSTER_PG_URL`` (from the environment or ``.env``), else the embedded server's ``dagster`` database."""
    from toggl_assets.local_postgres import resolve_dagster_url
    from toggl_assets.settings import load_dotenv_file

    load_dotenv_file()
    configured = os.environ.get("DAGSTER_PG_URL", "").strip()
    if configured:
        return configured
    home = Path(os.environ.get("TOGGL_ASSETS_HOME", "").strip() or DEFAULT_HOME).expanduser().resolve()
    return resolve_dagster_url(home)


class TogglAssetsStorage(DagsterPostgresStorage):
    """Dagster's run, event and schedule storage on ``DAGSTER_PG_URL`` or the embedded PostgreSQL server."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "should_autocreate_tables": dg.Field(bool, is_required=False, default_value=True),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> TogglAssetsStorage:
        storage = cls(
            postgres_url=dagster_storage_url(),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )
        storage.keep_connections()
        return storage

    def keep_connections(self) -> None:
        """Reuse connections instead of opening one per statement (dagster-postgres' default outside the
        webserver). A range run writes one planned event per partition at run creation, each through its own
        new connection otherwise: that was most of a two-year backfill's overhead (``benchmarks``, issue 15).
        One idle connection per storage and process at most; the webserver applies its own settings on top."""
        for component in (self.run_storage, self.event_log_storage, self.schedule_storage):
            component.optimize_for_webserver(
                statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=POOL_MAX_OVERFLOW
            )
