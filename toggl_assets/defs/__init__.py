"""Dagster wiring: thin modules that connect the Toggl client (``toggl_assets.toggl``) to the warehouse
(``toggl_assets.warehouse``). Each module builds its definitions from ``Settings`` so tests can use other
time zones and start dates."""
