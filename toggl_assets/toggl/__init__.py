"""Toggl Track HTTP client: v9 metadata lists and Reports v3 entries and totals, decoded into records."""

from toggl_assets.toggl.client import DEFAULT_BASE_URL, MAX_REPORT_SPAN_DAYS, RequestStats, TogglClient
from toggl_assets.toggl.errors import (
    TogglApiError,
    TogglAuthError,
    TogglConnectionError,
    TogglError,
    TogglPlanError,
    TogglQuotaError,
    TogglResponseError,
    TogglWorkspaceAccessError,
)
from toggl_assets.toggl.quota import QuotaSeen

__all__ = [
    "DEFAULT_BASE_URL",
    "MAX_REPORT_SPAN_DAYS",
    "QuotaSeen",
    "RequestStats",
    "TogglApiError",
    "TogglAuthError",
    "TogglClient",
    "TogglConnectionError",
    "TogglError",
    "TogglPlanError",
    "TogglQuotaError",
    "TogglResponseError",
    "TogglWorkspaceAccessError",
]
