"""Ground truth, read in-process: what a perfect sync of the simulated workspaces would hold.

Properties cover every workspace (for one workspace, exactly as before several existed); methods take an
optional ``workspace_id`` (None = all workspaces, except ``report_rate``/``entry`` which find the entry
wherever it lives). ``for_workspace(wid)`` gives a ``Truth`` whose properties cover that workspace only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING, Any

from .control import entries_between, summary
from .serialize import client_json, entry_v9, project_json, tag_json, task_json, workspace_json, workspace_user_json
from .store import Store

if TYPE_CHECKING:
    from .server import App


class Truth:
    """List properties build fresh v9-shaped dicts on every access."""

    def __init__(self, app: App, workspace_id: int | None = None) -> None:
        self._app = app
        self._world = app.world
        self._wid = workspace_id
        self.store = app.world.store(workspace_id)  # the (first) workspace's store, for callers that used it

    def for_workspace(self, workspace_id: int) -> Truth:
        """The same truth restricted to one workspace (KeyError if there is no such workspace)."""
        self._world.store(workspace_id)
        return Truth(self._app, workspace_id)

    def _stores(self, workspace_id: int | None = None) -> list[Store]:
        return self._world.selected(workspace_id if workspace_id is not None else self._wid)

    @property
    def workspace_ids(self) -> list[int]:
        return [s.workspace_id for s in self._stores()]

    @property
    def workspace(self) -> dict[str, Any]:
        """The (first) workspace as the owner sees it."""
        return self.workspaces[0]

    @property
    def workspaces(self) -> list[dict[str, Any]]:
        """Every workspace as the owner sees it (/me/workspaces shape), membership removals ignored."""
        return [workspace_json(s, s.users[s.owner_id]) for s in self._stores()]

    @property
    def organizations(self) -> list[dict[str, Any]]:
        """{id, name, plan, workspace_ids} of every organization."""
        stores = self._stores()
        orgs = dict.fromkeys(s.organization_id for s in stores)
        return [
            {
                "id": o,
                "name": self._world.organizations[o].name,
                "plan": self._world.organizations[o].plan,
                "workspace_ids": [s.workspace_id for s in stores if s.organization_id == o],
            }
            for o in orgs
        ]

    @property
    def users(self) -> list[dict[str, Any]]:
        """Workspace users in /workspace_users shape (``uid``, ``rate``, ``timezone``...) + ``api_token``; one row
        per membership, so a user of two workspaces appears twice (different ``wid``)."""
        return [{**workspace_user_json(s, u), "api_token": u.token} for s in self._stores() for u in s.users.values()]

    @property
    def clients(self) -> list[dict[str, Any]]:
        """All clients, archived included."""
        return [client_json(s, c) for s in self._stores() for c in s.clients.values()]

    @property
    def projects(self) -> list[dict[str, Any]]:
        """Projects listed by /projects?active=both (deleted ones excluded, private included)."""
        return [project_json(s, p) for s in self._stores() for p in s.projects.values() if p.deleted_at is None]

    @property
    def deleted_projects(self) -> list[dict[str, Any]]:
        return [project_json(s, p) for s in self._stores() for p in s.projects.values() if p.deleted_at is not None]

    @property
    def tags(self) -> list[dict[str, Any]]:
        return [tag_json(s, t) for s in self._stores() for t in s.tags.values() if t.deleted_at is None]

    @property
    def deleted_tag_ids(self) -> list[int]:
        return [t.id for s in self._stores() for t in s.tags.values() if t.deleted_at is not None]

    @property
    def tasks(self) -> list[dict[str, Any]]:
        out = []
        for s in self._stores():
            tracked = s.tracked_ms_by_task()
            out += [task_json(s, t, tracked) for t in s.tasks.values()]
        return out

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Live entries (running included) in v9 read shape, ordered by (start, id). Materializes everything:
        for big workspaces prefer ``entry_count`` / ``iter_entries`` / ``entries_between``."""
        return list(self.iter_entries())

    @property
    def entry_count(self) -> int:
        return sum(len(s.entries) for s in self._stores())

    def iter_entries(self, workspace_id: int | None = None) -> Iterator[dict[str, Any]]:
        stores = self._stores(workspace_id)
        with self._world.lock:
            snapshot = [(s, e) for s in stores for e in s.iter_range()]
        if len(stores) > 1:
            snapshot.sort(key=lambda se: (se[1].start, se[1].id))
        for s, e in snapshot:
            yield entry_v9(s, e)

    def entries_between(self, start: date, end: date, workspace_id: int | None = None) -> list[dict[str, Any]]:
        """Live entries whose start falls on UTC days start..end (inclusive)."""
        wid = workspace_id if workspace_id is not None else self._wid
        return entries_between(self._world, start, end, wid)

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        """A live entry wherever it lives (None when deleted or unknown)."""
        s = self._world.store_of_entry(entry_id)
        return None if s is None else entry_v9(s, s.entries[entry_id])

    @property
    def deleted_entry_ids(self) -> set[int]:
        return {i for s in self._stores() for i in s.deleted}

    def report_rate(self, entry_id: int) -> tuple[int | None, str]:
        """(hourly rate in cents, currency) the reports use for this entry, ignoring ``billable``."""
        s = self._world.store_of_entry(entry_id)
        if s is None:
            raise KeyError(entry_id)
        return s.rate_for(s.entries[entry_id])

    def summary(self, workspace_id: int | None = None) -> dict[str, Any]:
        return summary(self._world, workspace_id if workspace_id is not None else self._wid)
