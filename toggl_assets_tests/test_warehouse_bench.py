"""Throughput of COPY + merge for 200,000 synthetic entries (printed, not asserted). Run with --slow -s."""

from __future__ import annotations

import pytest

from toggl_assets.warehouse.bench import describe, run


@pytest.mark.slow
def test_copy_and_merge_throughput(warehouse_url: str) -> None:
    result = run(warehouse_url, 200_000)
    print("\n" + describe(result))
