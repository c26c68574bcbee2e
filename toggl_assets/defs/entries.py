"""Time entries: daily partitions in ``TOGGL_TIMEZONE``, loaded by idempotent window replace.

A run (one day or a backfill range, always one run thanks to ``BackfillPolicy.single_run``) fetches every
user's entries of its window from the Reports API page by page into a staging table, then replaces the
window in one short transaction: new entries inserted, changed ones updated, vanished ones deleted, other
windows untouched. A failed run leaves the warehouse as it was; running it again heals.
"""

import copy
import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from toggl_assets.defs.metadata import api_usage_metadata, load_metadata, preview_metadata
from toggl_assets.defs.metadata_assets import GROUP, KINDS, METADATA_ASSET_NAMES, TOGGL_POOL
from toggl_assets.defs.partitions import TogglPartitions, days_of_window
from toggl_assets.defs.resources import TogglResource, WarehouseResource
from toggl_assets.toggl import TogglError
from toggl_assets.warehouse import checks
from toggl_assets.warehouse.load import EntryStaging

ENTRIES = "toggl_entries"
CHECK_WINDOW = "entries_within_window"
CHECK_ROW_COUNT = "row_count_matches_toggl"
# Reports API date filters are date-only and their zone is undocumented (UTC or each user's profile zone),
# so the request reaches a day further on each side; rows outside the window are then ignored.
FETCH_MARGIN = timedelta(days=1)


def build_entries_asset(partitions: TogglPartitions) -> dg.AssetsDefinition:
    @dg.asset(
        name=ENTRIES,
        group_name=GROUP,
        kinds=KINDS,
        partitions_def=partitions.daily,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=METADATA_ASSET_NAMES,
        pool=TOGGL_POOL,
        metadata={"table": "raw.toggl_entries"},
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_WINDOW,
                asset=ENTRIES,
                description="Every entry this run wrote starts inside its window.",
            ),
            dg.AssetCheckSpec(
                CHECK_ROW_COUNT,
                asset=ENTRIES,
                description="The window holds exactly as many entries as Toggl returned for it.",
            ),
        ],
    )
    def toggl_entries(
        context: dg.AssetExecutionContext, toggl: TogglResource, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """Time entries of all users of the workspace, one partition per day of their start in
        TOGGL_TIMEZONE (raw.toggl_entries). A run over a range is one API session and one transaction."""
        window = context.partition_time_window
        first_day, last_day = days_of_window(window.start, window.end)
        context.log.info(f"Syncing entries {first_day} .. {last_day} ({window.start} .. {window.end})")
        synced_at = datetime.now(UTC)
        with warehouse.connection() as conn:
            stage = EntryStaging(conn, schema=warehouse.raw_schema)
            try:
                with toggl.client(context.log) as client:
                    before = copy.deepcopy(client.stats)
                    try:
                        fetched = 0
                        fetch_started = time.perf_counter()
                        staging_seconds = 0.0  # COPY into the stage, inside the fetch loop
                        for page_number, page in enumerate(
                            client.iter_entry_pages(first_day - FETCH_MARGIN, last_day + FETCH_MARGIN), 1
                        ):
                            page_started = time.perf_counter()
                            stage.add(page)
                            staging_seconds += time.perf_counter() - page_started
                            fetched += len(page)
                            context.log.info(f"page {page_number}: {fetched} entries fetched")
                        # Whether the report lists running entries is undocumented: ask for the token user's
                        # running entry when the window reaches today (one request, not on past-day runs).
                        if window.end > synced_at:
                            running = client.current_entry()
                            if running is not None:
                                stage.add([running])
                    except TogglError as error:
                        raise dg.Failure(description=str(error), allow_retries=False) from None
                    usage = api_usage_metadata(client.stats, before)
                    fetching_seconds = time.perf_counter() - fetch_started - staging_seconds
                merge_started = time.perf_counter()
                with conn.transaction():
                    stats = stage.merge_window(window.start, window.end, synced_at=synced_at)
                    in_window = checks.window_row_count(conn, warehouse.raw_schema, window.start, window.end)
                    stray = checks.entries_synced_outside_window(
                        conn, warehouse.raw_schema, window.start, window.end, synced_at
                    )
                    preview = checks.window_preview(conn, warehouse.raw_schema, window.start, window.end)
                merging_seconds = time.perf_counter() - merge_started
            finally:
                stage.close()
        context.log.info(f"{ENTRIES} {first_day}..{last_day}: {stats}")
        metadata = {
            **usage,
            **load_metadata(stats),
            "window": dg.MetadataValue.text(f"{first_day} .. {last_day} ({window.start.tzinfo})"),
            "dagster/row_count": dg.MetadataValue.int(in_window),
            # Where the step's time went: API + parsing, COPY into the stage, the merge transaction.
            "seconds_fetching": dg.MetadataValue.float(round(fetching_seconds, 3)),
            "seconds_staging": dg.MetadataValue.float(round(staging_seconds, 3)),
            "seconds_merging": dg.MetadataValue.float(round(merging_seconds, 3)),
            "seconds_loading": dg.MetadataValue.float(round(staging_seconds + merging_seconds, 3)),
            "preview": preview_metadata(
                preview, ("id", "start", "end", "duration_ms", "user_id", "project_id", "description")
            ),
        }
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_WINDOW,
                    passed=stray == 0,
                    metadata={"entries_outside_window": stray},
                ),
                dg.AssetCheckResult(
                    check_name=CHECK_ROW_COUNT,
                    passed=in_window == stats.in_window,
                    metadata={"rows_in_window": in_window, "entries_from_toggl": stats.in_window},
                ),
            ],
        )

    return toggl_entries


@dg.asset_check(asset=ENTRIES, description="Every reference of entries, projects and tasks resolves.")
def foreign_keys_resolve(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        result = checks.foreign_keys_resolve(conn, warehouse.raw_schema)
    return _check_result(result)


@dg.asset_check(asset=ENTRIES, description="No id appears twice in any raw Toggl table.")
def no_duplicate_ids(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        result = checks.no_duplicate_ids(conn, warehouse.raw_schema)
    return _check_result(result)


@dg.asset_check(asset=ENTRIES, description="For stopped entries, end - start equals duration_ms.")
def durations_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.connection() as conn:
        result = checks.durations_consistent(conn, warehouse.raw_schema)
    return _check_result(result)


def _check_result(result: checks.CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=result.passed,
        metadata={"failures": result.failures, "sample": dg.MetadataValue.json(result.sample)},
    )


ENTRY_CHECKS = [foreign_keys_resolve, no_duplicate_ids, durations_consistent]
