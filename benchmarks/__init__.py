"""Benchmarks of toggl_assets: ``./run bench`` (``python -m benchmarks``). See ``benchmarks/RESULTS.md``."""
