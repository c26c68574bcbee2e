"""toggl_assets: a PostgreSQL copy of a Toggl Track workspace, kept by Dagster software-defined assets."""

__version__ = "0.1.0"
