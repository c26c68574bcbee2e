"""Dagster wiring: thin modules that connect the Toggl client (``toggl_assets.toggl``) to the warehouse
(``toggl_assets.warehouse``). Each module builds its definitions from ``Settings`` so tests can use other
time zones and start dates."""

import warnings

import dagster as dg

# BackfillPolicy.single_run() is what keeps a backfill to one run; its "beta" label is not news to users.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*backfill_policy.*")
