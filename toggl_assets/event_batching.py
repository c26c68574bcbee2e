"""Dagster's batched event writes, on in every process of the project (set before Dagster emits any event).

Dagster buffers the planned events of a range run, and a range run's materializations (one per partition), into
batches of ``DAGSTER_EVENT_BATCH_SIZE`` events, only when the variable is set in the process that emits them;
unset, each event is its own insert (a two-year backfill: about 20 s, dagster-notes §6.4). 1000 writes the 761
days of a two-year backfill in one batch: each batch is an event insert, a tag insert and an asset-row update.
"""

import os

EVENT_BATCH_SIZE = 1000


def batch_event_writes() -> None:
    """Turn batching on in this process, unless the environment chose a size. Called on import of
    :mod:`toggl_assets.instance_storage` (CLI, webserver, daemon and run workers load it through dagster.yaml)
    and of :mod:`toggl_assets.definitions` (instances that do not use our storage, e.g. ``dg.materialize``)."""
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", str(EVENT_BATCH_SIZE))
