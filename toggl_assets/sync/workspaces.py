"""Which workspaces a run syncs, and what to tell the user when Toggl refuses one.

``TOGGL_WORKSPACE_ID`` names one workspace or a comma-separated list; unset means every workspace the
token's user belongs to (``GET /me/workspaces``). The client raises structured errors; the hints that name
this application's settings are added here, where those settings belong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from toggl_assets.records import WorkspaceRecord
from toggl_assets.toggl import TogglAuthError, TogglError, TogglWorkspaceAccessError


class WorkspaceSelectionError(TogglError):
    """A configured workspace is not one the token's user belongs to."""


def select_workspaces(available: Sequence[WorkspaceRecord], configured: Sequence[int]) -> list[WorkspaceRecord]:
    """The configured workspaces (in that order), or all ``available`` ones when none is configured."""
    if not configured:
        return sorted(available, key=lambda workspace: workspace.id)
    by_id = {workspace.id: workspace for workspace in available}
    missing = [wid for wid in configured if wid not in by_id]
    if missing:
        visible = ", ".join(str(w.id) for w in sorted(available, key=lambda w: w.id)) or "none"
        raise WorkspaceSelectionError(
            "GET /api/v9/me/workspaces",
            f"workspace {', '.join(map(str, missing))} is not readable with this API token "
            f"(TOGGL_WORKSPACE_ID; the token's workspaces: {visible})",
        )
    return [by_id[wid] for wid in configured]


def diagnose(error: TogglError, token_workspaces: Callable[[], Sequence[WorkspaceRecord]]) -> TogglError:
    """Toggl answers 403 on a workspace both to a wrong token and to a user who is not a member: one request
    to ``GET /me/workspaces`` (made only after such a failure) tells which, so the user fixes the right thing."""
    if not isinstance(error, TogglWorkspaceAccessError):
        return error
    try:
        available = token_workspaces()
    except TogglAuthError as token_refused:
        return token_refused
    except TogglError:
        return error  # cannot tell: keep the original, which names both causes
    if any(workspace.id == error.workspace_id for workspace in available):
        return error
    try:
        select_workspaces(available, [error.workspace_id])
    except WorkspaceSelectionError as not_a_member:
        return not_a_member
    return error


def explain(error: TogglError) -> str:
    """One line for the user: the client's message plus which setting to check."""
    message = " ".join(str(error).split())
    if isinstance(error, TogglWorkspaceAccessError):
        return (
            f"{message} — workspace {error.workspace_id} cannot be read with this API token; "
            "check TOGGL_WORKSPACE_ID (or your membership of that workspace)"
        )
    if isinstance(error, TogglAuthError):
        return f"{message} — check TOGGL_API_TOKEN"
    return message
