"""Dagster's storage as `dagster.yaml` configures it: planned events of a range run written in one batch must
leave exactly what dagster-postgres' own per-event writes leave (partition status, failed ones included, and
the checks' executions)."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.storage.partition_status_cache import AssetPartitionStatus
from dagster._serdes import deserialize_value
from dagster_postgres import PostgresEventLogStorage

from toggl_assets.instance_storage import BatchedEventLogStorage, TogglAssetsStorage, with_psycopg2_driver
from toggl_assets_tests.reliability_support import new_database

ROOT = Path(__file__).resolve().parent.parent
DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-03-01")
RANGE = {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-02-09"}


def _range_job(fail: bool) -> dg.JobDefinition:
    @dg.asset(
        partitions_def=DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[dg.AssetCheckSpec("complete", asset="days"), dg.AssetCheckSpec("sane", asset="days")],
    )
    def days(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        if fail:
            raise RuntimeError("the range failed")
        for key in context.partition_keys:
            context.add_asset_metadata({"day": key}, partition_key=key)
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(check_name="complete", passed=True),
                dg.AssetCheckResult(check_name="sane", passed=False, metadata={"why": "a test"}),
            ]
        )

    return dg.Definitions(assets=[days]).resolve_implicit_global_asset_job_def()


def _checks(instance: dg.DagsterInstance, name: str) -> list[tuple[str, str | None, bool | None]]:
    """Every execution of the check: (status, partition, passed), the planned rows of a range run included."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("days"), name), limit=1000
    )
    return sorted(((r.status.value, r.partition, getattr(r.evaluation, "passed", None)) for r in records), key=str)


def _indexed_tags(instance: dg.DagsterInstance) -> list[tuple[str, str, bool]]:
    """Every indexed tag row of a materialization: (its event's partition, key, whether the row belongs to that
    event: same value and timestamp). A row pointing at another event (ids handed back out of order) is False."""
    with instance.event_log_storage.index_connection() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT t.key, t.value, t.event_timestamp = e.timestamp, e.event"
                " FROM asset_event_tags t JOIN event_logs e ON e.id = t.event_id"
            )
        ).fetchall()
    tags = []
    for key, value, same_time, body in rows:
        event = deserialize_value(body, dg.EventLogEntry).get_dagster_event()
        own = event.step_materialization_data.materialization.tags.get(key) == value and same_time
        tags.append((event.partition, key, own))
    return sorted(tags)


def _last_materialization(asset_record: Sequence[Any], materializations: Sequence[Any]) -> tuple[str, bool] | None:
    """The partition the asset row's last materialization is of, and whether its storage id is that event's."""
    last = asset_record[0].asset_entry.last_materialization_record if asset_record else None
    if last is None:
        return None
    return last.partition_key, last.storage_id == materializations[0].storage_id


def _outcome(instance: dg.DagsterInstance) -> dict[str, object]:
    key = dg.AssetKey("days")
    materializations = instance.fetch_materializations(key, limit=1000).records
    asset_record = instance.get_asset_records([key])
    planned = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, asset_key=key), limit=1000
    )
    statuses = instance.get_status_by_partition(key, DAYS.get_partition_keys(), DAYS) or {}
    return {
        "planned": sorted(r.event_log_entry.dagster_event.partition for r in planned),
        "materialized": sorted(instance.get_materialized_partitions(key)),
        "failed": sorted(k for k, status in statuses.items() if status == AssetPartitionStatus.FAILED),
        "status": sorted({str(status) for status in statuses.values()}),
        # The asset row exists from the planned events on: the UI lists the asset before any materialization.
        "asset_rows": len(asset_record),
        # Stored in the order of the partitions, each with its own metadata; the asset row points at the last.
        "materialized_in_order": [
            (r.partition_key, r.asset_materialization.metadata["day"].value) for r in materializations
        ][::-1],
        "last_materialization": _last_materialization(asset_record, materializations),
        "indexed_tags": _indexed_tags(instance),
        "check_plans": len(
            instance.event_log_storage.get_event_records(
                dg.EventRecordsFilter(dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED), limit=1000
            )
        ),
        "checks": {name: _checks(instance, name) for name in ("complete", "sane")},
    }


@pytest.fixture
def dagster_home(tmp_path: Path, pg_socket_dir: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Dagster home with the project's dagster.yaml on a fresh database of the session server."""
    with new_database(pg_socket_dir) as url:
        shutil.copyfile(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
        monkeypatch.setenv("DAGSTER_PG_URL", url)
        yield tmp_path


def test_planned_events_in_one_batch_leave_what_per_event_writes_leave(dagster_home: Path, pg_socket_dir: str):
    outcomes = []
    with dg.DagsterInstance.from_config(str(dagster_home)) as ours:
        assert isinstance(ours.get_ref().storage, TogglAssetsStorage)  # dagster.yaml names it
        assert isinstance(ours.event_log_storage, BatchedEventLogStorage)
        for fail in (True, False):
            _range_job(fail).execute_in_process(instance=ours, tags=RANGE, raise_on_error=False)
            outcomes.append(_outcome(ours))
    with new_database(pg_socket_dir) as url:
        stock_home = dagster_home / "stock"
        stock_home.mkdir()
        (stock_home / "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: {with_psycopg2_driver(url)}\n"
        )
        stock = dg.DagsterInstance.from_config(str(stock_home))
        assert type(stock.event_log_storage) is PostgresEventLogStorage  # dagster-postgres as shipped
        expected = []
        for fail in (True, False):
            _range_job(fail).execute_in_process(instance=stock, tags=RANGE, raise_on_error=False)
            expected.append(_outcome(stock))
        stock.dispose()
    days = [key for key in DAYS.get_partition_keys() if key <= "2024-02-09"]
    assert expected[0]["failed"] == days and expected[1]["materialized"] == days  # the reference behaves as documented
    assert expected[1]["last_materialization"] == (days[-1], True) and {t[1] for t in expected[1]["indexed_tags"]}
    assert [partition for partition, _ in expected[1]["materialized_in_order"]] == days
    assert expected[1]["check_plans"] == 4 and len(expected[1]["checks"]["sane"]) > len(days)  # a row per partition
    assert outcomes == expected


def test_the_schema_is_asked_until_a_table_or_column_is_there_then_remembered(dagster_home: Path):
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        storage = instance.event_log_storage
        assert storage.has_table("event_logs") and storage.has_asset_key_index_cols()
        with storage.index_connection() as conn:
            assert not storage.has_table("scratch")
            assert not storage.has_asset_key_col("scratch_column")
            conn.execute(sa.text("CREATE TABLE scratch (id int)"))
            conn.execute(sa.text("ALTER TABLE asset_keys ADD COLUMN scratch_column int"))
            conn.commit()
        assert storage.has_table("scratch") and storage.has_asset_key_col("scratch_column")  # a "no" is asked again
        with storage.index_connection() as conn:
            conn.execute(sa.text("DROP TABLE scratch"))
            conn.execute(sa.text("ALTER TABLE asset_keys DROP COLUMN scratch_column"))
            conn.commit()
        assert storage.has_table("scratch") and storage.has_asset_key_col("scratch_column")  # a "yes" is kept


@pytest.mark.parametrize(("configured", "expected"), [(None, "1000"), ("50", "50")])
def test_loading_the_storage_turns_batched_event_writes_on_unless_configured(configured: str | None, expected: str):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_EVENT_BATCH_SIZE"}
    if configured:
        env["DAGSTER_EVENT_BATCH_SIZE"] = configured
    code = "import os, toggl_assets.instance_storage; print(os.environ['DAGSTER_EVENT_BATCH_SIZE'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == expected
