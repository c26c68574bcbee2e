"""Toggl Track HTTP client: v9 metadata lists and Reports v3 detailed entries, parsed into records."""

from toggl_assets.toggl.client import RequestStats, TogglClient
from toggl_assets.toggl.errors import (
    TogglApiError,
    TogglAuthError,
    TogglConnectionError,
    TogglError,
    TogglPlanError,
    TogglQuotaError,
    TogglResponseError,
)

__all__ = [
    "RequestStats",
    "TogglApiError",
    "TogglAuthError",
    "TogglClient",
    "TogglConnectionError",
    "TogglError",
    "TogglPlanError",
    "TogglQuotaError",
    "TogglResponseError",
]
