"""Syncing, in plain Python: how the Toggl client and the warehouse are combined, testable without Dagster.

- :mod:`.window` replaces one workspace's entries of one time window with Toggl's;
- :mod:`.history` finds the days of synced history that differ from Toggl and repairs them;
- :mod:`.workspaces` decides which workspaces a run syncs.

The Dagster assets in :mod:`toggl_assets.orchestration` only call these functions and report what they return.
"""
