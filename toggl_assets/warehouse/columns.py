"""What each warehouse column holds: (name, SQL type, description), per table.

Migrations write these descriptions as ``COMMENT ON COLUMN`` (so they are in the database for psql and BI
tools too), and the Dagster assets show them as their column schema.
"""

from __future__ import annotations

SYNCED_AT = ("synced_at", "timestamptz", "When a sync last changed this row.")
PLACEHOLDER = (
    "is_placeholder",
    "boolean",
    "True for a row created only so a reference resolves; the next metadata sync fills it in.",
)
WORKSPACE = ("workspace_id", "bigint", "Toggl workspace (toggl_workspaces.id).")

COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "toggl_workspaces": (
        ("id", "bigint", "Toggl workspace id (global)."),
        ("organization_id", "bigint", "Toggl organization; quotas are counted per user and organization."),
        ("name", "text", "Workspace name."),
        ("default_currency", "text", "Currency of rates without their own."),
        ("default_hourly_rate", "numeric(14,2)", "Workspace's default billable rate."),
        ("rounding", "integer", "Rounding of reports: 0 nearest, 1 up, -1 down."),
        ("rounding_minutes", "integer", "Rounding step of reports, in minutes."),
        ("at", "timestamptz", "Toggl's last modification of the workspace."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_clients": (
        ("id", "bigint", "Toggl client id."),
        WORKSPACE,
        ("name", "text", "Client name."),
        ("is_archived", "boolean", "Archived in Toggl."),
        ("created_at", "timestamptz", "Toggl's last modification (Toggl exposes no creation time)."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        ("notes", "text", "Notes on the client."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_projects": (
        ("id", "bigint", "Toggl project id."),
        WORKSPACE,
        ("client_id", "bigint", "Client of the project (toggl_clients.id), if any."),
        ("name", "text", "Project name."),
        ("color", "text", "Project colour, #rrggbb."),
        ("is_private", "boolean", "Private project."),
        ("is_active", "boolean", "Active (not archived)."),
        ("is_billable", "boolean", "Billable by default."),
        ("created_at", "timestamptz", "Creation time."),
        ("archived_at", "timestamptz", "When archived, if known."),
        ("status", "text", "upcoming, active, ended, archived or deleted."),
        ("rate", "numeric(14,2)", "Project's billable hourly rate."),
        ("currency", "text", "Currency of the project's rate."),
        ("server_deleted_at", "timestamptz", "When deleted in Toggl."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_tags": (
        ("id", "bigint", "Toggl tag id."),
        WORKSPACE,
        ("name", "text", "Tag name."),
        ("created_at", "timestamptz", "Creation time (Toggl's at)."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_users": (
        ("id", "bigint", "Toggl user id (global; the user_id of time entries)."),
        WORKSPACE,
        ("name", "text", "Full name."),
        ("email", "text", "E-mail address."),
        ("is_active", "boolean", "Active member of the workspace."),
        ("is_admin", "boolean", "Workspace admin."),
        ("rate", "numeric(14,2)", "The member's billable hourly rate."),
        ("timezone", "text", "The member's profile time zone."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_tasks": (
        ("id", "bigint", "Toggl task id."),
        WORKSPACE,
        ("name", "text", "Task name."),
        ("project_id", "bigint", "Project of the task (toggl_projects.id)."),
        ("user_id", "bigint", "Assignee, if any."),
        ("is_active", "boolean", "Not done yet."),
        ("estimated_seconds", "bigint", "Estimate, in seconds."),
        ("tracked_ms", "bigint", "Time tracked on the task, in milliseconds."),
        ("rate", "numeric(14,2)", "Task's billable hourly rate."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        SYNCED_AT,
        PLACEHOLDER,
    ),
    "toggl_entries": (
        ("id", "bigint", "Toggl time entry id."),
        WORKSPACE,
        ("project_id", "bigint", "Project (toggl_projects.id), if any."),
        ("task_id", "bigint", "Task (toggl_tasks.id), if any."),
        ("user_id", "bigint", "Who tracked it (toggl_users.id)."),
        ("description", "text", "Description."),
        ("start", "timestamptz", "Start; the entry belongs to the daily partition of this day."),
        ("end", "timestamptz", "Stop; NULL while running."),
        ("duration_ms", "bigint", "Duration in milliseconds; NULL while running."),
        ("is_billable", "boolean", "Billable."),
        ("billable_amount", "numeric(14,2)", "Earnings of the entry, in its currency."),
        ("currency", "text", "Currency of the amount and rate."),
        ("tags", "text[]", "Tag names."),
        ("tag_ids", "bigint[]", "Tag ids (toggl_tags.id)."),
        ("updated_at", "timestamptz", "Toggl's last modification (at)."),
        ("hourly_rate", "numeric(14,2)", "Billable hourly rate applied."),
        SYNCED_AT,
    ),
    "toggl_weekly_summary": (
        ("workspace_id", "bigint", "Toggl workspace."),
        ("week_start", "date", "First day of the week (TOGGL_WEEK_START) in TOGGL_TIMEZONE."),
        ("timezone", "text", "Zone of the days."),
        ("project_id", "bigint", "Project; NULL for entries without one."),
        ("project_name", "text", "Project name."),
        ("client_name", "text", "Client name."),
        ("user_id", "bigint", "User."),
        ("user_name", "text", "User name."),
        ("currency", "text", "Currency of the earnings."),
        *((f"day{i}_ms", "bigint", f"Time tracked on day {i} of the week, in milliseconds.") for i in range(1, 8)),
        ("total_ms", "bigint", "Time tracked in the week, in milliseconds."),
        ("billable_ms", "bigint", "Billable time of the week, in milliseconds."),
        ("earnings", "numeric(14,2)", "Earnings of the week."),
        *((f"day{i}_earnings", "numeric(14,2)", f"Earnings of day {i} of the week.") for i in range(1, 8)),
        ("refreshed_at", "timestamptz", "When the newest of the row's days was last rolled up by a merge."),
    ),
}


def column_docs(table: str) -> tuple[tuple[str, str, str], ...]:
    """The documented columns of ``table`` (empty for an unknown table)."""
    return COLUMNS.get(table, ())
