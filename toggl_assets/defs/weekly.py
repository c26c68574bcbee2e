"""The weekly summary: Toggl's weekly report numbers computed inside PostgreSQL from ``raw.toggl_entries``."""

import base64
import io
from datetime import date, timedelta

import dagster as dg
import pandas as pd

from toggl_assets.defs.entries import ENTRIES
from toggl_assets.defs.partitions import TogglPartitions
from toggl_assets.defs.resources import WarehouseResource
from toggl_assets.warehouse.weekly import refresh_weekly_summaries, weekly_hours_by_project

WEEKLY = "toggl_weekly_summary"

# Refresh any week whose daily entry partitions were (re)materialized, not only the newest one as
# AutomationCondition.eager() would: backfills and late re-syncs of old days must reach their weeks too.
WEEKLY_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("entries of the week re-synced")


def hours_table_markdown(frame: pd.DataFrame) -> str:
    """Markdown table of hours per project (rows) and day (columns), with a total column."""
    header = "| project | " + " | ".join(frame.columns) + " |"
    rule = "|---|" + "---:|" * len(frame.columns)
    lines = [header, rule]
    for project, row in frame.iterrows():
        lines.append(f"| {project} | " + " | ".join(f"{value:.2f}" for value in row) + " |")
    return "\n".join(lines)


def hours_chart_png(frame: pd.DataFrame, title: str) -> bytes:
    """A stacked bar chart of hours per day and project, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    days = frame.drop(columns=["total"]).T
    figure, axes = plt.subplots(figsize=(7, 3.2), dpi=80)
    if not days.empty and days.to_numpy().sum() > 0:
        days.plot.bar(stacked=True, ax=axes, legend=len(days.columns) <= 12)
    axes.set_ylabel("hours")
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def week_frame(rows: list[tuple[str, int, float]], week_start: date) -> pd.DataFrame:
    """Pivot (project, day index, hours) rows into a projects-by-days table plus a total."""
    columns = [(week_start + timedelta(days=i)).strftime("%a %d") for i in range(7)]
    frame = pd.DataFrame(0.0, index=sorted({row[0] for row in rows}), columns=columns)
    for project, day_index, hours in rows:
        frame.iloc[frame.index.get_loc(project), day_index] += hours
    frame["total"] = frame.sum(axis=1)
    return frame


def build_weekly_asset(partitions: TogglPartitions, timezone: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=WEEKLY,
        group_name="toggl_reports",
        kinds={"postgres"},
        partitions_def=partitions.weekly,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep(ENTRIES, partition_mapping=dg.TimeWindowPartitionMapping())],
        automation_condition=WEEKLY_AUTOMATION,
        metadata={"table": "analytics.toggl_weekly_summary"},
    )
    def toggl_weekly_summary(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Per week, project and user: seven daily durations, the week total, billable time and earnings,
        computed in SQL from raw.toggl_entries into analytics.toggl_weekly_summary. No API calls."""
        weeks = [date.fromisoformat(key) for key in context.partition_keys]
        with warehouse.connection() as conn:
            with conn.transaction():
                total_rows = refresh_weekly_summaries(
                    conn,
                    weeks,
                    timezone,
                    raw_schema=warehouse.raw_schema,
                    analytics_schema=warehouse.analytics_schema,
                )
            newest = weeks[-1]
            frame = week_frame(
                weekly_hours_by_project(conn, newest, analytics_schema=warehouse.analytics_schema), newest
            )
        chart = base64.b64encode(hours_chart_png(frame, f"Hours, week of {newest}")).decode()
        context.log.info(f"{WEEKLY}: {len(weeks)} week(s), {total_rows} rows")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(total_rows),
                "weeks": dg.MetadataValue.int(len(weeks)),
                "hours_by_project": dg.MetadataValue.md(
                    f"**Week of {newest}** (hours)\n\n{hours_table_markdown(frame)}"
                    f"\n\n![hours per day](data:image/png;base64,{chart})"
                ),
                "week_total_hours": dg.MetadataValue.float(round(float(frame["total"].sum()), 2)),
            }
        )

    return toggl_weekly_summary
