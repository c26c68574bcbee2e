"""The weekly summary: Toggl's weekly report numbers, computed inside PostgreSQL from the synced entries (a view
over the daily rollup the entries merges keep current).

Each weekly partition carries its own rows, hours, earnings and chart. The automation condition refreshes
any week whose daily entry partitions were (re)materialized, including old weeks repaired by the history
reconciliation, not only the newest week as ``AutomationCondition.eager()`` would.
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

from toggl_assets.orchestration.common import AssetStyle
from toggl_assets.orchestration.entries import ENTRIES
from toggl_assets.orchestration.metadata import ROW_COUNT
from toggl_assets.orchestration.partitions import TogglPartitions
from toggl_assets.orchestration.resources import WarehouseResource
from toggl_assets.report_chart import day_totals_svg, week_chart_svg
from toggl_assets.warehouse.history import warehouse_workspace_ids
from toggl_assets.warehouse.overview import WeekOverview, week_figures, weekly_totals_mismatches
from toggl_assets.warehouse.rollup import Calendar
from toggl_assets.warehouse.weekly import prepare_weekly_summaries

WEEKLY = "toggl_weekly_summary"
CHECK_TOTALS = "totals_equal_entries"
NO_PROJECT = "(no project)"

WEEKLY_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("entries of the week re-synced")


@dataclass(frozen=True)
class WeekTable:
    """A week's hours per project (rows, "(no project)" last, as the CLI's report) and day (``days``, labelled
    "Mon 16")."""

    days: list[str]
    rows: list[tuple[str, list[float]]]

    def day_totals(self) -> list[float]:
        return [sum((row[day] for _, row in self.rows), 0.0) for day in range(len(self.days))]


def week_tables(overviews: dict[date, WeekOverview]) -> dict[date, WeekTable]:
    """Per week, its :class:`WeekTable`: one pivot over all the weeks (a per-week pivot cost ~10 ms a week in a
    backfill), then plain lists (per-week DataFrame operations cost ~2 ms a week more)."""
    # Imported here: pandas is a quarter of a second of every process that loads the definitions (the code server,
    # each run worker), and only this step uses it.
    import pandas as pd

    records = [(week, name or NO_PROJECT, day, hours) for week, o in overviews.items() for name, day, hours in o.hours]
    table = pd.DataFrame(records, columns=["week", "project", "day", "hours"]).pivot_table(
        index=["week", "project"], columns="day", values="hours", aggfunc="sum", fill_value=0.0
    )
    table = table.reindex(columns=range(7), fill_value=0.0)
    by_week: dict[date, dict[str, list[float]]] = {}
    for (week, project), hours in zip(table.index, table.to_numpy().tolist(), strict=True):
        by_week.setdefault(week, {})[project] = hours
    tables = {}
    for week in overviews:
        rows = by_week.get(week, {})
        named = sorted((p for p in rows if p != NO_PROJECT), key=str.casefold)
        order = named + ([NO_PROJECT] if NO_PROJECT in rows else [])
        days = [(week + timedelta(days=i)).strftime("%a %d") for i in range(7)]
        tables[week] = WeekTable(days, [(project, rows[project]) for project in order])
    return tables


def hours_table_markdown(table: WeekTable) -> str:
    lines = ["| project | " + " | ".join([*table.days, "total"]) + " |", "|---|" + "---:|" * (len(table.days) + 1)]
    for project, hours in table.rows:
        lines.append(f"| {project} | " + " | ".join(f"{value:.2f}" for value in [*hours, sum(hours)]) + " |")
    return "\n".join(lines)


def _deps(*columns: str) -> list[dg.TableColumnDep]:
    """``"asset.column"`` references as column dependencies."""
    return [dg.TableColumnDep(dg.AssetKey(c.split(".")[0]), c.split(".")[1]) for c in columns]


def column_lineage() -> dg.TableColumnLineage:
    """Where each column of the summary comes from (``dagster/column_lineage``, shown by the UI)."""
    duration = _deps("toggl_entries.start", "toggl_entries.duration_ms")
    money = _deps("toggl_entries.start", "toggl_entries.billable_amount")
    deps: dict[str, list[dg.TableColumnDep]] = {
        "workspace_id": _deps("toggl_entries.workspace_id"),
        "week_start": _deps("toggl_entries.start"),
        "project_id": _deps("toggl_entries.project_id"),
        "project_name": _deps("toggl_entries.project_id", "toggl_projects.name"),
        "client_name": _deps("toggl_projects.client_id", "toggl_clients.name"),
        "user_id": _deps("toggl_entries.user_id"),
        "user_name": _deps("toggl_entries.user_id", "toggl_users.name"),
        "currency": _deps("toggl_entries.currency"),
        "total_ms": duration,
        "billable_ms": [*duration, *_deps("toggl_entries.is_billable")],
        "earnings": money,
    }
    for day in range(1, 8):
        deps[f"day{day}_ms"] = duration
        deps[f"day{day}_earnings"] = money
    return dg.TableColumnLineage(deps_by_column=deps)


def _svg_markdown(alt: str, svg: str) -> str:
    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"


LINEAGE = "dagster/column_lineage"
COLUMN_LINEAGE = dg.MetadataValue.column_lineage(column_lineage())


def week_metadata(week: date, overview: WeekOverview, table: WeekTable) -> dict[str, dg.MetadataValue]:
    """A week's own figures, its charts and its table (``table``: from :func:`week_tables`)."""
    chart = _svg_markdown(
        f"hours per day, week of {week}", week_chart_svg(f"Hours per day, week of {week}", table.days, table.rows)
    )
    day_totals = table.day_totals()
    metadata: dict[str, dg.MetadataValue] = {
        ROW_COUNT: dg.MetadataValue.int(overview.rows),
        "hours": dg.MetadataValue.float(round(sum((sum(hours) for _, hours in table.rows), 0.0), 2)),
        "hours_per_day": dg.MetadataValue.md(_svg_markdown("hours per day", day_totals_svg(table.days, day_totals))),
        "chart": dg.MetadataValue.md(chart),  # by project, with its legend: "Show Markdown"
        "hours_by_project": dg.MetadataValue.md(hours_table_markdown(table)),
    }
    for currency, amount in sorted(overview.earnings.items()):
        metadata[f"earnings_{currency or 'none'}"] = dg.MetadataValue.float(float(amount))
    return metadata


def build_weekly_asset(
    partitions: TogglPartitions, style: AssetStyle, timezone: str, week_start: int
) -> dg.AssetsDefinition:
    calendar = Calendar(timezone, week_start)  # the partitions' own: TOGGL_TIMEZONE, TOGGL_WEEK_START

    @dg.asset(
        name=WEEKLY,
        partitions_def=partitions.weekly,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep(ENTRIES, partition_mapping=dg.TimeWindowPartitionMapping())],
        automation_condition=WEEKLY_AUTOMATION,
        check_specs=[
            dg.AssetCheckSpec(CHECK_TOTALS, asset=WEEKLY, description="Each week's total equals its entries'.")
        ],
        **style.report_asset(WEEKLY),
    )
    def toggl_weekly_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Per workspace, week, project and user: seven daily durations, the week total, billable time and
        earnings: a view over the daily rollup that every entries merge keeps current, so it is never stale.
        Materializing a week records its figures and checks them against the entries. No API calls."""
        weeks = [date.fromisoformat(key) for key in context.partition_keys]
        with warehouse.connection() as conn, warehouse.connection() as other:
            with conn.transaction():
                rebuilt = prepare_weekly_summaries(
                    conn,
                    calendar,
                    workspace_ids=warehouse_workspace_ids(conn, warehouse.raw_schema),
                    raw_schema=warehouse.raw_schema,
                )
            if rebuilt:
                context.log.info(f"rebuilt the daily rollup of workspace(s) {rebuilt} for {calendar}")
            # The week's figures and the entries' totals of the check, read side by side from one snapshot.
            overviews, entry_totals = week_figures(
                conn, other, weeks, calendar.timezone, raw_schema=warehouse.raw_schema
            )
        mismatches = weekly_totals_mismatches(overviews, entry_totals)
        total_rows = sum(o.rows for o in overviews.values())
        tables = week_tables(overviews)
        for week in weeks:
            metadata = week_metadata(week, overviews[week], tables[week])
            context.add_asset_metadata(metadata, partition_key=week.isoformat())
        # The same for every week (6 kB): once per run, on its last week, the asset's latest materialization.
        context.add_asset_metadata({LINEAGE: COLUMN_LINEAGE}, partition_key=weeks[-1].isoformat())
        context.log.info(f"{WEEKLY}: {len(weeks)} week(s), {total_rows} rows")
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_TOTALS,
                    passed=not mismatches,
                    metadata={"weeks_checked": len(weeks), "mismatches": dg.MetadataValue.json(mismatches[:10])},
                )
            ]
        )

    return toggl_weekly_summary


def weekly_keys_covering(partitions: TogglPartitions, days: Sequence[date]) -> tuple[str, str] | None:
    """First and last weekly partition keys whose weeks contain any of ``days``."""
    if not days:
        return None
    keys = partitions.weekly.get_partition_keys()
    first, last = min(days), max(days)
    covering = [k for k in keys if date.fromisoformat(k) <= last and date.fromisoformat(k) + timedelta(6) >= first]
    return (covering[0], covering[-1]) if covering else None
