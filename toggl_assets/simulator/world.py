"""Every simulated workspace, their organizations and who may read what.

Workspaces are separate ``Store``s sharing one lock, one clock and the id sources, so ids stay globally
unique (toggl-api.md §3.5) and a request touching several workspaces (``/me/time_entries``) sees one state.
A user who belongs to several workspaces has one ``User`` record per workspace with the same identity (id,
email, token, zone) and that workspace's membership data (rate, admin, active, workspace-user id).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .store import Entry, IdSource, Store, User


@dataclass
class Organization:
    id: int
    key: int  # WorkspaceSpec.organization
    name: str
    plan: str
    created_at: int


class World:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.entry_ids = IdSource()
        self.tag_ids = IdSource()
        self.stores: dict[int, Store] = {}  # by workspace id, the default workspace first
        self.organizations: dict[int, Organization] = {}

    def new_store(self) -> Store:
        return Store(self.clock, self.lock, self.entry_ids, self.tag_ids)

    def add(self, store: Store) -> None:
        self.stores[store.workspace_id] = store

    @property
    def first(self) -> Store:
        return next(iter(self.stores.values()))

    @property
    def owner_id(self) -> int:
        return self.first.owner_id

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ who is who
    def user_by_token(self, token: str) -> User | None:
        return next((u for s in self.stores.values() if (u := s.user_by_token(token)) is not None), None)

    def user_by_login(self, email: str, password: str) -> User | None:
        return next((u for s in self.stores.values() if (u := s.user_by_login(email, password)) is not None), None)

    def readable(self, user_id: int) -> list[Store]:
        """Workspaces the user may read, the default one first."""
        return [s for s in self.stores.values() if s.can_read(user_id)]

    def readable_store(self, workspace_id: int, user_id: int) -> Store | None:
        store = self.stores.get(workspace_id)
        return store if store is not None and store.can_read(user_id) else None

    def home(self, user_id: int) -> Store:
        """The user's default workspace: the first readable one, else the first they belong to."""
        readable = self.readable(user_id)
        if readable:
            return readable[0]
        return next((s for s in self.stores.values() if user_id in s.users), self.first)

    def organizations_of(self, user_id: int) -> list[Organization]:
        ids = dict.fromkeys(s.organization_id for s in self.readable(user_id))
        return [self.organizations[i] for i in ids]

    def store(self, workspace_id: int | None) -> Store:
        """The workspace with this id (None = the default workspace). KeyError if unknown."""
        return self.first if workspace_id is None else self.stores[workspace_id]

    def selected(self, workspace_id: int | None) -> list[Store]:
        """One workspace, or all of them for None."""
        return list(self.stores.values()) if workspace_id is None else [self.store(workspace_id)]

    # ------------------------------------------------------------------ entries across workspaces
    def store_of_entry(self, entry_id: int) -> Store | None:
        return next((s for s in self.stores.values() if entry_id in s.entries), None)

    def running(self, user_id: int) -> tuple[Store, Entry] | None:
        """The user's running entry, in whichever workspace it runs."""
        for s in self.stores.values():
            rid = s.running.get(user_id)
            if rid is not None:
                return s, s.entries[rid]
        return None

    def stop_running_elsewhere(self, store: Store, user_id: int, at: int) -> None:
        """One timer per user across workspaces: starting one stops the user's timer in other workspaces."""
        for other in self.stores.values():
            rid = other.running.get(user_id)
            if other is not store and rid is not None:
                old = other.entries[rid]
                other.update_entry(rid, stop=max(old.start, at))

    def iter_entries(self, workspace_id: int | None, lo: int | None = None, hi: int | None = None) -> Iterator[Entry]:
        """Live entries with lo <= start < hi, in (start, id) order over the selected workspaces."""
        stores = self.selected(workspace_id)
        if len(stores) == 1:
            return stores[0].iter_range(lo, hi)
        merged = [e for s in stores for e in s.iter_range(lo, hi)]
        merged.sort(key=lambda e: (e.start, e.id))
        return iter(merged)

    # ------------------------------------------------------------------ membership
    def set_membership(self, workspace_id: int, user_id: int, member: bool) -> None:
        """Remove (or give back) a member's access to a workspace; their entries stay in it."""
        store = self.stores[workspace_id]
        if user_id not in store.users:
            raise KeyError(user_id)
        with self.lock:
            if member:
                store.revoked.discard(user_id)
            else:
                store.revoked.add(user_id)
