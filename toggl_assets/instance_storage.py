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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log import SqlEventLogStorageTable
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster_postgres import DagsterPostgresStorage, PostgresEventLogStorage

from toggl_assets.event_batching import batch_event_writes

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
        return with_psycopg2_driver(configured)
    home = Path(os.environ.get("TOGGL_ASSETS_HOME", "").strip() or DEFAULT_HOME).expanduser().resolve()
    return resolve_dagster_url(home)


# Set before Dagster emits any event: every process that creates runs or runs steps loads this module.
batch_event_writes()


def with_psycopg2_driver(url: str) -> str:
    """``postgresql://…`` as ``postgresql+psycopg2://…``. dagster-postgres is written for psycopg2, but SQLAlchemy
    2.1 picks psycopg 3 for a bare scheme, and on psycopg 3 the pooled connections dagster-postgres sets up
    (``optimize_for_webserver``) are closed by its own ``with conn:`` right after they open."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


_MATERIALIZED = DagsterEventType.ASSET_MATERIALIZATION
_PLANNED = DagsterEventType.ASSET_MATERIALIZATION_PLANNED
_CHECK_PLANNED = DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
# Batches this storage writes itself; anything else goes to dagster-postgres as it is.
_OURS = {_MATERIALIZED, _PLANNED, _CHECK_PLANNED}


class BatchedEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres' event log, writing a range run's per-partition events in a few statements instead of
    several per event.

    A range run plans one materialization per partition when it is created (761 for two years) and each of its
    checks once, with a row per partition of the range; Dagster hands them over as one batch. At the end of
    the step it hands over the materializations, one per partition, in batches of ``DAGSTER_EVENT_BATCH_SIZE``.
    dagster-postgres falls back to one insert, one commit and one asset-row update per planned event (most of a
    two-year backfill's overhead, issue 15), and builds every batch's insert as one multi-row ``VALUES``
    statement that SQLAlchemy compiles anew, parameter by parameter, each time. This writes a batch's event rows
    with one cached statement (executemany, ids returned in the events' order), then does for the
    materializations and planned materializations exactly what dagster-postgres does for materializations (the
    same tags; the asset row updated from each asset's last event, so partition status, failed ones included,
    is unchanged) and for the planned checks what its per-event path does (one execution row per partition),
    each event serialized once instead of once per row.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_seen: set[tuple[str, str]] = set()

    # dagster-postgres asks the catalog whether a table or an asset-key column exists before each batch's tags,
    # each asset-row update and each asset-record read (SQLAlchemy reflection, a query each, ~0.3 s of a two-year
    # backfill). Tables and columns Dagster created do not go away under a running process: a "yes" is
    # remembered, a "no" is asked again (a `dagster instance migrate` elsewhere may add it).

    def has_table(self, table_name: str) -> bool:
        parent = super().has_table
        return self._remembered(("table", table_name), lambda: parent(table_name))

    def _has_asset_key_col_on_connection(self, conn: Any, column_name: str) -> bool:
        parent = super()._has_asset_key_col_on_connection
        return self._remembered(("asset_keys column", column_name), lambda: parent(conn, column_name))

    def _remembered(self, fact: tuple[str, str], ask: Callable[[], bool]) -> bool:
        if fact not in self._schema_seen and ask():
            self._schema_seen.add(fact)
        return fact in self._schema_seen

    def store_event_batch(self, events: Any) -> None:
        kinds = [event.get_dagster_event().event_type for event in events]
        ours = bool(kinds) and set(kinds) <= _OURS
        if not ours or (_CHECK_PLANNED in kinds and not self.supports_asset_checks):
            super().store_event_batch(events)
            return
        insert = SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id, sort_by_parameter_order=True)
        with self._connect() as conn:
            result = conn.execute(insert, [self._event_to_row(event) for event in events])
            event_ids = [int(row[0]) for row in result.fetchall()]
        assets: list[tuple[Any, int]] = []
        checks: list[tuple[Any, int]] = []
        for event, event_id, kind in zip(events, event_ids, kinds, strict=True):
            (checks if kind == _CHECK_PLANNED else assets).append((event, event_id))
        if assets:
            last_of_asset = {event.get_dagster_event().asset_key: (event, eid) for event, eid in assets}
            with self.index_transaction() as conn:
                self._store_asset_event_tags(conn, [event for event, _ in assets], [eid for _, eid in assets])
                for event, event_id in last_of_asset.values():
                    self._store_asset_event(conn, event, event_id)
        if checks:
            self._store_planned_checks(checks)

    def _store_planned_checks(self, checks: list[tuple[Any, int]]) -> None:
        """``_store_asset_check_evaluation_planned`` of each (event, storage id), in one statement."""
        rows = []
        for event, event_id in checks:
            plan = event.get_dagster_event().event_specific_data
            keys = plan.partitions_subset.get_partition_keys() if plan.partitions_subset else [None]
            common = {
                "asset_key": plan.asset_key.to_string(),
                "check_name": plan.check_name,
                "run_id": event.run_id,
                "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
                "evaluation_event": serialize_value(event),
                "evaluation_event_timestamp": self._event_insert_timestamp(event),
                "evaluation_event_storage_id": event_id,
            }
            rows.extend({**common, "partition": key} for key in keys)
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), rows)


class TogglAssetsStorage(DagsterPostgresStorage):
    """Dagster's run, event and schedule storage on ``DAGSTER_PG_URL`` or the embedded PostgreSQL server."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, **kwargs: Any) -> None:
        super().__init__(postgres_url, should_autocreate_tables, **kwargs)
        self._event_log_storage = BatchedEventLogStorage(postgres_url, should_autocreate_tables)

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
