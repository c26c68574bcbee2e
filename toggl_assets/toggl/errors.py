"""Exceptions raised by the Toggl client.

No message built here ever contains the API token: callers pass already-redacted text, and the client never
chains raw ``requests`` exceptions (their text can carry URLs and, in theory, headers). Messages never name the
application's settings either (the client does not know them): the application catches these structured errors
and adds its own hint (which variable to fix).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class TogglError(Exception):
    """Base class of everything the Toggl client raises on purpose; ``endpoint`` is the templated endpoint
    (``GET /api/v9/workspaces/{wid}/clients``) of the request that failed."""

    def __init__(self, endpoint: str, message: str) -> None:
        self.endpoint = endpoint
        super().__init__(message)


class TogglAuthError(TogglError):
    """Toggl refused the credentials (401/403) on an endpoint that is not scoped to a workspace."""

    def __init__(self, status: int, endpoint: str, detail: str | None = None, *, message: str | None = None) -> None:
        self.status = status
        self.detail = detail
        msg = message or (
            f"Toggl refused the API token (HTTP {status} on {endpoint}); "
            "the token is wrong or was reset (Profile settings > API Token in Toggl Track)"
        )
        if detail:
            msg += f". Toggl said: {detail}"
        super().__init__(endpoint, msg)


class TogglWorkspaceAccessError(TogglAuthError):
    """401/403 on a workspace-scoped endpoint: the token's user cannot read ``workspace_id`` (not a member,
    membership removed, or a wrong token: Toggl answers the same for all three)."""

    def __init__(self, status: int, endpoint: str, workspace_id: int, detail: str | None = None) -> None:
        self.workspace_id = workspace_id
        super().__init__(
            status,
            endpoint,
            detail,
            message=(
                f"Toggl refused access to workspace {workspace_id} (HTTP {status} on {endpoint}); "
                "the token's user is not a member of it, or the token is wrong"
            ),
        )


class TogglQuotaError(TogglError):
    """The hourly API quota is spent and resets later than the client is allowed to wait."""

    def __init__(
        self,
        *,
        endpoint: str,
        requests_used: int,
        resets_in: float | None,
        now: datetime | None = None,
        bucket: str | None = None,
    ) -> None:
        self.bucket = bucket  # "user", "organization:<id>" or "workspace:<id>" (see RequestStats.quota_by_bucket)
        self.requests_used = requests_used
        self.resets_in = resets_in
        now = now or datetime.now(UTC)
        self.retry_at: datetime | None = None
        if resets_in is None:
            when = "retry later (Toggl did not say when the quota resets)"
        else:
            self.retry_at = now + timedelta(seconds=resets_in)
            minutes = max(1, round(resets_in / 60))
            when = f"retry after {self.retry_at:%H:%M} UTC (in {minutes} min)"
        super().__init__(
            endpoint, f"Toggl API quota exhausted on {endpoint} after {requests_used} request(s) this run; {when}"
        )


class TogglApiError(TogglError):
    """Toggl answered a 4xx that retrying will not fix; ``message`` is Toggl's own explanation."""

    def __init__(self, status: int, endpoint: str, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(endpoint, f"Toggl API error {status} on {endpoint}: {message or '(no message)'}")


class TogglPlanError(TogglApiError):
    """402 without quota headers: the workspace's plan lacks the feature (not retried)."""


class TogglResponseError(TogglError):
    """A 2xx answer whose body is not what the endpoint documents."""

    def __init__(self, endpoint: str, problem: str) -> None:
        self.problem = problem
        super().__init__(endpoint, f"Unexpected Toggl response from {endpoint}: {problem}")


class TogglConnectionError(TogglError):
    """Retries were exhausted on transient failures (network errors, 5xx, 429, unreadable bodies)."""

    def __init__(self, endpoint: str, attempts: int, last_problem: str) -> None:
        self.attempts = attempts
        self.last_problem = last_problem
        super().__init__(endpoint, f"Toggl request {endpoint} failed after {attempts} attempt(s): {last_problem}")
