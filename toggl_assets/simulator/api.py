"""Every endpoint's route, gathered from the modules that implement them (one module per area):

* ``v9_me``: ``/me``, ``/me/workspaces``, ``/me/organizations``, ``/me/quota``, ``/me/time_entries*``;
* ``v9_workspace``: ``/workspaces/{wid}`` and its clients, projects, tags, tasks and users;
* ``v9_entries``: time-entry writes;
* ``reports``: Reports v3 detailed search and totals.

To add an endpoint, write its handler in the module of its area and register it there. Handlers are pure
functions of a ``Ctx`` to a ``Reply``; ``server.py`` does transport, auth, workspace access, quotas and
faults before calling them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import reports, v9_entries, v9_workspace
from .config import SimulatorConfig
from .store import User
from .v9_me import MeApi
from .wire import Route, Router
from .world import World


class Api:
    def __init__(
        self, world: World, config: SimulatorConfig, quota_info: Callable[[User], list[dict[str, Any]]]
    ) -> None:
        self.router = Router()
        MeApi(world, config, quota_info).register(self.router)
        v9_workspace.register(self.router)
        v9_entries.register(self.router, world)
        reports.register(self.router, config)

    @property
    def routes(self) -> list[Route]:
        return self.router.routes

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_exists_with_other_method)."""
        return self.router.match(method, path)
